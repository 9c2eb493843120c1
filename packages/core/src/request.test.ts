import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { utf8Bytes, utf8Text } from "./bytes.js";
import { CphValidationError } from "./errors.js";
import {
  buildBatchExportRequest,
  buildBatchImportRequest,
  buildIamTokenRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  chunkStorageInfos,
  StorageInfoBatcher,
} from "./request.js";
import type { StorageInfo } from "./schemas.js";
import { serializeStorageInfo } from "./serialize.js";
import { storageInfoArb, storageInfosArb } from "./test-support/arbitraries.js";

const target = {
  endpoint: "https://cph.cn-north-4.myhuaweicloud.com",
  projectId: "0123456789abcdef0123456789abcdef",
};
const base = `${target.endpoint}/v1/${target.projectId}/cloud-phone`;

/** Any strings at all, including quotes, backslashes, controls, non-Latin text and lone surrogates. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("\uD800", "a\uDC00b", '"\\', "\u0000\u001f", "é中😀"),
);

/** Storage infos the builder must carry faithfully even though they would not validate. */
const unvalidatedInfoArb: fc.Arbitrary<StorageInfo> = fc.record(
  {
    phone_id: anyText,
    include_files: fc.array(anyText, { maxLength: 3 }),
    exclude_files: fc.array(anyText, { maxLength: 3 }),
    bucket_name: anyText,
    object_path: anyText,
  },
  { requiredKeys: ["phone_id", "include_files", "bucket_name", "object_path"] },
);

/** Ids of jobs and requests: any text, and above all the characters URLs treat apart. */
const idText = fc.oneof(
  anyText,
  fc.string({
    unit: fc.constantFrom("'", "a", ".", "%", " ", "#", "?", "/", "!", "*", "(", "~", "\\", "é"),
    maxLength: 8,
  }),
);

/** The URL a builder writes, or undefined when it refuses the input with a CphValidationError (and nothing else). */
function urlOrRefused(build: () => { url: string }): string | undefined {
  try {
    return build().url;
  } catch (error) {
    expect(error).toBeInstanceOf(CphValidationError);
    return undefined;
  }
}

function catchValidation(run: () => unknown): CphValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof CphValidationError) return error;
    throw error;
  }
  throw new Error("expected a CphValidationError");
}

function bodyJson(request: { body?: Uint8Array }): unknown {
  return JSON.parse(utf8Text(request.body!));
}

describe("buildBatchExportRequest", () => {
  test.prop([storageInfosArb()])("build then parse gives back the storage infos", (infos) => {
    const request = buildBatchExportRequest({ ...target, storageInfos: infos });
    expect(bodyJson(request)).toEqual({ storage_infos: infos });
  });

  test.prop([fc.array(fc.oneof(storageInfoArb, unvalidatedInfoArb), { maxLength: 8 })])(
    "the body is exactly the UTF-8 of the JSON, in the documented field order, for any text",
    (infos) => {
      const request = buildBatchExportRequest({ ...target, storageInfos: infos });
      const expected = JSON.stringify({
        storage_infos: infos.map((info) => ({
          phone_id: info.phone_id,
          include_files: info.include_files,
          ...(info.exclude_files === undefined ? {} : { exclude_files: info.exclude_files }),
          bucket_name: info.bucket_name,
          object_path: info.object_path,
        })),
      });
      expect(request.body).toEqual(utf8Bytes(expected));
      expect(bodyJson(request)).toEqual(JSON.parse(expected));
    },
  );

  it("drops fields that are not in the documented shape", () => {
    const info = {
      phone_id: "a",
      include_files: ["/data"],
      bucket_name: "bucket",
      object_path: "a.tar",
      extra: 1,
    };
    const request = buildBatchExportRequest({ ...target, storageInfos: [info as StorageInfo] });
    expect(utf8Text(request.body!)).toBe(
      '{"storage_infos":[{"phone_id":"a","include_files":["/data"],"bucket_name":"bucket","object_path":"a.tar"}]}',
    );
  });

  it("posts JSON to the documented URL", () => {
    const request = buildBatchExportRequest({
      ...target,
      endpoint: `${target.endpoint}//`,
      storageInfos: [],
    });
    expect(request).toMatchObject({
      method: "POST",
      url: `${base}/phones/batch-storage`,
      headers: { "Content-Type": "application/json" },
    });
  });

  it("encodes the project id and refuses an empty one", () => {
    const request = buildShowJobRequest({ endpoint: "http://127.0.0.1:1", projectId: "a/b", jobId: "j" });
    expect(request.url).toBe("http://127.0.0.1:1/v1/a%2Fb/cloud-phone/jobs/j");
    const error = catchValidation(() =>
      buildBatchExportRequest({ ...target, projectId: "", storageInfos: [] }),
    );
    expect(error.issues).toEqual([expect.objectContaining({ code: "required", path: "projectId" })]);
  });
});

function bodyBytes(batch: readonly StorageInfo[]): number {
  return buildBatchExportRequest({ ...target, storageInfos: batch }).body!.byteLength;
}

describe("batching", () => {
  const batchOptionsArb = fc.record({
    batchSize: fc.integer({ min: 1, max: 8 }),
    maxBodyBytes: fc.integer({ min: 300, max: 3000 }),
  });
  /** Storage infos with repeated phone ids, and some texts that need escaping or several bytes. */
  const streamArb = fc
    .array(fc.oneof(storageInfoArb, unvalidatedInfoArb), { maxLength: 40 })
    .chain((infos) =>
      fc
        .array(fc.nat(), { minLength: infos.length, maxLength: infos.length })
        .map((picks) =>
          infos.map((info, index) =>
            picks[index]! % 4 === 0 && index > 0
              ? { ...info, phone_id: infos[picks[index]! % index]!.phone_id }
              : info,
          ),
        ),
    )
    .map((infos) => infos.filter((info) => utf8Bytes(serializeStorageInfo(info)).byteLength + 20 <= 300));

  test.prop([streamArb, batchOptionsArb])(
    "batches keep every info in order, within the count and byte limits, each phone once per batch",
    (infos, options) => {
      const batches = [...chunkStorageInfos(infos, options)];
      expect(batches.flat()).toEqual(infos);
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(options.batchSize);
        expect(bodyBytes(batch)).toBeLessThanOrEqual(options.maxBodyBytes);
        expect(new Set(batch.map((info) => info.phone_id)).size).toBe(batch.length);
      }
    },
  );

  test.prop([streamArb, batchOptionsArb])(
    "a batch ends only when it is full, the next info would not fit, or the next info repeats a phone",
    (infos, options) => {
      const batches = [...chunkStorageInfos(infos, options)];
      for (let index = 0; index + 1 < batches.length; index++) {
        const batch = batches[index]!;
        const next = batches[index + 1]![0]!;
        const full = batch.length === options.batchSize;
        const overflows = bodyBytes([...batch, next]) > options.maxBodyBytes;
        const repeats = batch.some((info) => info.phone_id === next.phone_id);
        expect(full || overflows || repeats).toBe(true);
      }
    },
  );

  it("uses 100 phones per batch by default", () => {
    const infos = Array.from({ length: 250 }, (_, index) => ({
      phone_id: `p${index}`,
      include_files: ["/data"],
      bucket_name: "bucket",
      object_path: `${index}.tar`,
    }));
    expect([...chunkStorageInfos(infos)].map((batch) => batch.length)).toEqual([100, 100, 50]);
  });

  it("stays under the 12 MB default body limit with large storage infos", () => {
    // Each info is about 1 MB; 100 of them would be 100 MB.
    const paths = Array.from(
      { length: 250 },
      (_, index) => `/data/${String(index).padStart(4, "0")}/${"x".repeat(4080)}`,
    );
    const infos = Array.from({ length: 30 }, (_, index) => ({
      phone_id: `p${index}`,
      include_files: paths,
      bucket_name: "bucket",
      object_path: `${index}.tar`,
    }));
    const batches = [...chunkStorageInfos(infos)];
    expect(batches.flat()).toEqual(infos);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(bodyBytes(batch)).toBeLessThanOrEqual(12 * 1024 * 1024);
  });

  it("refuses a single info that is over the body limit alone, naming its position in the stream", () => {
    const batcher = new StorageInfoBatcher({ maxBodyBytes: 200 });
    const small = { phone_id: "a", include_files: ["/data"], bucket_name: "bucket", object_path: "a.tar" };
    expect(batcher.add(small)).toBeUndefined();
    const error = catchValidation(() =>
      batcher.add({ ...small, phone_id: "b", include_files: [`/data/${"x".repeat(300)}`] }),
    );
    expect(error.code).toBe("ERR_CPH_VALIDATION");
    expect(error.issues).toEqual([
      expect.objectContaining({ code: "storage_info_too_large", path: "storage_infos[1]" }),
    ]);
    expect(batcher.flush()).toEqual([small]);
    expect(batcher.flush()).toBeUndefined();
  });

  it("refuses batch options that cannot work", () => {
    expect(catchValidation(() => new StorageInfoBatcher({ batchSize: 0 })).issues[0]?.path).toBe("batchSize");
    expect(catchValidation(() => new StorageInfoBatcher({ batchSize: 1.5 })).issues[0]?.path).toBe(
      "batchSize",
    );
    expect(catchValidation(() => new StorageInfoBatcher({ maxBodyBytes: 10 })).issues[0]?.path).toBe(
      "maxBodyBytes",
    );
  });
});

describe("buildShowJobRequest", () => {
  it("gets the job by its encoded id", () => {
    expect(buildShowJobRequest({ ...target, jobId: "1564567b8bab40f34711234cb80d0123" })).toEqual({
      method: "GET",
      url: `${base}/jobs/1564567b8bab40f34711234cb80d0123`,
      headers: {},
    });
    expect(buildShowJobRequest({ ...target, jobId: "a/b?c" }).url).toBe(`${base}/jobs/a%2Fb%3Fc`);
    expect(catchValidation(() => buildShowJobRequest({ ...target, jobId: "" })).issues[0]?.path).toBe(
      "jobId",
    );
    for (const jobId of [".", "..", "a\uD800"])
      expect(catchValidation(() => buildShowJobRequest({ ...target, jobId })).issues[0]?.code, jobId).toBe(
        "job_id_invalid",
      );
  });

  // What the http-client's send() requires: the URL as written is the URL that will be sent.
  test.prop([idText])("writes every job id it takes so that URL leaves the URL as it is", (jobId) => {
    const url = urlOrRefused(() => buildShowJobRequest({ ...target, jobId }));
    if (url === undefined) return;
    expect(new URL(url).href).toBe(url);
    expect(decodeURIComponent(new URL(url).pathname.split("/").at(-1) as string)).toBe(jobId);
  });
});

describe("buildListJobsRequest", () => {
  test.prop([
    fc.uniqueArray(fc.stringMatching(/^[0-9a-f]{32}$/), { minLength: 1, maxLength: 20 }),
    fc.nat(10_000),
    fc.integer({ min: 1, max: 100 }),
  ])("carries up to 20 request ids, offset and limit in the query", (requestIds, offset, limit) => {
    const request = buildListJobsRequest({ ...target, requestIds, offset, limit });
    const url = new URL(request.url);
    expect(request.method).toBe("GET");
    expect(`${url.origin}${url.pathname}`).toBe(`${base}/jobs`);
    expect(url.searchParams.get("request_ids")?.split(",")).toEqual(requestIds);
    expect(url.searchParams.get("offset")).toBe(String(offset));
    expect(url.searchParams.get("limit")).toBe(String(limit));
  });

  test.prop([fc.array(idText, { minLength: 1, maxLength: 20 })])(
    "writes every request id it takes so that URL leaves the URL as it is, and reads them back",
    (requestIds) => {
      const url = urlOrRefused(() => buildListJobsRequest({ ...target, requestIds }));
      if (url === undefined) return;
      expect(new URL(url).href).toBe(url);
      expect(new URL(url).searchParams.get("request_ids")?.split(",")).toEqual(requestIds);
    },
  );

  it("defaults to offset 0 and limit 100", () => {
    expect(buildListJobsRequest({ ...target, requestIds: ["a", "b"] }).url).toBe(
      `${base}/jobs?request_ids=a,b&offset=0&limit=100`,
    );
  });

  it("reports every problem of the query at once", () => {
    const ids = Array.from({ length: 21 }, (_, index) => `r${index}`);
    const error = catchValidation(() =>
      buildListJobsRequest({ ...target, requestIds: ids, offset: -1, limit: 101 }),
    );
    expect(error.issues.map((issue) => [issue.code, issue.path])).toEqual([
      ["request_ids_too_many", "requestIds"],
      ["offset_invalid", "offset"],
      ["limit_invalid", "limit"],
    ]);
  });

  it("refuses no ids, ids that would split or vanish, and limits outside 1-100", () => {
    const codes = (query: { requestIds: string[]; offset?: number; limit?: number }) =>
      catchValidation(() => buildListJobsRequest({ ...target, ...query })).issues.map((issue) => [
        issue.code,
        issue.path,
      ]);
    expect(codes({ requestIds: [] })).toEqual([["request_ids_empty", "requestIds"]]);
    expect(codes({ requestIds: ["a", "b,c", ""] })).toEqual([
      ["request_id_invalid", "requestIds[1]"],
      ["request_id_invalid", "requestIds[2]"],
    ]);
    expect(codes({ requestIds: ["a"], limit: 0 })).toEqual([["limit_invalid", "limit"]]);
    expect(codes({ requestIds: ["a"], limit: 2.5 })).toEqual([["limit_invalid", "limit"]]);
    expect(codes({ requestIds: ["a"], offset: 0.5 })).toEqual([["offset_invalid", "offset"]]);
  });
});

describe("buildIamTokenRequest", () => {
  it("sends the documented password body, scoped to a project id or name", () => {
    const request = buildIamTokenRequest({
      iamEndpoint: "https://iam.cn-north-4.myhuaweicloud.com/",
      domainName: "demo-account",
      userName: "demo-user",
      password: "demo-password-0001",
      project: { id: "0123456789abcdef0123456789abcdef" },
    });
    expect(request).toMatchObject({
      method: "POST",
      url: "https://iam.cn-north-4.myhuaweicloud.com/v3/auth/tokens",
      headers: { "Content-Type": "application/json;charset=utf8" },
    });
    expect(bodyJson(request)).toEqual({
      auth: {
        identity: {
          methods: ["password"],
          password: {
            user: { domain: { name: "demo-account" }, name: "demo-user", password: "demo-password-0001" },
          },
        },
        scope: { project: { id: "0123456789abcdef0123456789abcdef" } },
      },
    });
    const byName = buildIamTokenRequest({
      iamEndpoint: "https://iam.myhuaweicloud.com",
      domainName: "d",
      userName: "u",
      password: "p",
      project: { name: "cn-north-4" },
    });
    expect(bodyJson(byName)).toMatchObject({ auth: { scope: { project: { name: "cn-north-4" } } } });
  });
});

describe("buildBatchImportRequest", () => {
  it("posts restore_infos with only the documented fields", () => {
    const info = { phone_id: "a", bucket_name: "bucket", object_path: "a.tar", extra: true };
    const request = buildBatchImportRequest({ ...target, restoreInfos: [info] });
    expect(request.url).toBe(`${base}/phones/batch-restore`);
    expect(utf8Text(request.body!)).toBe(
      '{"restore_infos":[{"phone_id":"a","bucket_name":"bucket","object_path":"a.tar"}]}',
    );
  });
});
