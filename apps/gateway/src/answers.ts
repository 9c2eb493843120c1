// Answers as data (status, headers, body), so that they can be stored for an idempotent replay:
// the headers every answer carries, error bodies, and upstream failures mapped to answers.
import {
  CphApiError,
  CphAuthError,
  CphError,
  CphNetworkError,
  CphValidationError,
  type ValidationIssue,
} from "@cph-export/core";
import { type ErrorDetail, GatewayError, type GatewayErrorCode } from "./errors.js";
import type { StoredResponse } from "./state-store.js";

/** Shared by the answers that pass CPH's body on: read, never changed. */
export const JSON_HEADERS = { "Content-Type": "application/json; charset=UTF-8" };

/**
 * The headers of hono's `secureHeaders()` with its defaults, on every answer. Written out so that
 * the CPH answers carry them from the start (a test checks that both agree).
 */
export const SECURE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Origin-Agent-Cluster": "?1",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-DNS-Prefetch-Control": "off",
  "X-Download-Options": "noopen",
  "X-Frame-Options": "SAMEORIGIN",
  "X-Permitted-Cross-Domain-Policies": "none",
  "X-XSS-Protection": "0",
});

/** A finished answer as data, so that it can be stored for an idempotent replay. */
export interface Answer extends StoredResponse {
  /** Whether a duplicate should get this answer again (false: nothing happened upstream, a retry is safe). */
  storable: boolean;
}

export function errorBody(
  code: string,
  message: string,
  requestId: string | undefined,
  details?: readonly ErrorDetail[],
): string {
  return JSON.stringify(
    details === undefined
      ? { error_code: code, error_msg: message, request_id: requestId }
      : { error_code: code, error_msg: message, request_id: requestId, details },
  );
}

export function issueDetails(
  issues: readonly ValidationIssue[],
  rename: (path: string) => string = (path) => path,
): ErrorDetail[] {
  return issues.map((issue) => ({ code: issue.code, path: rename(issue.path), message: issue.message }));
}

/**
 * What the caller gets for an upstream call that failed: CPH's own error passed on (status and
 * code), or the gateway's CPHGW.50xx code saying whether anything may have happened upstream, and
 * whether a duplicate (same Idempotency-Key) should get the same answer again.
 */
export function upstreamErrorAnswer(error: unknown, requestId: string): Answer & { errorCode: string } {
  const gateway = (code: GatewayErrorCode, message: string, storable: boolean, details?: ErrorDetail[]) => {
    const instance = new GatewayError(code, message);
    return {
      status: instance.status,
      headers: { ...JSON_HEADERS },
      body: errorBody(code, message, requestId, details),
      storable,
      errorCode: code,
    };
  };
  if (error instanceof GatewayError) {
    // Only the deadline reaches here; the call may have been processed, so a duplicate must not resend it.
    return {
      ...gateway(error.errorCode, error.message, error.errorCode === "CPHGW.5041"),
      headers: { ...JSON_HEADERS, ...error.headers },
    };
  }
  if (error instanceof CphApiError) {
    if (error.status < 400 || error.status > 599) {
      return gateway(
        "CPHGW.5023",
        `the upstream answered HTTP ${error.status} (${error.errorCode}), which the gateway does not pass on`,
        true,
      );
    }
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (error.retryAfterMs !== undefined)
      headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    // The caller was already authenticated here: an auth refusal upstream is about the gateway's own credentials.
    const upstreamAuth = error instanceof CphAuthError;
    const message = upstreamAuth
      ? `CPH refused the gateway's own upstream credentials, not the caller's (${error.errorMessage || error.errorCode}); ask the gateway's operators to check its upstream keys, token or clock`
      : error.errorMessage;
    return {
      status: error.status,
      headers,
      body: JSON.stringify({
        error_code: error.errorCode,
        error_msg: message,
        request_id: error.requestId ?? requestId,
      }),
      // Replaying an auth refusal for a day would outlive the operators' fix.
      storable: !error.retryable && !upstreamAuth,
      errorCode: error.errorCode,
    };
  }
  if (error instanceof CphValidationError) {
    return gateway(
      "CPHGW.4001",
      `the request breaks the CPH rules: ${error.message}`,
      false,
      issueDetails(error.issues),
    );
  }
  if (error instanceof CphNetworkError) {
    return error.phase === "connect"
      ? gateway("CPHGW.5021", "the upstream could not be reached; nothing was sent, a retry is safe", false)
      : gateway(
          "CPHGW.5022",
          "the upstream connection failed after the request was sent; the outcome is unknown: check the jobs before retrying",
          true,
        );
  }
  if (error instanceof CphError) {
    return gateway(
      "CPHGW.5023",
      "the upstream answered with something the gateway could not read",
      error.code === "ERR_CPH_API",
    );
  }
  throw error;
}

/** The request id sent upstream, so that one id follows a call from the caller to CPH. */
export function traced(requestId: string): Record<string, string> {
  return { "X-Request-Id": requestId };
}

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Whether a text is, at a glance, a JSON object: `{` first and `}` last, but for JSON whitespace. */
export function isJsonObjectText(text: string): boolean {
  let start = 0;
  let end = text.length - 1;
  while (start <= end && JSON_WHITESPACE.has(text.charCodeAt(start))) start++;
  while (end > start && JSON_WHITESPACE.has(text.charCodeAt(end))) end--;
  return end > start && text.charCodeAt(start) === 0x7b && text.charCodeAt(end) === 0x7d;
}

export function readErrorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error_code?: unknown };
    return typeof parsed.error_code === "string" ? parsed.error_code : undefined;
  } catch {
    return undefined;
  }
}
