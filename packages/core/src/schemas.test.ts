import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { utf8Text } from "./bytes.js";
import { buildIamTokenRequest } from "./request.js";
import {
  batchExportRequestSchema,
  batchExportResponseSchema,
  iamTokenRequestSchema,
  iamTokenResponseSchema,
  listJobsResponseSchema,
  showJobResponseSchema,
} from "./schemas.js";
import { batchExportRequestArb } from "./test-support/arbitraries.js";
import {
  BATCH_EXPORT_PARTIAL,
  IAM_TOKEN_CREATED,
  LIST_JOBS,
  SHOW_JOB_SUCCEEDED,
} from "./test-support/fixtures.js";
import { validateBatchExportRequest } from "./validate.js";

describe("request schemas are strict", () => {
  test.prop([batchExportRequestArb])(
    "every request the validator accepts has the schema's shape",
    (request) => {
      expect(validateBatchExportRequest(request).ok).toBe(true);
      expect(batchExportRequestSchema.parse(request)).toEqual(request);
    },
  );

  test.prop([batchExportRequestArb, fc.constantFrom("phoneId", "includeFiles", "bucket")])(
    "a misspelt field is refused, not dropped",
    (request, key) => {
      const misspelt = { storage_infos: [{ ...request.storage_infos[0]!, [key]: "x" }] };
      expect(batchExportRequestSchema.safeParse(misspelt).success).toBe(false);
    },
  );

  it("describes the IAM password body that buildIamTokenRequest sends", () => {
    const request = buildIamTokenRequest({
      iamEndpoint: "https://iam.myhuaweicloud.com",
      domainName: "demo-account",
      userName: "demo-user",
      password: "demo-password-0001",
      project: { name: "cn-north-4" },
    });
    const body = JSON.parse(utf8Text(request.body!));
    expect(iamTokenRequestSchema.parse(body)).toEqual(body);
    expect(
      iamTokenRequestSchema.safeParse({ auth: { ...body.auth, identity: { methods: [] } } }).success,
    ).toBe(false);
  });
});

describe("response schemas are tolerant", () => {
  it("accept null and missing fields and leave unknown ones out", () => {
    expect(batchExportResponseSchema.parse(JSON.parse(BATCH_EXPORT_PARTIAL))).not.toHaveProperty(
      "unexpected_new_field",
    );
    expect(showJobResponseSchema.parse(JSON.parse(SHOW_JOB_SUCCEEDED))).toMatchObject({
      error_msg: null,
      status: 2,
    });
    expect(listJobsResponseSchema.parse(JSON.parse(LIST_JOBS)).jobs).toHaveLength(3);
    expect(showJobResponseSchema.parse({})).toEqual({});
    expect(iamTokenResponseSchema.parse(JSON.parse(IAM_TOKEN_CREATED)).token.expires_at).toBe(
      "2026-01-03T03:04:05.123000Z",
    );
  });

  it("still refuse a value of the wrong type where one is given", () => {
    expect(showJobResponseSchema.safeParse({ job_id: 42 }).success).toBe(false);
    expect(listJobsResponseSchema.safeParse({ jobs: {} }).success).toBe(false);
  });
});
