import type { ValidationIssue } from "./issues.js";

/** Stable codes of the error classes; match on these, never on class names. */
export type CphErrorCode = "ERR_CPH_VALIDATION" | "ERR_CPH_API" | "ERR_CPH_AUTH" | "ERR_CPH_NETWORK";

/** Root of every error this toolkit throws. */
export class CphError extends Error {
  readonly code: CphErrorCode;
  readonly retryable: boolean;
  readonly requestId: string | undefined;

  constructor(
    code: CphErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; requestId?: string | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CphError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.requestId = options.requestId;
  }
}

/** Input that breaks the API rules; nothing was sent. */
export class CphValidationError extends CphError {
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], message?: string) {
    super("ERR_CPH_VALIDATION", message ?? summarizeIssues(issues));
    this.name = "CphValidationError";
    this.issues = issues;
  }
}

export interface CphApiErrorInit {
  status: number;
  errorCode: string;
  errorMessage: string;
  requestId?: string | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** The service answered with an HTTP error. */
export class CphApiError extends CphError {
  readonly status: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly retryAfterMs: number | undefined;

  constructor(init: CphApiErrorInit, code: CphErrorCode = "ERR_CPH_API") {
    super(code, apiErrorMessage(init), {
      cause: init.cause,
      retryable: isRetryableApiError(init.status, init.errorCode),
      requestId: init.requestId,
    });
    this.name = "CphApiError";
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.errorMessage = init.errorMessage;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Whether a request with this method may be sent again after this answer. */
  retryableFor(method: string): boolean {
    if (this.retryable) return true;
    const idempotent = method === "GET" || method === "HEAD";
    return idempotent && this.status >= 500;
  }
}

/** 401/403: bad or expired token, bad signature, or no permission. Never retried in a loop. */
export class CphAuthError extends CphApiError {
  constructor(init: CphApiErrorInit) {
    super(init, "ERR_CPH_AUTH");
    this.name = "CphAuthError";
  }
}

/** Where a transport failure happened: only `connect` proves the request was never sent. */
export type NetworkPhase = "connect" | "send" | "response";

/** No HTTP answer at all (a transport failure is not a 5xx). */
export class CphNetworkError extends CphError {
  readonly phase: NetworkPhase;

  constructor(message: string, options: { phase: NetworkPhase; cause?: unknown }) {
    super("ERR_CPH_NETWORK", message, { cause: options.cause, retryable: options.phase === "connect" });
    this.name = "CphNetworkError";
    this.phase = options.phase;
  }
}

const THROTTLE_CODES = new Set(["APIGW.0308", "APIG.0308"]);

/**
 * Answers of cph-gateway (this toolkit's HTTP facade) given before anything was forwarded to CPH:
 * the caller is over its rate limit, CPH could not be reached (nothing was sent), or the gateway's
 * state store is down. (Not `CPHGW.4091`, "the same Idempotency-Key is in flight": that request was
 * not forwarded, but the one in flight with the same key may be doing its work.)
 */
const GATEWAY_NOT_FORWARDED_CODES = new Set(["CPHGW.4291", "CPHGW.5021", "CPHGW.5032"]);

/**
 * True only where the answer proves the request was not processed: throttling, the gateway
 * reporting its backend unavailable, CPS's documented "internal error, retry later" (a 400; the
 * same code on a 5xx proves nothing, since the failure may have come after the work), or a
 * cph-gateway answer given before forwarding anything.
 */
export function isRetryableApiError(status: number, errorCode: string): boolean {
  if (status === 429 || THROTTLE_CODES.has(errorCode)) return true;
  if (errorCode === "APIGW.0201") return status === 502 || status === 503;
  if (errorCode === "CPS.0003") return status < 500;
  return GATEWAY_NOT_FORWARDED_CODES.has(errorCode);
}

/**
 * Whether a phone refused with this error code was refused for a reason outside the phone and its
 * request (throttled, or a service or gateway unavailable before processing it): sending it again
 * later may succeed as it is. Result codes such as `not_sent` are the caller's to add.
 */
export function isTransientErrorCode(errorCode: string): boolean {
  return (
    THROTTLE_CODES.has(errorCode) ||
    errorCode === "APIGW.0201" ||
    errorCode === "CPS.0003" ||
    GATEWAY_NOT_FORWARDED_CODES.has(errorCode)
  );
}

function apiErrorMessage(init: CphApiErrorInit): string {
  const what = init.errorMessage ? `${init.errorCode}: ${init.errorMessage}` : init.errorCode;
  const where = init.requestId ? `HTTP ${init.status}, request id ${init.requestId}` : `HTTP ${init.status}`;
  return `${what} (${where})`;
}

function summarizeIssues(issues: readonly ValidationIssue[]): string {
  const first = issues[0];
  if (!first) return "invalid input";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return `${first.path ? `${first.path}: ` : ""}${first.message}${more}`;
}
