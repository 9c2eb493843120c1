import { CphApiError, CphAuthError, CphError } from "./errors.js";
import {
  batchExportResponseSchema,
  cphErrorBodySchema,
  iamTokenResponseSchema,
  listJobsResponseSchema,
  showJobResponseSchema,
  type BatchExportResponse,
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

/**
 * Reads every error body shape the official SDKs accept: `error_code/error_msg`,
 * `errorCode/errorMsg`, `code/message` and `{ error: { code, message } }`. A body that is not
 * JSON gives the HTTP status as the code and the raw text as the message.
 */
export function parseErrorBody(status: number, bodyText: string): ParsedErrorBody {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return { errorCode: String(status), errorMessage: bodyText.trim() || `HTTP ${status}`, requestId: undefined };
  }
  const parsed = cphErrorBodySchema.safeParse(json);
  if (!parsed.success) {
    return { errorCode: String(status), errorMessage: bodyText.trim() || `HTTP ${status}`, requestId: undefined };
  }
  const body = parsed.data;
  const requestId = body.request_id ?? undefined;
  if ("error_code" in body) return { errorCode: body.error_code, errorMessage: body.error_msg ?? "", requestId };
  if ("errorCode" in body) return { errorCode: body.errorCode, errorMessage: body.errorMsg ?? "", requestId };
  if ("error" in body) return { errorCode: body.error.code, errorMessage: body.error.message ?? "", requestId };
  return { errorCode: body.code, errorMessage: body.message ?? "", requestId };
}

/** `Retry-After` in milliseconds (seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
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
  if (response.status === 401 || response.status === 403 || AUTH_CODES.has(body.errorCode)) return new CphAuthError(init);
  return new CphApiError(init);
}

function parseJson(response: HttpResponseData): unknown {
  try {
    return JSON.parse(response.bodyText);
  } catch (cause) {
    throw new CphError("ERR_CPH_API", `the service answered HTTP ${response.status} with a body that is not JSON`, {
      cause,
      requestId: headerValue(response.headers, "x-request-id"),
    });
  }
}

function parseWith<T>(response: HttpResponseData, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: unknown } }, what: string): T & { request_id?: string | null | undefined } {
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
  const expiresAt = parsed.success ? new Date(parsed.data.token.expires_at) : new Date(Number.NaN);
  if (Number.isNaN(expiresAt.getTime())) throw new CphError("ERR_CPH_AUTH", "IAM answered without a readable token.expires_at");
  return { token, expiresAt };
}
