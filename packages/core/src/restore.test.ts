import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { utf8Text } from "./bytes.js";
import { CphValidationError } from "./errors.js";
import {
  buildBatchImportRequest,
  chunkRestoreInfos,
  chunkStorageInfos,
  RestoreInfoBatcher,
  restoreInfoFromStorageInfo,
} from "./request.js";
import type { RestoreInfo } from "./schemas.js";
import { bucketNameArb, objectPathArb, phoneIdArb, storageInfosArb } from "./test-support/arbitraries.js";
import { validateBatchExportRequest, validateBatchImportRequest, validateRestoreInfo } from "./validate.js";

const target = { endpoint: "https://cph.cn-north-4.myhuaweicloud.com", projectId: "p1" };

const restoreInfoArb: fc.Arbitrary<RestoreInfo> = fc.record({
  phone_id: phoneIdArb,
  bucket_name: bucketNameArb,
  object_path: objectPathArb,
});

/** Restore infos with distinct phone ids: a valid request body. */
const restoreInfosArb = (maxLength = 20) =>
  fc.uniqueArray(restoreInfoArb, { minLength: 1, maxLength, selector: (info) => info.phone_id });

function issuesOf(result: ReturnType<typeof validateBatchImportRequest>) {
  return result.ok ? [] : result.issues;
}

describe("restore shares export's rules", () => {
  test.prop([storageInfosArb({ minLength: 1, maxLength: 20 })])(
    "a valid export maps to a valid restore request, which reads back as the same phones, buckets and objects",
    (storageInfos) => {
      expect(validateBatchExportRequest({ storage_infos: storageInfos }).ok).toBe(true);
      const restoreInfos = storageInfos.map((info) => restoreInfoFromStorageInfo(info));
      const request = buildBatchImportRequest({ ...target, restoreInfos });
      const body: unknown = JSON.parse(utf8Text(request.body!));
      const result = validateBatchImportRequest(body);
      expect(result.ok).toBe(true);
      expect(body).toEqual({
        restore_infos: storageInfos.map(({ phone_id, bucket_name, object_path }) => ({
          phone_id,
          bucket_name,
          object_path,
        })),
      });
    },
  );

  test.prop([restoreInfosArb(), fc.nat(), fc.nat()])(
    "a phone named twice anywhere is refused at the later entry, naming the first",
    (infos, from, to) => {
      const source = from % infos.length;
      const copy = { ...infos[to % infos.length]!, phone_id: infos[source]!.phone_id };
      const at = to % (infos.length + 1);
      const body = [...infos.slice(0, at), copy, ...infos.slice(at)];
      const first = body.findIndex((info) => info.phone_id === copy.phone_id);
      const later = body.findIndex((info, index) => index > first && info.phone_id === copy.phone_id);
      const duplicates = issuesOf(validateBatchImportRequest({ restore_infos: body })).filter(
        (issue) => issue.code === "phone_id_duplicate",
      );
      expect(duplicates).toHaveLength(1);
      expect(duplicates[0]!.path).toBe(`restore_infos[${later}].phone_id`);
      expect(duplicates[0]!.message).toContain(`restore_infos[${first}]`);
    },
  );

  test.prop([restoreInfosArb(60), fc.integer({ min: 1, max: 25 })])(
    "restore batches by export's rules: the same batch sizes as the matching export, each batch a valid request",
    (infos, batchSize) => {
      const batches = [...chunkRestoreInfos(infos, { batchSize })];
      expect(batches.flat()).toEqual(infos);
      for (const batch of batches) {
        expect(batch.length).toBeLessThanOrEqual(batchSize);
        expect(
          validateBatchImportRequest({ restore_infos: batch }, { maxPhonesPerRequest: batchSize }).ok,
        ).toBe(true);
      }
      const exports = infos.map((info) => ({ ...info, include_files: ["/data"] }));
      expect(batches.map((batch) => batch.length)).toEqual(
        [...chunkStorageInfos(exports, { batchSize })].map((batch) => batch.length),
      );
    },
  );

  test.prop([fc.constantFrom("phone_id", "bucket_name", "object_path"), restoreInfoArb, fc.nat(4)])(
    "a bad field is reported at its own path",
    (field, info, index) => {
      const bad = { phone_id: "", bucket_name: "1.2.3.4", object_path: "a b.tar" }[field];
      const infos = Array.from({ length: 5 }, (_, position) => ({
        ...info,
        phone_id: `${info.phone_id.slice(0, 30)}${position}`,
      }));
      infos[index] = { ...infos[index]!, [field]: bad };
      const paths = issuesOf(validateBatchImportRequest({ restore_infos: infos })).map((issue) => issue.path);
      expect(paths).toEqual([`restore_infos[${index}].${field}`]);
    },
  );
});

describe("validateBatchImportRequest", () => {
  it("lists every bad field of every entry at once, with export's codes", () => {
    const result = validateBatchImportRequest({
      restore_infos: [
        { phone_id: "a".repeat(33), bucket_name: "ab", object_path: "ok.tar" },
        { phone_id: "p2", bucket_name: "bucket", object_path: "" },
        { phone_id: "p3", bucket_name: "buc_ket", object_path: "x y.tar", include_files: ["/data"] },
        { phone_id: "p2", bucket_name: "bucket", object_path: "p2.tar" },
      ],
    });
    expect(issuesOf(result).map((issue) => [issue.code, issue.path])).toEqual([
      ["phone_id_too_long", "restore_infos[0].phone_id"],
      ["bucket_length", "restore_infos[0].bucket_name"],
      ["object_path_empty", "restore_infos[1].object_path"],
      ["unrecognized_key", "restore_infos[2].include_files"],
      ["bucket_charset", "restore_infos[2].bucket_name"],
      ["object_path_charset", "restore_infos[2].object_path"],
      ["phone_id_duplicate", "restore_infos[3].phone_id"],
    ]);
  });

  it("warns as export does (an object path not ending in .tar) and checks the body size", () => {
    const info = { phone_id: "p1", bucket_name: "bucket", object_path: "p1.zip" };
    expect(validateBatchImportRequest({ restore_infos: [info] })).toMatchObject({
      ok: true,
      warnings: [{ code: "object_path_not_tar", path: "restore_infos[0].object_path" }],
    });
    const infos = ["p1", "p2", "p3"].map((phone_id) => ({ ...info, phone_id }));
    expect(issuesOf(validateBatchImportRequest({ restore_infos: infos }, { maxBodyBytes: 150 }))).toEqual([
      expect.objectContaining({ code: "body_too_large", path: "restore_infos" }),
    ]);
  });

  it("validates one restore info on its own", () => {
    expect(validateRestoreInfo({ phone_id: "p1", bucket_name: "bucket", object_path: "a.tar" }).ok).toBe(
      true,
    );
    expect(
      validateRestoreInfo({ phone_id: "p1", bucket_name: "1.2.3.4", object_path: "a.tar" }),
    ).toMatchObject({
      ok: false,
      issues: [{ path: "bucket_name" }],
    });
  });
});

describe("RestoreInfoBatcher", () => {
  it("refuses an entry too large for any body, at restore_infos[n]", () => {
    const batcher = new RestoreInfoBatcher({ maxBodyBytes: 80 });
    expect(batcher.add({ phone_id: "p1", bucket_name: "b1b", object_path: "a.tar" })).toBeUndefined();
    let error: unknown;
    try {
      batcher.add({ phone_id: "p2", bucket_name: "b1b", object_path: `${"a".repeat(100)}.tar` });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CphValidationError);
    expect((error as CphValidationError).issues[0]).toMatchObject({
      code: "storage_info_too_large",
      path: "restore_infos[1]",
    });
  });

  it("starts a new batch when a phone repeats", () => {
    const info = { phone_id: "p1", bucket_name: "bucket", object_path: "a.tar" };
    expect(
      [...chunkRestoreInfos([info, { ...info, phone_id: "p2" }, info])].map((batch) => batch.length),
    ).toEqual([2, 1]);
  });
});
