import { posix } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { matchExportPaths, validateDevicePath } from "./device-path.js";
import { devicePathArb, segmentArb } from "./test-support/arbitraries.js";

const codes = (path: string, allowedRoots?: readonly string[]) =>
  validateDevicePath(path, allowedRoots ? { allowedRoots } : {}).map((issue) => issue.code);

/** Paths built from the pieces that escape roots: dots, doubled slashes, lookalike roots, stars. */
const trickyPathArb = fc
  .array(
    fc.constantFrom(
      "/",
      "//",
      ".",
      "..",
      "...",
      "data",
      "cache",
      "data2",
      "dat",
      "system",
      "*",
      "a",
      "~",
      "-",
      ".a",
    ),
    { minLength: 1, maxLength: 10 },
  )
  .map((pieces) => pieces.join(""));

/** Where a path resolves to, read the way a POSIX shell or kernel would. */
function resolvesInside(path: string, roots: readonly string[]): boolean {
  // A trailing `*` matches names that start with the rest: it is inside when that prefix's directory is.
  const literal = path.endsWith("*") ? path.slice(0, -1) : path;
  const directoryOnly = path.endsWith("*") && !literal.endsWith("/");
  const resolved = posix.normalize(directoryOnly ? posix.dirname(literal) : literal);
  return roots.some((root) => resolved === root || resolved.startsWith(`${root}/`));
}

describe("validateDevicePath", () => {
  test.prop([devicePathArb])("every generated path under /data or /cache is accepted", (path) => {
    expect(validateDevicePath(path)).toEqual([]);
  });

  test.prop([
    fc.oneof(
      trickyPathArb,
      fc.tuple(devicePathArb, trickyPathArb).map(([path, tail]) => `${path}${tail}`),
    ),
  ])("no accepted path resolves outside the allowed roots", (path) => {
    if (validateDevicePath(path).length === 0) expect(resolvesInside(path, ["/data", "/cache"])).toBe(true);
  });

  test.prop([
    fc.array(segmentArb, { minLength: 1, maxLength: 4 }),
    fc.constantFrom(["/sdcard"], ["/data/media", "/mnt/"]),
  ])("configured roots replace the defaults, and paths outside them are refused", (segments, roots) => {
    const root = roots[0]!.replace(/\/$/, "");
    const inside = `${root}/${segments.join("/")}`;
    expect(codes(inside, roots)).toEqual([]);
    expect(
      resolvesInside(
        inside,
        roots.map((r) => r.replace(/\/$/, "")),
      ),
    ).toBe(true);
    expect(codes(`/system/${segments.join("/")}`, roots)).toEqual(["path_outside_roots"]);
  });

  it("takes a root itself, with or without a trailing slash or star after the slash", () => {
    for (const path of ["/data", "/data/", "/data/*", "/cache", "/cache/", "/cache/*", "/data/app*"]) {
      expect(codes(path)).toEqual([]);
    }
  });

  it("does not take lookalikes of a root as inside it", () => {
    for (const path of ["/data*", "/datax", "/data2/app", "/cache*", "/cacheable", "/", "/dat", "//data"]) {
      expect(codes(path)).toEqual(["path_outside_roots"]);
    }
  });

  it("refuses . and .. segments wherever they are, but not names that merely contain dots", () => {
    for (const path of [
      "/data/..",
      "/data/../system",
      "/data/./app",
      "/data/app/.",
      "/cache/a/../../etc",
      "/data/..*",
    ]) {
      expect(codes(path)).toEqual(["path_dot_segment"]);
    }
    for (const path of ["/data/...", "/data/.hidden", "/data/a..b", "/data/..x", "/data/.*"]) {
      expect(codes(path)).toEqual([]);
    }
  });

  it("allows * only as the last character", () => {
    expect(codes("/data/a*")).toEqual([]);
    expect(codes("/data/*/a")).toEqual(["path_wildcard_position"]);
    expect(codes("/data/**")).toEqual(["path_wildcard_position"]);
  });

  it("counts UTF-8 bytes, not UTF-16 units, against the 4096 limit", () => {
    expect(codes(`/data/${"a".repeat(4090)}`)).toEqual([]);
    expect(codes(`/data/${"a".repeat(4091)}`)).toEqual(["path_too_long"]);
    // 2052 UTF-16 units, 4098 bytes.
    expect(codes(`/data/${"é".repeat(2046)}`)).toEqual(["path_charset", "path_too_long"]);
    // 2052 UTF-16 units, 4098 bytes, in surrogate pairs.
    expect(codes(`/data/${"😀".repeat(1023)}`)).toEqual(["path_charset", "path_too_long"]);
  });

  it("reports what is wrong in words a person can act on", () => {
    const [charset] = validateDevicePath("/data/my app\u0001");
    expect(charset?.message).toContain("a space");
    expect(charset?.message).toContain("a control character (U+0001)");
    const [outside] = validateDevicePath("/system/app");
    expect(outside?.message).toBe(
      '"/system/app" is outside /data or /cache; only paths under those can be exported',
    );
    expect(codes("")).toEqual(["path_empty"]);
    expect(codes("data/app")).toEqual(["path_not_absolute"]);
  });
});

/** True when `part` appears in `whole` in the same order (a subsequence). */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let cursor = 0;
  for (const item of whole) if (cursor < part.length && item === part[cursor]) cursor++;
  return cursor === part.length;
}

const fileArb = fc
  .tuple(
    fc.constantFrom("/data", "/cache"),
    fc.array(fc.constantFrom("app", "apps", "app2", "a", "b", "x.apk"), { minLength: 0, maxLength: 4 }),
  )
  .map(([root, segments]) => [root, ...segments].join("/"));
const patternArb = fc.oneof(
  fileArb,
  fileArb.map((file) => `${file}*`),
  fileArb.map((file) => `${file}/`),
);

describe("matchExportPaths", () => {
  test.prop([
    fc.array(fileArb, { maxLength: 20 }),
    fc.array(patternArb, { maxLength: 4 }),
    fc.array(patternArb, { maxLength: 4 }),
  ])("the result is a subset of the input, in input order", (files, include, exclude) => {
    expect(isSubsequence(matchExportPaths(files, include, exclude), files)).toBe(true);
  });

  test.prop([
    fc.array(fileArb, { maxLength: 20 }),
    fc.array(patternArb, { maxLength: 4 }),
    fc.array(patternArb, { maxLength: 4 }),
  ])(
    "exclude always wins: nothing an exclude pattern takes on its own is in the result",
    (files, include, exclude) => {
      const taken = new Set(matchExportPaths(files, include, exclude));
      const excluded = matchExportPaths(files, exclude);
      for (const file of excluded) expect(taken.has(file)).toBe(false);
      // And everything else the includes take is kept.
      const expected = matchExportPaths(files, include).filter((file) => !excluded.includes(file));
      expect([...taken].sort()).toEqual([...new Set(expected)].sort());
    },
  );

  test.prop([fc.array(fileArb, { minLength: 1, maxLength: 20 }), fc.array(patternArb, { maxLength: 4 })])(
    "excluding a file that would be taken removes it",
    (files, include) => {
      for (const file of matchExportPaths(files, include)) {
        expect(matchExportPaths(files, include, [file])).not.toContain(file);
      }
    },
  );

  test.prop([fc.array(segmentArb, { minLength: 1, maxLength: 3 }), segmentArb])(
    "a directory takes what is below it, not its siblings that share a prefix",
    (segments, child) => {
      const directory = `/data/${segments.join("/")}`;
      const files = [
        directory,
        `${directory}/${child}`,
        `${directory}/${child}/deeper`,
        `${directory}s`,
        `${directory}-old/x`,
      ];
      expect(matchExportPaths(files, [directory])).toEqual(files.slice(0, 3));
      expect(matchExportPaths(files, [`${directory}/`])).toEqual(files.slice(0, 3));
    },
  );

  test.prop([fc.array(segmentArb, { minLength: 1, maxLength: 3 }), fc.array(fileArb, { maxLength: 10 })])(
    "a trailing * takes every file that starts with the rest of the pattern",
    (segments, others) => {
      const prefix = `/data/${segments.join("/")}`;
      const files = [...others, `${prefix}`, `${prefix}x`, `${prefix}/y`];
      expect(matchExportPaths(files, [`${prefix}*`])).toEqual(
        files.filter((file) => file.startsWith(prefix)),
      );
    },
  );

  it("follows the official example: exclude the com.xx.xx-* app directories", () => {
    const files = [
      "/data/app/com.xx.xx-1/base.apk",
      "/data/app/com.other-1/base.apk",
      "/data/local/tmp/a",
      "/data/media/0/DCIM/a.jpg",
      "/data/system/packages.xml",
      "/cache/recovery/log",
    ];
    expect(
      matchExportPaths(files, ["/data/app", "/data/local", "/data/media"], ["/data/app/com.xx.xx-*"]),
    ).toEqual(["/data/app/com.other-1/base.apk", "/data/local/tmp/a", "/data/media/0/DCIM/a.jpg"]);
  });

  it("takes nothing without include patterns and accepts any iterable", () => {
    expect(matchExportPaths(["/data/a"], [])).toEqual([]);
    expect(matchExportPaths(new Set(["/data/a", "/data/b"]), ["/data"], ["/data/b"])).toEqual(["/data/a"]);
  });
});
