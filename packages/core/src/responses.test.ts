import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CphApiError,
  CphAuthError,
  CphError,
  CphNetworkError,
  CphValidationError,
  isTransientErrorCode,
} from "./errors.js";
import {
  type HttpResponseData,
  headerValue,
  parseBatchExportResponse,
  parseErrorBody,
  parseIamTokenResponse,
  parseListJobsResponse,
  parseRetryAfter,
  parseShowJobResponse,
  toCphError,
} from "./responses.js";
import { jobState } from "./schemas.js";
import {
  APIGW_BODY_TOO_LARGE,
  APIGW_THROTTLED,
  APIGW_TOKEN_ERROR,
  BATCH_EXPORT_OK,
  BATCH_EXPORT_PARTIAL,
  CAMEL_ERROR,
  CODE_MESSAGE_ERROR,
  CPS_ERROR,
  HTML_BAD_GATEWAY,
  IAM_TOKEN_CREATED,
  IAM_UNAUTHORIZED,
  LIST_JOBS,
  NESTED_ERROR,
  SHOW_JOB_SUCCEEDED,
} from "./test-support/fixtures.js";

function response(
  status: number,
  bodyText: string,
  headers: HttpResponseData["headers"] = {},
): HttpResponseData {
  return { status, headers: { "Content-Type": "application/json", ...headers }, bodyText };
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("parsing successful answers", () => {
  it("reads the seed page's batch-storage example", () => {
    expect(parseBatchExportResponse(response(200, BATCH_EXPORT_OK))).toEqual({
      request_id: "6837531fd3f54550927b930180a706bf",
      jobs: [{ phone_id: "1234567b8bab40ffb711234cb80d0234", job_id: "1564567b8bab40f34711234cb80d0123" }],
    });
  });

  it("keeps a phone rejected inside a 200 as data, and leaves unknown fields out", () => {
    const parsed = parseBatchExportResponse(response(200, BATCH_EXPORT_PARTIAL));
    expect(parsed).toEqual({
      request_id: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
      jobs: [
        {
          phone_id: "1234567b8bab40ffb711234cb80d0234",
          job_id: "1564567b8bab40f34711234cb80d0123",
          error_code: null,
          error_msg: null,
        },
        {
          phone_id: "ffffffffffffffffffffffffffffffff",
          error_code: "CPS.0005",
          error_msg: "The cloud phone does not exist.",
        },
      ],
    });
  });

  it("reads ShowJob with null error fields and a field newer than the docs", () => {
    const job = parseShowJobResponse(response(200, SHOW_JOB_SUCCEEDED));
    expect(job).toMatchObject({ job_id: "1564567b8bab40f34711234cb80d0123", status: 2, error_code: null });
    expect(job).not.toHaveProperty("project_id");
    expect(jobState(job.status)).toBe("succeeded");
  });

  it("reads ListJobs and maps each status, surfacing an undocumented one as unknown", () => {
    const list = parseListJobsResponse(response(200, LIST_JOBS));
    expect(list.count).toBe(3);
    expect(list.jobs?.map((job) => [job.job_id, jobState(job.status)])).toEqual([
      ["j1", "running"],
      ["j2", "failed"],
      ["j3", "unknown"],
    ]);
    expect(list.jobs?.[1]).toMatchObject({ error_code: "CPS.0003", execute_msg: "upload to OBS failed" });
  });

  it("tolerates missing and null lists and takes the request id from X-Request-Id when the body has none", () => {
    expect(parseBatchExportResponse(response(200, "{}", { "X-Request-Id": "from-header" }))).toEqual({
      request_id: "from-header",
    });
    expect(parseListJobsResponse(response(200, '{"jobs":null}'))).toEqual({ jobs: null });
  });

  it("throws the CphError of a non-2xx answer, and a CphError for a body that is not JSON", () => {
    expect(thrown(() => parseShowJobResponse(response(400, CPS_ERROR)))).toMatchObject({
      code: "ERR_CPH_API",
      errorCode: "CPS.0005",
    });
    const error = thrown(() =>
      parseBatchExportResponse(response(200, HTML_BAD_GATEWAY, { "x-request-id": "r1" })),
    );
    expect(error).toBeInstanceOf(CphError);
    expect(error).toMatchObject({ code: "ERR_CPH_API", requestId: "r1" });
    expect(thrown(() => parseListJobsResponse(response(200, '{"jobs":"none"}')))).toMatchObject({
      code: "ERR_CPH_API",
    });
  });

  it("maps job statuses as documented, numbers or numeric strings, and nothing else", () => {
    expect([1, 2, -1, "1", "2", "-1"].map(jobState)).toEqual([
      "running",
      "succeeded",
      "failed",
      "running",
      "succeeded",
      "failed",
    ]);
    expect([0, 3, null, undefined, "done", "2.0", 2.5].map(jobState)).toEqual(Array(7).fill("unknown"));
  });
});

describe("parseErrorBody reads every error shape", () => {
  it.each([
    [
      "error_code/error_msg (CPS)",
      400,
      CPS_ERROR,
      "CPS.0005",
      "The cloud phone does not exist.",
      "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ],
    [
      "error_code/error_msg (APIGW)",
      401,
      APIGW_TOKEN_ERROR,
      "APIGW.0301",
      "The token must be updated.",
      "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
    ],
    [
      "errorCode/errorMsg",
      400,
      CAMEL_ERROR,
      "CPS.0004",
      "Invalid phone id.",
      "d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8",
    ],
    ["code/message", 400, CODE_MESSAGE_ERROR, "CPS.0002", "Invalid offset or limit.", undefined],
    [
      "nested error",
      403,
      NESTED_ERROR,
      "APIGW.0302",
      "The IAM user is not authorized to access the API.",
      undefined,
    ],
    [
      "nested error with a numeric code",
      401,
      IAM_UNAUTHORIZED,
      "401",
      "The username or password is wrong.",
      undefined,
    ],
    ["HTML instead of JSON", 502, HTML_BAD_GATEWAY, "502", HTML_BAD_GATEWAY, undefined],
    ["an empty body", 504, "", "504", "HTTP 504", undefined],
    ["JSON without a code", 500, '{"message_only":"x"}', "500", '{"message_only":"x"}', undefined],
    ["a JSON array", 500, "[1]", "500", "[1]", undefined],
    ["a code without a message", 400, '{"error_code":"CPS.0009"}', "CPS.0009", "", undefined],
  ])("%s", (_name, status, body, errorCode, errorMessage, requestId) => {
    expect(parseErrorBody(status, body)).toEqual({ errorCode, errorMessage, requestId });
  });

  test.prop([fc.string(), fc.integer({ min: 400, max: 599 })])(
    "any body gives a non-empty code and never throws a parse error",
    (body, status) => {
      const parsed = parseErrorBody(status, body);
      expect(parsed.errorCode.length).toBeGreaterThan(0);
      expect(typeof parsed.errorMessage).toBe("string");
    },
  );

  test.prop([
    fc.stringMatching(/^[A-Z]{2,5}\.\d{4}$/),
    fc.string(),
    fc.constantFrom("snake", "camel", "plain", "nested"),
  ])("the code and message of every shape come back as sent", (code, message, shape) => {
    const body =
      shape === "snake"
        ? { error_code: code, error_msg: message }
        : shape === "camel"
          ? { errorCode: code, errorMsg: message }
          : shape === "plain"
            ? { code, message }
            : { error: { code, message } };
    expect(parseErrorBody(400, JSON.stringify(body))).toEqual({
      errorCode: code,
      errorMessage: message,
      requestId: undefined,
    });
  });
});

describe("toCphError", () => {
  it.each([
    ["401 APIGW.0301", 401, APIGW_TOKEN_ERROR, CphAuthError, "ERR_CPH_AUTH", false],
    ["403 nested APIGW.0302", 403, NESTED_ERROR, CphAuthError, "ERR_CPH_AUTH", false],
    [
      "400 CPS.0001 no permission",
      400,
      '{"error_code":"CPS.0001","error_msg":"no permission"}',
      CphAuthError,
      "ERR_CPH_AUTH",
      false,
    ],
    [
      "401 APIGW.0303 clock skew",
      401,
      '{"error_code":"APIGW.0303","error_msg":"x-sdk-date expired"}',
      CphAuthError,
      "ERR_CPH_AUTH",
      false,
    ],
    ["429 APIGW.0308 throttled", 429, APIGW_THROTTLED, CphApiError, "ERR_CPH_API", true],
    [
      "429 APIG.0308 throttled",
      429,
      '{"error_code":"APIG.0308","error_msg":"throttled"}',
      CphApiError,
      "ERR_CPH_API",
      true,
    ],
    ["429 without a body", 429, "", CphApiError, "ERR_CPH_API", true],
    [
      "400 CPS.0003 retry later",
      400,
      '{"error_code":"CPS.0003","error_msg":"internal"}',
      CphApiError,
      "ERR_CPH_API",
      true,
    ],
    [
      "500 CPS.0003, which does not prove the work was not done",
      500,
      '{"error_code":"CPS.0003","error_msg":"internal"}',
      CphApiError,
      "ERR_CPH_API",
      false,
    ],
    [
      "502 APIGW.0201 backend unavailable",
      502,
      '{"error_code":"APIGW.0201","error_msg":"backend unavailable"}',
      CphApiError,
      "ERR_CPH_API",
      true,
    ],
    [
      "504 APIGW.0201 backend timeout",
      504,
      '{"error_code":"APIGW.0201","error_msg":"backend timeout"}',
      CphApiError,
      "ERR_CPH_API",
      false,
    ],
    ["413 APIGW.0201 body too large", 413, APIGW_BODY_TOO_LARGE, CphApiError, "ERR_CPH_API", false],
    ["400 CPS.0005 not found", 400, CPS_ERROR, CphApiError, "ERR_CPH_API", false],
    ["502 HTML from a proxy", 502, HTML_BAD_GATEWAY, CphApiError, "ERR_CPH_API", false],
    ["500 without a body", 500, "", CphApiError, "ERR_CPH_API", false],
  ] as const)("%s", (_name, status, body, errorClass, code, retryable) => {
    const error = toCphError(response(status, body));
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toBeInstanceOf(CphApiError);
    expect(error).toBeInstanceOf(CphError);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.retryable).toBe(retryable);
  });

  it("keeps the request id (body first, then X-Request-Id) and Retry-After", () => {
    const throttled = toCphError(
      response(429, APIGW_THROTTLED, { "retry-after": "3", "X-Request-Id": "header-id" }),
    );
    expect(throttled).toMatchObject({
      errorCode: "APIGW.0308",
      requestId: "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6",
      retryAfterMs: 3000,
    });
    expect(toCphError(response(400, CODE_MESSAGE_ERROR, { "X-Request-Id": "header-id" })).requestId).toBe(
      "header-id",
    );
  });

  it("says what happened, with the code, the status and the request id", () => {
    expect(toCphError(response(400, CPS_ERROR)).message).toBe(
      "CPS.0005: The cloud phone does not exist. (HTTP 400, request id 9f8e7d6c5b4a39281706f5e4d3c2b1a0)",
    );
    expect(toCphError(response(400, '{"error_code":"CPS.0009"}')).message).toBe("CPS.0009 (HTTP 400)");
  });

  it("only lets a method retry after an answer that proves the request was not processed", () => {
    const internal = toCphError(response(500, ""));
    expect(internal.retryableFor("GET")).toBe(true);
    expect(internal.retryableFor("POST")).toBe(false);
    expect(toCphError(response(429, APIGW_THROTTLED)).retryableFor("POST")).toBe(true);
    expect(toCphError(response(401, APIGW_TOKEN_ERROR)).retryableFor("GET")).toBe(false);
  });

  it("takes cph-gateway's answers given before forwarding as proof that nothing was processed", () => {
    const gateway = (status: number, code: string) =>
      toCphError(response(status, JSON.stringify({ error_code: code, error_msg: "x", request_id: "gw-1" })));
    for (const [status, code] of [
      [502, "CPHGW.5021"],
      [503, "CPHGW.5032"],
      [429, "CPHGW.4291"],
    ] as const) {
      expect(gateway(status, code).retryableFor("POST"), code).toBe(true);
      expect(isTransientErrorCode(code), code).toBe(true);
    }
    // Sent, outcome unknown; the same key's request in flight; or refused for what the request says.
    for (const [status, code] of [
      [409, "CPHGW.4091"],
      [502, "CPHGW.5022"],
      [504, "CPHGW.5041"],
      [502, "CPHGW.5023"],
      [403, "CPHGW.4032"],
      [400, "CPHGW.4001"],
    ] as const) {
      expect(gateway(status, code).retryableFor("POST"), code).toBe(false);
      expect(isTransientErrorCode(code), code).toBe(false);
    }
    expect(["APIGW.0308", "APIG.0308", "APIGW.0201", "CPS.0003"].every(isTransientErrorCode)).toBe(true);
    expect(isTransientErrorCode("CPS.0005")).toBe(false);
  });
});

describe("error classes", () => {
  it("CphNetworkError has a phase, no status, and is retryable only before sending", () => {
    const cause = new Error("ECONNREFUSED");
    const connect = new CphNetworkError("could not connect to cph.example:443", { phase: "connect", cause });
    expect(connect).toMatchObject({
      code: "ERR_CPH_NETWORK",
      phase: "connect",
      retryable: true,
      name: "CphNetworkError",
    });
    expect(connect.cause).toBe(cause);
    expect(connect).not.toHaveProperty("status");
    expect(new CphNetworkError("reset", { phase: "send" }).retryable).toBe(false);
    expect(new CphNetworkError("timeout", { phase: "response" }).retryable).toBe(false);
  });

  it("CphValidationError keeps its issues and summarises the first", () => {
    const issue = {
      code: "path_empty",
      path: "storage_infos[0].include_files[0]",
      message: "the path is empty",
      severity: "error",
    } as const;
    const error = new CphValidationError([issue, { ...issue, path: "storage_infos[1].include_files[0]" }]);
    expect(error).toMatchObject({ code: "ERR_CPH_VALIDATION", name: "CphValidationError", retryable: false });
    expect(error.message).toBe("storage_infos[0].include_files[0]: the path is empty (and 1 more)");
    expect(error.issues).toHaveLength(2);
    expect(new CphValidationError([]).message).toBe("invalid input");
  });

  it("keeps stable names that survive minification", () => {
    const init = { status: 401, errorCode: "APIGW.0301", errorMessage: "x" };
    expect(new CphAuthError(init).name).toBe("CphAuthError");
    expect(new CphApiError(init).name).toBe("CphApiError");
    expect(new CphError("ERR_CPH_API", "x").name).toBe("CphError");
  });
});

describe("parseRetryAfter", () => {
  const now = new Date("2026-01-02T03:04:05Z");
  it.each([
    ["2", 2000],
    ["0", 0],
    [" 1.5 ", 1500],
    ["Fri, 02 Jan 2026 03:04:10 GMT", 5000],
    ["Fri, 02 Jan 2026 03:00:00 GMT", 0],
    [undefined, undefined],
    ["", undefined],
    ["-1", undefined],
    ["5.", undefined],
    ["soon", undefined],
    ["2026-01-02", undefined],
  ])("%j -> %j", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe("parseIamTokenResponse", () => {
  const headers = { "X-Subject-Token": "MIIDkgYJKoZIhvcNAQcCoIIDgzCCA38CAQExDTALBglghkgBZQMEAgEw" };

  it("reads the token from X-Subject-Token and the expiry to the millisecond", () => {
    expect(parseIamTokenResponse(response(201, IAM_TOKEN_CREATED, headers))).toEqual({
      token: headers["X-Subject-Token"],
      expiresAt: new Date("2026-01-03T03:04:05.123Z"),
    });
    const lowerCase = { "x-subject-token": ["t1", "t2"] };
    expect(
      parseIamTokenResponse(response(201, '{"token":{"expires_at":"2026-01-03T03:04:05Z"}}', lowerCase)),
    ).toEqual({
      token: "t1",
      expiresAt: new Date("2026-01-03T03:04:05Z"),
    });
  });

  it("turns refusals and unreadable answers into errors that do not carry the token", () => {
    const refused = thrown(() => parseIamTokenResponse(response(401, IAM_UNAUTHORIZED)));
    expect(refused).toBeInstanceOf(CphAuthError);
    expect(refused).toMatchObject({ errorCode: "401", errorMessage: "The username or password is wrong." });
    expect(thrown(() => parseIamTokenResponse(response(201, IAM_TOKEN_CREATED)))).toMatchObject({
      code: "ERR_CPH_AUTH",
    });
    const badExpiry = thrown(() =>
      parseIamTokenResponse(response(201, '{"token":{"expires_at":"tomorrow"}}', headers)),
    ) as Error;
    expect(badExpiry).toMatchObject({ code: "ERR_CPH_AUTH" });
    expect(badExpiry.message).not.toContain(headers["X-Subject-Token"]);
  });
});

describe("headerValue", () => {
  it("finds a header in any case and takes the first of several", () => {
    expect(headerValue({ "X-Request-Id": "a" }, "x-request-id")).toBe("a");
    expect(headerValue({ "retry-after": ["1", "2"] }, "Retry-After")).toBe("1");
    expect(headerValue({ other: "x" }, "x-request-id")).toBeUndefined();
  });
});
