import { CphValidationError } from "./errors.js";
import type { ValidationIssue } from "./issues.js";
import { LIMITS } from "./limits.js";
import type { HttpRequest } from "./request.js";

/** The phone statuses of ListCloudPhones, by the word the CLI and the gateway accept for them. */
export const PHONE_STATUS_WORDS: readonly { word: string; codes: readonly number[] }[] = [
  { word: "creating", codes: [0, 1] },
  { word: "running", codes: [2] },
  { word: "resetting", codes: [3] },
  { word: "rebooting", codes: [4] },
  { word: "frozen", codes: [6] },
  { word: "shutting-down", codes: [7] },
  { word: "off", codes: [8] },
  { word: "reset-failed", codes: [-5] },
  { word: "reboot-failed", codes: [-6] },
  { word: "abnormal", codes: [-7] },
  { word: "create-failed", codes: [-8] },
  { word: "shutdown-failed", codes: [-9] },
];

/** Which statuses accept an export is unconfirmed: running only, unless the caller says otherwise. */
export const DEFAULT_EXPORTABLE_STATUSES: readonly number[] = [2];

/** `running` for 2; `status N` for a code the table does not know. */
export function phoneStatusWord(code: number): string {
  for (const entry of PHONE_STATUS_WORDS) if (entry.codes.includes(code)) return entry.word;
  return `status ${code}`;
}

/** A status word from the table (any letter case, `_` for `-`) or an integer, as the codes it names. */
export function parsePhoneStatus(
  input: string,
): { ok: true; value: number[] } | { ok: false; message: string } {
  const text = input.trim().toLowerCase().replaceAll("_", "-");
  if (/^-?\d{1,6}$/.test(text)) return { ok: true, value: [Number(text)] };
  const entry = PHONE_STATUS_WORDS.find((candidate) => candidate.word === text);
  if (entry) return { ok: true, value: [...entry.codes] };
  const words = PHONE_STATUS_WORDS.map((candidate) => candidate.word).join(", ");
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a phone status; use one of ${words}, or a status number`,
  };
}

interface Target {
  endpoint: string;
  projectId: string;
}

export interface ListCloudPhonesQuery {
  offset?: number | undefined;
  /** 1-100, default 100. */
  limit?: number | undefined;
  /** Fuzzy match on the phone name. */
  phoneName?: string | undefined;
  serverId?: string | undefined;
  status?: number | undefined;
  /** 0 ordinary, 1 trial. */
  type?: number | undefined;
}

export interface ListCloudPhoneServersQuery {
  offset?: number | undefined;
  limit?: number | undefined;
  serverName?: string | undefined;
  serverId?: string | undefined;
}

function issue(code: ValidationIssue["code"], path: string, message: string): ValidationIssue {
  return { code, path, message, severity: "error" };
}

/** A query value as the URL standard writes it (encodeURIComponent leaves `'`, which URL encodes). */
function queryValue(value: string): string {
  return encodeURIComponent(value).replaceAll("'", "%27");
}

const LONE_SURROGATE = /\p{Cs}/u;

function listUrl(
  target: Target,
  resource: "phones" | "servers",
  query: { offset?: number | undefined; limit?: number | undefined },
  filters: ReadonlyArray<readonly [name: string, path: string, value: string | number | undefined]>,
): HttpRequest {
  const { offset = 0, limit = LIMITS.listJobsMaxLimit } = query;
  const problems: ValidationIssue[] = [];
  if (!target.projectId) problems.push(issue("required", "projectId", "projectId is required"));
  if (!Number.isSafeInteger(offset) || offset < 0)
    problems.push(issue("offset_invalid", "offset", "offset must be a whole number of 0 or more"));
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit)
    problems.push(
      issue("limit_invalid", "limit", `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`),
    );
  const parts = [`offset=${offset}`, `limit=${limit}`];
  for (const [name, path, value] of filters) {
    if (value === undefined) continue;
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value))
        problems.push(issue("filter_invalid", path, `${path} must be a whole number`));
      else parts.push(`${name}=${value}`);
      continue;
    }
    if (value === "" || LONE_SURROGATE.test(value)) {
      problems.push(issue("filter_invalid", path, `${path} must be non-empty, well-formed Unicode`));
      continue;
    }
    parts.push(`${name}=${queryValue(value)}`);
  }
  if (problems.length > 0) throw new CphValidationError(problems);
  const base = `${target.endpoint.replace(/\/+$/, "")}/v1/${encodeURIComponent(target.projectId)}/cloud-phone`;
  return { method: "GET", url: `${base}/${resource}?${parts.join("&")}`, headers: {} };
}

/**
 * ListCloudPhones: `GET /v1/{project_id}/cloud-phone/phones?offset=0&limit=100&...`. Throws a
 * `CphValidationError` with every problem of the query at once. The answer has no total: page until
 * a page is shorter than `limit`.
 */
export function buildListCloudPhonesRequest(options: Target & ListCloudPhonesQuery): HttpRequest {
  return listUrl(options, "phones", options, [
    ["phone_name", "phoneName", options.phoneName],
    ["server_id", "serverId", options.serverId],
    ["status", "status", options.status],
    ["type", "type", options.type],
  ]);
}

/** ListCloudPhoneServers: `GET /v1/{project_id}/cloud-phone/servers?offset=0&limit=100&...`. */
export function buildListCloudPhoneServersRequest(options: Target & ListCloudPhoneServersQuery): HttpRequest {
  return listUrl(options, "servers", options, [
    ["server_name", "serverName", options.serverName],
    ["server_id", "serverId", options.serverId],
  ]);
}
