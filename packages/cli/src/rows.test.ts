import { describe, expect, it } from "vitest";
import { RowPreparer } from "./rows.js";
import { parseObjectPathTemplate } from "./template.js";

const date = new Date("2025-03-04T05:06:07Z");

describe("RowPreparer", () => {
  it("fills what a row lacks from the flags and keeps what it has", () => {
    const preparer = new RowPreparer({
      bucket: "flag-bucket",
      include: ["/data"],
      exclude: ["/data/cache"],
      template: parseObjectPathTemplate("b/{date}/{phone_id}-{index}.tar"),
      date,
    });
    const first = preparer.prepare({ line: 3, value: { phone_id: "p1" } });
    const second = preparer.prepare({
      line: 4,
      value: { phone_id: "p2", bucket_name: "own-bucket", object_path: "own.tar", include_files: ["/cache"] },
    });
    expect(first.info).toEqual({
      phone_id: "p1",
      include_files: ["/data"],
      exclude_files: ["/data/cache"],
      bucket_name: "flag-bucket",
      object_path: "b/20250304/p1-0.tar",
    });
    expect(second.info).toEqual({
      phone_id: "p2",
      include_files: ["/cache"],
      exclude_files: ["/data/cache"],
      bucket_name: "own-bucket",
      object_path: "own.tar",
    });
    expect([first.index, second.index]).toEqual([0, 1]);
  });

  it("reports each issue with the row's line and the field path, and says which flag a bad value came from", () => {
    const preparer = new RowPreparer({ bucket: "ok-bucket", date });
    const row = preparer.prepare({
      line: 7,
      value: { phone_id: "p1", include_files: ["/data/app", "/data/../system"], object_path: "a b.tar" },
    });
    expect(row.info).toBeUndefined();
    expect(row.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          line: 7,
          path: "include_files[1]",
          code: "path_dot_segment",
          severity: "error",
        }),
        expect.objectContaining({
          line: 7,
          path: "object_path",
          code: "object_path_charset",
          severity: "error",
        }),
      ]),
    );
    const missing = new RowPreparer({ date }).prepare({
      line: 2,
      value: { phone_id: "p1", include_files: ["/data"] },
    });
    expect(missing.issues.find((issue) => issue.path === "bucket_name")?.message).toMatch(/give --bucket/);
    const flagged = new RowPreparer({
      template: parseObjectPathTemplate("x/{phone_id}"),
      bucket: "bkt",
      include: ["/data"],
      date,
    });
    const warning = flagged.prepare({ line: 1, value: { phone_id: "p1" } }).issues[0];
    expect(warning).toMatchObject({ code: "object_path_not_tar", severity: "warning" });
    expect(warning?.message).toMatch(/\(from --object-path\)$/);
  });

  it("refuses a phone listed twice and warns about two phones writing one object", () => {
    const preparer = new RowPreparer({ bucket: "bkt", include: ["/data"], date });
    preparer.prepare({ line: 1, value: { phone_id: "p1", object_path: "same.tar" } });
    const again = preparer.prepare({ line: 2, value: { phone_id: "p1", object_path: "other.tar" } });
    const shared = preparer.prepare({ line: 3, value: { phone_id: "p2", object_path: "same.tar" } });
    expect(again.issues).toEqual([
      expect.objectContaining({
        code: "phone_id_duplicate",
        severity: "error",
        message: expect.stringMatching(/line 1/),
      }),
    ]);
    expect(shared.issues).toEqual([
      expect.objectContaining({ code: "object_path_duplicate", severity: "warning" }),
    ]);
    expect(shared.info).toBeDefined();
  });

  it("passes syntax problems through and does not count header rows as phones", () => {
    const preparer = new RowPreparer({ date });
    const header = preparer.prepare({
      line: 1,
      problems: [{ code: "input_header", message: "unknown column", path: "x" }],
    });
    const broken = preparer.prepare({
      line: 2,
      problems: [{ code: "input_syntax", message: "not valid JSON" }],
    });
    const scalar = preparer.prepare({ line: 3, value: 42 });
    expect(header).toMatchObject({ index: -1, issues: [{ line: 1, path: "x", code: "input_header" }] });
    expect(broken).toMatchObject({ index: 0, issues: [{ line: 2, code: "input_syntax" }] });
    expect(scalar.issues[0]).toMatchObject({
      code: "invalid_type",
      message: "each phone must be an object, not a number",
    });
    expect(preparer.count).toBe(2);
  });
});
