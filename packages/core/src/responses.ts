import { CphApiError, CphAuthError, CphError } from "./errors.js";
import {
  batchExportResponseSchema,
  iamTokenResponseSchema,
  listCloudPhoneServersResponseSchema,
  listCloudPhonesResponseSchema,
  listJobsResponseSchema,
  showJobResponseSchema,
  type BatchExportResponse,
  type ListCloudPhoneServersResponse,
  type ListCloudPhonesResponse,
  type ListJobsResponse,
  type ShowJobResponse,
} from "./schemas.js";

/** An HTTP answer as plain data. */
export interface HttpResponseData {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
}

export function headerValue(headers: HttpResponseData["headers"], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export interface ParsedErrorBody {
  errorCode: string;
  errorMessage: string;
  requestId: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A code as the SDKs read it: a string, or a number (IAM's `{"error":{"code":401}}`) as text. */
function codeText(value: unknown): string | undefined {
  if (typeof value === "string" && value.length > 0) return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function messageText(value: unknown): string {
  return typeof value === "string" ? value : "";
}

const FLAT_SHAPES = [
  ["error_code", "error_msg"],
  ["errorCode", "errorMsg"],
  ["code", "message"],
] as const;

function readFlat(body: Record<string, unknown>): { errorCode: string; errorMessage: string } | undefined {
  for (const [codeKey, messageKey] of FLAT_SHAPES) {
    const errorCode = codeText(body[codeKey]);
    if (errorCode !== undefined) return { errorCode, errorMessage: messageText(body[messageKey]) };
  }
  return undefined;
}

/**
 * Reads every error body shape the official SDKs accept: `error_code/error_msg`,
 * `errorCode/errorMsg`, `code/message` and `{ error: { code, message } }`. A body that is not
 * JSON, or JSON without a code, gives the HTTP status as the code and the raw text as the message.
 */
export function parseErrorBody(status: number, bodyText: string): ParsedErrorBody {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  if (isRecord(json)) {
    const requestId = codeText(json["request_id"]);
    const flat = readFlat(json);
    if (flat) return { ...flat, requestId };
    const nested = json["error"];
    if (isRecord(nested)) {
      const inner = readFlat(nested);
      if (inner) return { ...inner, requestId: requestId ?? codeText(nested["request_id"]) };
    }
  }
  return {
    errorCode: String(status),
    errorMessage: bodyText.trim() || `HTTP ${status}`,
    requestId: undefined,
  };
}

/** `Retry-After` in milliseconds (seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Only an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`): Date.parse alone takes "-1" or "5." as dates.
  if (!/^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now.getTime());
}

const AUTH_CODES = new Set(["APIGW.0301", "APIGW.0302", "APIGW.0303", "CPS.0001"]);

/** The error for a non-2xx answer: `CphAuthError` for 401/403 and auth codes, else `CphApiError`. */
export function toCphError(response: HttpResponseData): CphApiError {
  const body = parseErrorBody(response.status, response.bodyText);
  const init = {
    status: response.status,
    errorCode: body.errorCode,
    errorMessage: body.errorMessage,
    requestId: body.requestId ?? headerValue(response.headers, "x-request-id"),
    retryAfterMs: parseRetryAfter(headerValue(response.headers, "retry-after")),
  };
  if (response.status === 401 || response.status === 403 || AUTH_CODES.has(body.errorCode))
    return new CphAuthError(init);
  return new CphApiError(init);
}

function parseJson(response: HttpResponseData): unknown {
  try {
    return JSON.parse(response.bodyText);
  } catch (cause) {
    throw new CphError(
      "ERR_CPH_API",
      `the service answered HTTP ${response.status} with a body that is not JSON`,
      {
        cause,
        requestId: headerValue(response.headers, "x-request-id"),
      },
    );
  }
}

function parseWith<T>(
  response: HttpResponseData,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: unknown } },
  what: string,
): T & { request_id?: string | null | undefined } {
  if (response.status < 200 || response.status > 299) throw toCphError(response);
  const parsed = schema.safeParse(parseJson(response));
  if (!parsed.success) {
    throw new CphError("ERR_CPH_API", `the ${what} response does not have the documented shape`, {
      cause: parsed.error,
      requestId: headerValue(response.headers, "x-request-id"),
    });
  }
  const data = parsed.data as T & { request_id?: string | null | undefined };
  if (!data.request_id) {
    const requestId = headerValue(response.headers, "x-request-id");
    if (requestId) data.request_id = requestId;
  }
  return data;
}

/** Parses a batch-storage (or batch-restore) answer; throws the `CphError` of a non-2xx. */
export function parseBatchExportResponse(response: HttpResponseData): BatchExportResponse {
  return parseWith(response, batchExportResponseSchema, "batch-storage");
}

export function parseShowJobResponse(response: HttpResponseData): ShowJobResponse {
  return parseWith(response, showJobResponseSchema, "ShowJob");
}

export function parseListJobsResponse(response: HttpResponseData): ListJobsResponse {
  return parseWith(response, listJobsResponseSchema, "ListJobs");
}

export function parseListCloudPhonesResponse(response: HttpResponseData): ListCloudPhonesResponse {
  return parseWith(response, listCloudPhonesResponseSchema, "ListCloudPhones");
}

export function parseListCloudPhoneServersResponse(
  response: HttpResponseData,
): ListCloudPhoneServersResponse {
  return parseWith(response, listCloudPhoneServersResponseSchema, "ListCloudPhoneServers");
}

export interface IamToken {
  token: string;
  expiresAt: Date;
}

/** Reads an IAM token answer: 201, `X-Subject-Token`, and `token.expires_at`. */
export function parseIamTokenResponse(response: HttpResponseData): IamToken {
  if (response.status !== 201 && response.status !== 200) throw toCphError(response);
  const token = headerValue(response.headers, "x-subject-token");
  if (!token) throw new CphError("ERR_CPH_AUTH", "IAM answered without an X-Subject-Token header");
  const parsed = iamTokenResponseSchema.safeParse(parseJson(response));
  const expiresAt = parsed.success ? parseIsoTime(parsed.data.token.expires_at) : new Date(Number.NaN);
  if (Number.isNaN(expiresAt.getTime()))
    throw new CphError("ERR_CPH_AUTH", "IAM answered without a readable token.expires_at");
  return { token, expiresAt };
}

/**
 * IAM writes `2026-01-02T03:04:05.123000Z` (microseconds); ECMAScript only defines milliseconds,
 * so the fraction is cut to three digits before parsing.
 */
function parseIsoTime(value: string): Date {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value.trim());
  if (!match) return new Date(Number.NaN);
  const fraction = match[2] === undefined ? "" : `.${match[2].slice(0, 3).padEnd(3, "0")}`;
  return new Date(`${match[1]}${fraction}${match[3]}`);
}
