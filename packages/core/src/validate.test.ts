import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { utf8Length } from "./bytes.js";
import type { IssueCode, ValidationIssue, ValidationResult } from "./issues.js";
import { LIMITS } from "./limits.js";
import { validateBucketName, validateObjectPath } from "./obs.js";
import { buildBatchExportRequest } from "./request.js";
import type { BatchExportRequest, StorageInfo } from "./schemas.js";
import {
  badCharArb,
  batchExportRequestArb,
  bucketNameArb,
  multiByteCharArb,
  storageInfoArb,
  storageInfosArb,
} from "./test-support/arbitraries.js";
import { validateBatchExportRequest, validateBatchImportRequest, validateStorageInfo } from "./validate.js";

/** What a targeted mutation must produce: its own code at its exact path (and maybe a known companion). */
interface Expectation {
  path: string;
  code: IssueCode;
  /** Codes that may also appear at the same path, e.g. a charset issue beside a byte-length one. */
  companions?: IssueCode[];
}

type Mutation = (request: BatchExportRequest, index: number) => Expectation;

function at(index: number, field: string): string {
  return `storage_infos[${index}].${field}`;
}

/** A path with any trailing `*` and `/` removed, so that something can be appended after it. */
function stem(path: string): string {
  return path.replace(/\*$/, "").replace(/\/+$/, "");
}

/** The include or exclude path a mutation targets, chosen by `pick`. */
function targetPath(
  info: StorageInfo,
  pick: number,
): { key: "include_files" | "exclude_files"; position: number } {
  const exclude = info.exclude_files ?? [];
  const total = info.include_files.length + exclude.length;
  const slot = pick % total;
  return slot < info.include_files.length
    ? { key: "include_files", position: slot }
    : { key: "exclude_files", position: slot - info.include_files.length };
}

function replacePath(
  request: BatchExportRequest,
  index: number,
  pick: number,
  change: (path: string) => string,
): string {
  const info = request.storage_infos[index]!;
  const { key, position } = targetPath(info, pick);
  const list = info[key]!;
  list[position] = change(list[position]!);
  return at(index, `${key}[${position}]`);
}

/** Each rule's mutation, as an arbitrary of functions that break one valid request in one place. */
const mutations: Record<string, fc.Arbitrary<Mutation>> = {
  "device path with a character outside the charset": fc
    .tuple(fc.nat(), badCharArb)
    .map(([pick, bad]) => (request, index) => ({
      path: replacePath(request, index, pick, (path) => `${stem(path)}/x${bad}y`),
      code: "path_charset",
    })),
  "device path over 4096 UTF-8 bytes but not 4096 UTF-16 units": fc
    .tuple(fc.nat(), multiByteCharArb)
    .map(([pick, char]) => (request, index) => ({
      path: replacePath(request, index, pick, () => {
        const bytes = utf8Length(char);
        const value = `/data/${char.repeat(Math.floor((LIMITS.devicePathMaxBytes - 6) / bytes) + 1)}`;
        // The point of the mutation: a UTF-16 length check would let it through.
        if (value.length > LIMITS.devicePathMaxBytes) throw new Error("mutation is not multi-byte enough");
        return value;
      }),
      code: "path_too_long",
      companions: ["path_charset"],
    })),
  "device path with a .. or . segment": fc
    .tuple(fc.nat(), fc.constantFrom("/..", "/.", "/../..", "/./."))
    .map(([pick, dots]) => (request, index) => ({
      path: replacePath(request, index, pick, (path) => {
        const root = path.startsWith("/cache") ? "/cache" : "/data";
        return `${root}${dots}${path.slice(root.length)}`;
      }),
      code: "path_dot_segment",
    })),
  "device path with * before its end": fc
    .tuple(fc.nat(), fc.constantFrom("/a*b", "/*/x", "/**", "/*x"))
    .map(([pick, tail]) => (request, index) => ({
      path: replacePath(request, index, pick, (path) => `${stem(path)}${tail}`),
      code: "path_wildcard_position",
    })),
  "device path outside /data and /cache": fc
    .tuple(
      fc.nat(),
      fc.constantFrom("/system", "/data2", "/datax", "/cach", "/sdcard", "/", "/data*", "/cache*"),
    )
    .map(([pick, outside]) => (request, index) => ({
      path: replacePath(request, index, pick, () => outside),
      code: "path_outside_roots",
    })),
  "relative device path": fc.nat().map((pick) => (request, index) => ({
    path: replacePath(request, index, pick, (path) => path.replace(/^\/+/, "")),
    code: "path_not_absolute",
  })),
  "empty include list": fc.constant((request, index) => {
    request.storage_infos[index]!.include_files = [];
    return { path: at(index, "include_files"), code: "include_files_empty" };
  }),
  "bucket shaped like an IPv4 address": fc
    .tuple(fc.nat(999), fc.nat(999), fc.nat(999), fc.nat(999))
    .map((parts) => (request, index) => {
      request.storage_infos[index]!.bucket_name = parts.join(".");
      return { path: at(index, "bucket_name"), code: "bucket_ip_address" };
    }),
  "bucket with .., .- or -.": fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{1,20}$/),
      fc.constantFrom("..", ".-", "-."),
      fc.stringMatching(/^[a-z0-9]{1,20}$/),
    )
    .map(([left, pair, right]) => (request, index) => {
      request.storage_infos[index]!.bucket_name = `${left}${pair}${right}`;
      return { path: at(index, "bucket_name"), code: "bucket_adjacent_punctuation" };
    }),
  "bucket starting or ending with - or .": fc
    .tuple(
      bucketNameArb.filter((name) => name.length < 63),
      fc.constantFrom("-", "."),
      fc.boolean(),
    )
    .map(([name, edge, atStart]) => (request, index) => {
      request.storage_infos[index]!.bucket_name = atStart ? `${edge}${name}` : `${name}${edge}`;
      return { path: at(index, "bucket_name"), code: "bucket_edge" };
    }),
  "bucket with an uppercase letter or other character": fc
    .tuple(bucketNameArb, fc.nat(), fc.constantFrom("A", "Z", "_", "é", " ", "/"))
    .map(([name, position, char]) => (request, index) => {
      const inner = 1 + (position % (name.length - 2));
      request.storage_infos[index]!.bucket_name = `${name.slice(0, inner)}${char}${name.slice(inner + 1)}`;
      return { path: at(index, "bucket_name"), code: "bucket_charset" };
    }),
  "bucket of 2 or 64 characters": fc
    .tuple(fc.constantFrom(2, 64), fc.constantFrom("a", "7"))
    .map(([length, char]) => (request, index) => {
      request.storage_infos[index]!.bucket_name = char.repeat(length);
      return { path: at(index, "bucket_name"), code: "bucket_length" };
    }),
  "phone id over 32 UTF-8 bytes in at most 32 UTF-16 units": multiByteCharArb.map(
    (char) => (request, index) => {
      request.storage_infos[index]!.phone_id = char.repeat(Math.floor(32 / utf8Length(char)) + 1);
      return { path: at(index, "phone_id"), code: "phone_id_too_long", companions: ["phone_id_charset"] };
    },
  ),
  "duplicate phone id": fc.nat().map((pick) => (request, index) => {
    // The later of two entries is the duplicate; a single-phone request gets a copy of itself.
    const infos = request.storage_infos;
    if (infos.length === 1) infos.push({ ...structuredClone(infos[0]!) });
    const later = Math.max(1, index);
    const earlier = pick % later;
    infos[later]!.phone_id = infos[earlier]!.phone_id;
    return { path: at(later, "phone_id"), code: "phone_id_duplicate" };
  }),
  "object path with a character outside the charset": fc
    .tuple(fc.constantFrom("*", "~", " ", "?", "é", "\\", ":"), fc.nat())
    .map(([bad, position]) => (request, index) => {
      const info = request.storage_infos[index]!;
      const inner = position % (info.object_path.length - 4);
      info.object_path = `${info.object_path.slice(0, inner)}${bad}${info.object_path.slice(inner)}`;
      return { path: at(index, "object_path"), code: "object_path_charset" };
    }),
  "object path over 1024 UTF-8 bytes in at most 1024 UTF-16 units": multiByteCharArb.map(
    (char) => (request, index) => {
      const repeat = Math.floor((LIMITS.objectPathMaxChars - 4) / utf8Length(char)) + 1;
      request.storage_infos[index]!.object_path = `${char.repeat(repeat)}.tar`;
      return {
        path: at(index, "object_path"),
        code: "object_path_too_long",
        companions: ["object_path_charset"],
      };
    },
  ),
  "empty object path": fc.constant((request, index) => {
    request.storage_infos[index]!.object_path = "";
    return { path: at(index, "object_path"), code: "object_path_empty" };
  }),
  "unknown field": fc
    .constantFrom("phoneId", "bucket", "include", "objectPath")
    .map((key) => (request, index) => {
      (request.storage_infos[index] as unknown as Record<string, unknown>)[key] = "x";
      return { path: at(index, key), code: "unrecognized_key" };
    }),
  "missing required field": fc
    .constantFrom("phone_id", "include_files", "bucket_name", "object_path")
    .map((key) => (request, index) => {
      delete (request.storage_infos[index] as unknown as Record<string, unknown>)[key];
      return { path: at(index, key), code: "required" };
    }),
  "field of the wrong type": fc
    .constantFrom<[string, unknown]>(
      ["phone_id", 42],
      ["include_files", "/data"],
      ["bucket_name", null],
      ["object_path", []],
    )
    .map(([key, value]) => (request, index) => {
      (request.storage_infos[index] as unknown as Record<string, unknown>)[key] = value;
      return { path: at(index, key), code: "invalid_type" };
    }),
};

function issuesOf<T>(result: ValidationResult<T>): ValidationIssue[] {
  return result.ok ? [] : result.issues;
}

describe("validateBatchExportRequest: valid requests", () => {
  test.prop([batchExportRequestArb])(
    "every generated valid request is accepted, without warnings",
    (request) => {
      const result = validateBatchExportRequest(request);
      expect(issuesOf(result)).toEqual([]);
      expect(result).toEqual({ ok: true, value: request, warnings: [] });
    },
  );

  test.prop([storageInfoArb])("every generated storage info is accepted on its own", (info) => {
    expect(validateStorageInfo(info)).toEqual({ ok: true, value: info, warnings: [] });
  });

  it("accepts the official example request", () => {
    const example = {
      storage_infos: [
        {
          phone_id: "1234567b8bab40ffb711234cb80d0234",
          include_files: ["/data/app", "/data/local", "/data/media"],
          exclude_files: ["/data/app/com.xx.xx-*"],
          bucket_name: "mybucket",
          object_path: "myimage/v1/xxxxx.tar",
        },
      ],
    };
    expect(validateBatchExportRequest(example)).toEqual({ ok: true, value: example, warnings: [] });
  });

  it("accepts the limits themselves: 4096-byte paths, 1024-byte object paths, 32-byte ids, 63-character buckets", () => {
    const info = {
      phone_id: "p".repeat(32),
      include_files: [`/data/${"a".repeat(4096 - 6)}`, "/cache", "/data/~user/a=b+c#d", "/data/.hidden*"],
      bucket_name: `${"b".repeat(61)}.c`,
      object_path: `${"o".repeat(1020)}.tar`,
    };
    expect(validateBatchExportRequest({ storage_infos: [info] }).ok).toBe(true);
  });
});

describe("validateBatchExportRequest: each targeted mutation is refused with its own code and path", () => {
  for (const [name, mutationArb] of Object.entries(mutations)) {
    test.prop([batchExportRequestArb, fc.nat(), mutationArb])(name, (valid, pick, mutate) => {
      const request = structuredClone(valid);
      const expected = mutate(request, pick % request.storage_infos.length);
      const issues = issuesOf(validateBatchExportRequest(request));
      expect(issues).toContainEqual(
        expect.objectContaining({ code: expected.code, path: expected.path, severity: "error" }),
      );
      // Nothing else is reported: the mutation's path only, and its own code or a named companion.
      for (const issue of issues) {
        expect(issue.path).toBe(expected.path);
        expect([expected.code, ...(expected.companions ?? [])]).toContain(issue.code);
      }
    });
  }

  // Every mutation but the duplicate (which touches two entries), several at once, one entry each.
  const independent = Object.keys(mutations).filter((name) => name !== "duplicate phone id");
  const severalMutationsArb = fc
    .uniqueArray(fc.constantFrom(...independent), { minLength: 2, maxLength: 6 })
    .chain((names) => fc.tuple(...names.map((name) => mutations[name]!)));

  test.prop([storageInfosArb({ minLength: 6, maxLength: 12 }), severalMutationsArb])(
    "all the issues of a request are reported at once",
    (infos, several) => {
      const request = structuredClone({ storage_infos: infos });
      const expectations = several.map((mutate, index) => mutate(request, index));
      const issues = issuesOf(validateBatchExportRequest(request));
      for (const expected of expectations) {
        expect(issues).toContainEqual(expect.objectContaining({ code: expected.code, path: expected.path }));
      }
      const paths = new Set(expectations.map((expected) => expected.path));
      for (const issue of issues) expect(paths).toContain(issue.path);
    },
  );
});

/** A phone id with one character outside `A-Z a-z 0-9 - _`, a rule the API does not document. */
const oddPhoneIdArb = fc
  .tuple(fc.nat(), fc.constantFrom(" ", "/", ".", "*", "\n", '"', "\\", "~"))
  .map(([position, bad]) => (request: BatchExportRequest, index: number) => {
    const info = request.storage_infos[index]!;
    const inner = position % info.phone_id.length;
    info.phone_id = `${info.phone_id.slice(0, inner)}${bad}${info.phone_id.slice(inner + 1)}`;
    return at(index, "phone_id");
  });

describe("validateBatchExportRequest: phone ids outside the usual charset", () => {
  test.prop([batchExportRequestArb, fc.nat(), oddPhoneIdArb])(
    "are a warning by default (the API documents no charset): the request stays valid and its size exact",
    (valid, pick, mutate) => {
      const request = structuredClone(valid);
      const path = mutate(request, pick % request.storage_infos.length);
      fc.pre(
        new Set(request.storage_infos.map((info) => info.phone_id)).size === request.storage_infos.length,
      );
      const result = validateBatchExportRequest(request);
      expect(issuesOf(result)).toEqual([]);
      expect(result.warnings).toEqual([
        expect.objectContaining({ code: "phone_id_charset", path, severity: "warning" }),
      ]);
      // The body-size check measures the escaped phone id exactly: one byte less is too much.
      const bytes = buildBatchExportRequest({
        endpoint: "https://cph.example",
        projectId: "p",
        storageInfos: request.storage_infos,
      }).body!.byteLength;
      expect(validateBatchExportRequest(request, { maxBodyBytes: bytes }).ok).toBe(true);
      expect(validateBatchExportRequest(request, { maxBodyBytes: bytes - 1 }).ok).toBe(false);
    },
  );

  test.prop([batchExportRequestArb, fc.nat(), oddPhoneIdArb])(
    'are refused with phone_id_charset at their path with phoneIdCharset: "error"',
    (valid, pick, mutate) => {
      const request = structuredClone(valid);
      const path = mutate(request, pick % request.storage_infos.length);
      fc.pre(
        new Set(request.storage_infos.map((info) => info.phone_id)).size === request.storage_infos.length,
      );
      const issues = issuesOf(validateBatchExportRequest(request, { phoneIdCharset: "error" }));
      expect(issues).toEqual([
        expect.objectContaining({ code: "phone_id_charset", path, severity: "error" }),
      ]);
    },
  );

  it("still refuses what the API does document: empty, or over 32 UTF-8 bytes", () => {
    const info = { include_files: ["/data"], bucket_name: "bucket", object_path: "a.tar" };
    expect(issuesOf(validateStorageInfo({ ...info, phone_id: "" })).map((issue) => issue.code)).toEqual([
      "phone_id_empty",
    ]);
    expect(
      issuesOf(validateStorageInfo({ ...info, phone_id: "é".repeat(17) })).map((issue) => issue.code),
    ).toEqual(["phone_id_too_long"]);
    expect(validateStorageInfo({ ...info, phone_id: "é".repeat(16) })).toMatchObject({
      ok: true,
      warnings: [{ code: "phone_id_charset", path: "phone_id" }],
    });
  });

  it("follows the option in restore bodies too", () => {
    const body = { restore_infos: [{ phone_id: "a b", bucket_name: "bucket", object_path: "a.tar" }] };
    expect(validateBatchImportRequest(body)).toMatchObject({
      ok: true,
      warnings: [{ code: "phone_id_charset", path: "restore_infos[0].phone_id" }],
    });
    expect(validateBatchImportRequest(body, { phoneIdCharset: "error" })).toMatchObject({
      ok: false,
      issues: [{ code: "phone_id_charset", path: "restore_infos[0].phone_id" }],
    });
  });
});

describe("validateBatchExportRequest: request-level rules", () => {
  test.prop([storageInfosArb({ minLength: 1, maxLength: 6 })])(
    "the body-size check agrees byte for byte with the body that is built",
    (infos) => {
      const bytes = buildBatchExportRequest({
        endpoint: "https://cph.example",
        projectId: "p",
        storageInfos: infos,
      }).body!.byteLength;
      expect(validateBatchExportRequest({ storage_infos: infos }, { maxBodyBytes: bytes }).ok).toBe(true);
      const over = issuesOf(
        validateBatchExportRequest({ storage_infos: infos }, { maxBodyBytes: bytes - 1 }),
      );
      // One phone: the phone alone is too large; several: the body is.
      expect(over.map((issue) => issue.code)).toEqual(
        infos.length === 1 ? ["storage_info_too_large"] : ["body_too_large"],
      );
    },
  );

  it("refuses an empty list and more phones than allowed (100 by default, configurable)", () => {
    expect(issuesOf(validateBatchExportRequest({ storage_infos: [] }))).toEqual([
      expect.objectContaining({ code: "storage_infos_empty", path: "storage_infos" }),
    ]);
    const infos = Array.from({ length: 101 }, (_, index) => ({
      phone_id: `phone${index}`,
      include_files: ["/data"],
      bucket_name: "bucket",
      object_path: `p/${index}.tar`,
    }));
    expect(validateBatchExportRequest({ storage_infos: infos.slice(0, 100) }).ok).toBe(true);
    expect(issuesOf(validateBatchExportRequest({ storage_infos: infos }))).toEqual([
      expect.objectContaining({ code: "storage_infos_too_many", path: "storage_infos" }),
    ]);
    expect(validateBatchExportRequest({ storage_infos: infos }, { maxPhonesPerRequest: 200 }).ok).toBe(true);
    expect(
      issuesOf(
        validateBatchExportRequest({ storage_infos: infos.slice(0, 11) }, { maxPhonesPerRequest: 10 }),
      ),
    ).toEqual([expect.objectContaining({ code: "storage_infos_too_many" })]);
  });

  it("refuses bodies that are not the documented object", () => {
    expect(issuesOf(validateBatchExportRequest(null))).toEqual([
      expect.objectContaining({ code: "invalid_type", path: "" }),
    ]);
    expect(issuesOf(validateBatchExportRequest([]))).toEqual([
      expect.objectContaining({ code: "invalid_type", path: "" }),
    ]);
    expect(issuesOf(validateBatchExportRequest({}))).toEqual([
      expect.objectContaining({ code: "required", path: "storage_infos" }),
    ]);
    expect(issuesOf(validateBatchExportRequest({ storage_infos: {} }))).toEqual([
      expect.objectContaining({ code: "invalid_type", path: "storage_infos" }),
    ]);
    expect(
      issuesOf(validateBatchExportRequest({ storage_infos: [1, "x"], extra: true })).map((i) => i.path),
    ).toEqual(["extra", "storage_infos[0]", "storage_infos[1]"]);
  });

  it("validates the holes of a sparse array instead of skipping them", () => {
    const info = { phone_id: "a", include_files: ["/data"], bucket_name: "bucket", object_path: "a.tar" };
    const sparse: unknown[] = [info];
    sparse[2] = { ...info, phone_id: "b" };
    expect(issuesOf(validateBatchExportRequest({ storage_infos: sparse }))).toEqual([
      expect.objectContaining({ code: "invalid_type", path: "storage_infos[1]" }),
    ]);
  });

  it("reports a too-large phone even after an invalid one", () => {
    const big = {
      phone_id: "b",
      include_files: [`/data/${"x".repeat(300)}`],
      bucket_name: "bucket",
      object_path: "b.tar",
    };
    const bad = { ...big, phone_id: "a", bucket_name: "B" };
    const issues = issuesOf(validateBatchExportRequest({ storage_infos: [bad, big] }, { maxBodyBytes: 200 }));
    expect(issues).toContainEqual(
      expect.objectContaining({ code: "storage_info_too_large", path: "storage_infos[1]" }),
    );
  });

  it("honours configured roots", () => {
    const info = {
      phone_id: "a",
      include_files: ["/sdcard/DCIM"],
      bucket_name: "bucket",
      object_path: "a.tar",
    };
    expect(validateBatchExportRequest({ storage_infos: [info] }, { allowedRoots: ["/sdcard"] }).ok).toBe(
      true,
    );
    expect(issuesOf(validateBatchExportRequest({ storage_infos: [info] }))).toEqual([
      expect.objectContaining({ code: "path_outside_roots", path: "storage_infos[0].include_files[0]" }),
    ]);
  });
});

describe("warnings are reported apart from errors", () => {
  test.prop([batchExportRequestArb, fc.nat(), fc.constantFrom("zip", "tar.gz", "bin", "")])(
    "an object path not ending in .tar is a warning, and the request stays valid",
    (valid, pick, extension) => {
      const request = structuredClone(valid);
      const index = pick % request.storage_infos.length;
      const info = request.storage_infos[index]!;
      info.object_path = `${info.object_path.slice(0, -4)}${extension ? `.${extension}` : "/archive"}`;
      const result = validateBatchExportRequest(request);
      expect(result.ok).toBe(true);
      expect(result.warnings).toEqual([
        expect.objectContaining({
          code: "object_path_not_tar",
          path: at(index, "object_path"),
          severity: "warning",
        }),
      ]);
    },
  );

  it("warns about a leading slash, dot segments and two phones writing one object", () => {
    const info = {
      phone_id: "a",
      include_files: ["/data"],
      bucket_name: "bucket",
      object_path: "/x/../a.tar",
    };
    const result = validateBatchExportRequest({ storage_infos: [info, { ...info, phone_id: "b" }] });
    expect(result.ok).toBe(true);
    expect(result.warnings.map((warning) => [warning.code, warning.path])).toEqual([
      ["object_path_leading_slash", "storage_infos[0].object_path"],
      ["object_path_dot_segment", "storage_infos[0].object_path"],
      ["object_path_leading_slash", "storage_infos[1].object_path"],
      ["object_path_dot_segment", "storage_infos[1].object_path"],
      ["object_path_duplicate", "storage_infos[1].object_path"],
    ]);
  });

  it("keeps warnings when there are errors too", () => {
    const info = { phone_id: "", include_files: ["/data"], bucket_name: "bucket", object_path: "a.zip" };
    const result = validateBatchExportRequest({ storage_infos: [info] });
    expect(result).toMatchObject({
      ok: false,
      issues: [{ code: "phone_id_empty", severity: "error" }],
      warnings: [{ code: "object_path_not_tar", severity: "warning" }],
    });
  });
});

describe("single-field validators", () => {
  it("validateBucketName follows the OBS rules", () => {
    const codes = (name: string) => validateBucketName(name).map((issue) => issue.code);
    expect(codes("my-bucket.example")).toEqual([]);
    expect(codes("a--b")).toEqual([]);
    expect(codes("192.168.1.1")).toEqual(["bucket_ip_address"]);
    expect(codes("192.168.1")).toEqual([]);
    expect(codes("ab")).toEqual(["bucket_length"]);
    expect(codes("")).toEqual(["bucket_length"]);
    expect(codes("a".repeat(63))).toEqual([]);
    expect(codes("a".repeat(64))).toEqual(["bucket_length"]);
    expect(codes("my_Bucket")).toEqual(["bucket_charset"]);
    expect(codes("My-bucket")).toEqual(["bucket_charset", "bucket_edge"]);
    expect(codes("-ab")).toEqual(["bucket_edge"]);
    expect(codes("ab.")).toEqual(["bucket_edge"]);
    expect(codes("a..b")).toEqual(["bucket_adjacent_punctuation"]);
    expect(codes("a.-b")).toEqual(["bucket_adjacent_punctuation"]);
    expect(codes("a-.b")).toEqual(["bucket_adjacent_punctuation"]);
    expect(codes(".A")).toEqual(["bucket_length", "bucket_charset", "bucket_edge"]);
  });

  test.prop([bucketNameArb])("every generated bucket name is valid", (name) => {
    expect(validateBucketName(name)).toEqual([]);
  });

  it("validateObjectPath reports errors only; warnings stay out", () => {
    expect(validateObjectPath("backups/a.tar")).toEqual([]);
    expect(validateObjectPath("backups/a.zip")).toEqual([]);
    expect(validateObjectPath("a".repeat(1024))).toEqual([]);
    expect(validateObjectPath("a".repeat(1025)).map((issue) => issue.code)).toEqual(["object_path_too_long"]);
    expect(validateObjectPath("a b").map((issue) => issue.code)).toEqual(["object_path_charset"]);
    expect(validateObjectPath("").map((issue) => issue.code)).toEqual(["object_path_empty"]);
  });

  it("names the offending characters and keeps long values short in messages", () => {
    const issues = validateObjectPath(`${"a".repeat(2000)} é`);
    expect(issues.map((issue) => issue.code)).toEqual(["object_path_too_long", "object_path_charset"]);
    const issue = issues[1];
    expect(issue?.message).toContain('a space, "é"');
    expect(issue?.message.length).toBeLessThan(300);
  });
});

describe("validateBatchImportRequest", () => {
  const restore = {
    phone_id: "1234567b8bab40ffb711234cb80d0234",
    bucket_name: "mybucket",
    object_path: "a/b.tar",
  };

  it("accepts a documented restore body", () => {
    expect(validateBatchImportRequest({ restore_infos: [restore] })).toEqual({
      ok: true,
      value: { restore_infos: [restore] },
      warnings: [],
    });
  });

  it("reports every issue with its path", () => {
    const result = validateBatchImportRequest({
      restore_infos: [restore, { ...restore, bucket_name: "1.2.3.4", extra: 1 }, { phone_id: "" }],
    });
    expect(issuesOf(result).map((issue) => [issue.code, issue.path])).toEqual([
      ["unrecognized_key", "restore_infos[1].extra"],
      ["bucket_ip_address", "restore_infos[1].bucket_name"],
      ["phone_id_duplicate", "restore_infos[1].phone_id"],
      ["phone_id_empty", "restore_infos[2].phone_id"],
      ["required", "restore_infos[2].bucket_name"],
      ["required", "restore_infos[2].object_path"],
    ]);
  });

  it("refuses an empty list and too many phones", () => {
    expect(issuesOf(validateBatchImportRequest({ restore_infos: [] })).map((issue) => issue.path)).toEqual([
      "restore_infos",
    ]);
    const many = Array.from({ length: 3 }, (_, index) => ({ ...restore, phone_id: `p${index}` }));
    expect(issuesOf(validateBatchImportRequest({ restore_infos: many }, { maxPhonesPerRequest: 2 }))).toEqual(
      [expect.objectContaining({ code: "storage_infos_too_many", path: "restore_infos" })],
    );
  });
});
