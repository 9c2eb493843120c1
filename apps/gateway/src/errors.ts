/** One problem found in a request, with the JSON path of the value (as core reports it). */
export interface ErrorDetail {
  code: string;
  path: string;
  message: string;
}

/**
 * Every code the gateway itself answers with. Stable: callers match on them. Upstream (CPH, IAM,
 * API gateway) codes pass through unchanged and never start with `CPHGW.`.
 */
export const GATEWAY_ERRORS = {
  "CPHGW.4001": { status: 400, summary: "the request body breaks the CPH rules (every issue in details)" },
  "CPHGW.4002": { status: 400, summary: "the request body is not JSON" },
  "CPHGW.4003": { status: 400, summary: "the ListJobs query is invalid (every issue in details)" },
  "CPHGW.4004": { status: 400, summary: "the Idempotency-Key header is malformed" },
  "CPHGW.4005": { status: 400, summary: "the job id in the path is malformed" },
  "CPHGW.4006": {
    status: 400,
    summary: "the ListCloudPhones or ListCloudPhoneServers query is invalid (every issue in details)",
  },
  "CPHGW.4011": { status: 401, summary: "no credentials, or an unsupported Authorization scheme" },
  "CPHGW.4012": { status: 401, summary: "the bearer API key is not known" },
  "CPHGW.4013": {
    status: 401,
    summary: "the SDK-HMAC-SHA256 signature is malformed, does not match, or names an unknown access key",
  },
  "CPHGW.4014": { status: 401, summary: "X-Sdk-Date is missing, malformed or more than 15 minutes off" },
  "CPHGW.4031": { status: 403, summary: "the caller may not use this project id" },
  "CPHGW.4032": { status: 403, summary: "the caller may not write to this bucket" },
  "CPHGW.4033": { status: 403, summary: "the object path is outside the caller's allowed prefixes" },
  "CPHGW.4034": { status: 403, summary: "more phones in one request than the caller may send" },
  "CPHGW.4035": { status: 403, summary: "a phone of the request is not on one of the caller's servers" },
  "CPHGW.4036": { status: 403, summary: "the caller may not use this operation (export or restore)" },
  "CPHGW.4037": { status: 403, summary: "only the caller that started a campaign may cancel or resume it" },
  "CPHGW.4041": { status: 404, summary: "no such route" },
  "CPHGW.4042": { status: 404, summary: "no campaign with this id" },
  "CPHGW.4051": { status: 405, summary: "the route exists but not with this method" },
  "CPHGW.4091": { status: 409, summary: "a request with this Idempotency-Key is still in flight" },
  "CPHGW.4092": {
    status: 409,
    summary:
      "the campaign is not in a state that allows this (cancel a running one, resume a cancelled or stopped one)",
  },
  "CPHGW.4131": { status: 413, summary: "the request body is over the body limit (12 MB by default)" },
  "CPHGW.4221": { status: 422, summary: "this Idempotency-Key was used with a different request" },
  "CPHGW.4291": {
    status: 429,
    summary: "the caller's requests-per-minute limit is reached (see Retry-After)",
  },
  "CPHGW.5001": { status: 500, summary: "unexpected gateway failure (a bug: report it with the request id)" },
  "CPHGW.5021": { status: 502, summary: "the upstream could not be reached; nothing was sent" },
  "CPHGW.5022": {
    status: 502,
    summary: "the upstream connection failed after sending; the outcome is unknown",
  },
  "CPHGW.5023": { status: 502, summary: "the upstream answered with something the gateway could not read" },
  "CPHGW.5024": {
    status: 502,
    summary: "the phones of the caller's servers could not be listed to check an export; nothing was sent",
  },
  "CPHGW.5031": { status: 503, summary: "the gateway is shutting down" },
  "CPHGW.5032": { status: 503, summary: "the shared state store (Redis) is unavailable" },
  "CPHGW.5035": {
    status: 503,
    summary: "campaigns need Redis: this gateway runs without CPH_GATEWAY_REDIS_URL",
  },
  "CPHGW.5041": {
    status: 504,
    summary: "the upstream did not answer within the deadline; the call was aborted, outcome unknown",
  },
} as const satisfies Record<string, { status: number; summary: string }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** An answer the gateway gives itself: status from the code, a message a person can act on. */
export class GatewayError extends Error {
  readonly errorCode: GatewayErrorCode;
  readonly status: number;
  readonly details: readonly ErrorDetail[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    errorCode: GatewayErrorCode,
    message: string,
    options: { details?: readonly ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GatewayError";
    this.errorCode = errorCode;
    this.status = GATEWAY_ERRORS[errorCode].status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}
