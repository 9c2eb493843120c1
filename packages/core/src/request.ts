import { utf8Bytes } from "./bytes.js";
import { CphValidationError } from "./errors.js";
import type { ValidationIssue } from "./issues.js";
import { LIMITS } from "./limits.js";
import type { RestoreInfo, StorageInfo } from "./schemas.js";
import {
  ENVELOPE_BYTES,
  RESTORE_ENVELOPE_BYTES,
  restoreInfoJsonBytes,
  restoreInfoJsonBytesBound,
  serializeBatchExportBody,
  serializeBatchImportBody,
  storageInfoJsonBytes,
  storageInfoJsonBytesBound,
} from "./serialize.js";

/** A request as plain data: what `http-client` sends and what signing reads. */
export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  /** The exact bytes to send (and to hash when signing); absent for GET. */
  body?: Uint8Array;
}

interface Target {
  /** CPH base URL, e.g. from `resolveEndpoint`. */
  endpoint: string;
  projectId: string;
}

function base({ endpoint, projectId }: Target): string {
  if (!projectId)
    throw new CphValidationError([
      { code: "required", path: "projectId", message: "projectId is required", severity: "error" },
    ]);
  return `${endpoint.replace(/\/+$/, "")}/v1/${encodeURIComponent(projectId)}/cloud-phone`;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/**
 * The batch-storage request for these storage infos, with the exact body bytes. It does not
 * validate: run `validateBatchExportRequest` first.
 */
export function buildBatchExportRequest(
  options: Target & { storageInfos: readonly StorageInfo[] },
): HttpRequest {
  const body = serializeBatchExportBody(options.storageInfos);
  return {
    method: "POST",
    url: `${base(options)}/phones/batch-storage`,
    headers: { ...JSON_HEADERS },
    body: utf8Bytes(body),
  };
}

/**
 * The batch-restore request for these restore infos, with only their documented fields. It does
 * not validate: run `validateBatchImportRequest` first.
 */
export function buildBatchImportRequest(
  options: Target & { restoreInfos: readonly RestoreInfo[] },
): HttpRequest {
  return {
    method: "POST",
    url: `${base(options)}/phones/batch-restore`,
    headers: { ...JSON_HEADERS },
    body: utf8Bytes(serializeBatchImportBody(options.restoreInfos)),
  };
}

/** ShowJob: `GET /v1/{project_id}/cloud-phone/jobs/{job_id}`. */
export function buildShowJobRequest(options: Target & { jobId: string }): HttpRequest {
  if (!options.jobId)
    throw new CphValidationError([
      { code: "required", path: "jobId", message: "jobId is required", severity: "error" },
    ]);
  // Left as they are by encodeURIComponent, these would be read as path segments: jobs/.. is /cloud-phone.
  if (options.jobId === "." || options.jobId === "..")
    throw new CphValidationError([
      issue("job_id_invalid", "jobId", `a job id of ${options.jobId} would name another path`),
    ]);
  if (LONE_SURROGATE.test(options.jobId))
    throw new CphValidationError([
      issue("job_id_invalid", "jobId", "a job id must be well-formed Unicode (it has a lone surrogate)"),
    ]);
  return { method: "GET", url: `${base(options)}/jobs/${encodeURIComponent(options.jobId)}`, headers: {} };
}

/** A UTF-16 surrogate without its pair: not text, and encodeURIComponent throws on it. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A query value as the URL standard writes it: encodeURIComponent leaves `'`, which URL encodes. */
function queryValue(value: string): string {
  return encodeURIComponent(value).replaceAll("'", "%27");
}

export interface ListJobsQuery {
  /** At most 20 request ids, sent as `request_ids`. */
  requestIds: readonly string[];
  offset?: number;
  /** 1-100, default 100. */
  limit?: number;
}

function issue(code: ValidationIssue["code"], path: string, message: string): ValidationIssue {
  return { code, path, message, severity: "error" };
}

/**
 * ListJobs: `GET /v1/{project_id}/cloud-phone/jobs?request_ids=a,b&offset=0&limit=100`. Throws a
 * `CphValidationError` with every problem of the query (ids, offset, limit) at once.
 */
export function buildListJobsRequest(options: Target & ListJobsQuery): HttpRequest {
  const { requestIds, offset = 0, limit = LIMITS.listJobsMaxLimit } = options;
  const problems: ValidationIssue[] = [];
  if (requestIds.length === 0)
    problems.push(issue("request_ids_empty", "requestIds", "give at least one request id"));
  if (requestIds.length > LIMITS.listJobsMaxRequestIds) {
    problems.push(
      issue(
        "request_ids_too_many",
        "requestIds",
        `${requestIds.length} request ids; ListJobs takes at most ${LIMITS.listJobsMaxRequestIds}, so split them over several calls`,
      ),
    );
  }
  requestIds.forEach((id, index) => {
    // The ids travel comma-separated: an empty id or one with a comma would silently become other ids.
    if (typeof id !== "string" || id.length === 0 || id.includes(",") || LONE_SURROGATE.test(id)) {
      problems.push(
        issue(
          "request_id_invalid",
          `requestIds[${index}]`,
          "a request id must be a non-empty string of well-formed Unicode without commas",
        ),
      );
    }
  });
  if (!Number.isSafeInteger(offset) || offset < 0) {
    problems.push(issue("offset_invalid", "offset", "offset must be a whole number of 0 or more"));
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit) {
    problems.push(
      issue("limit_invalid", "limit", `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`),
    );
  }
  if (problems.length > 0) throw new CphValidationError(problems);
  const ids = requestIds.map(queryValue).join(",");
  return {
    method: "GET",
    url: `${base(options)}/jobs?request_ids=${ids}&offset=${offset}&limit=${limit}`,
    headers: {},
  };
}

export interface IamPasswordAuth {
  /** IAM endpoint, e.g. from `resolveIamEndpoint`. */
  iamEndpoint: string;
  /** Account (domain) name. */
  domainName: string;
  userName: string;
  password: string;
  project: { id: string } | { name: string };
}

/** `POST {iam}/v3/auth/tokens` with the password method, scoped to a project. */
export function buildIamTokenRequest(options: IamPasswordAuth): HttpRequest {
  const body = {
    auth: {
      identity: {
        methods: ["password"],
        password: {
          user: { domain: { name: options.domainName }, name: options.userName, password: options.password },
        },
      },
      scope: { project: options.project },
    },
  };
  return {
    method: "POST",
    url: `${options.iamEndpoint.replace(/\/+$/, "")}/v3/auth/tokens`,
    headers: { "Content-Type": "application/json;charset=utf8" },
    body: utf8Bytes(JSON.stringify(body)),
  };
}

export interface BatchOptions {
  /** Phones per request; default 100. */
  batchSize?: number;
  /** Largest body; default 12 MB. */
  maxBodyBytes?: number;
}

/** How a batcher measures the entries of one kind of request (export or restore). */
interface EntryKind<T> {
  /** The body's list field: the error path of an entry too large to send is `${list}[n]`. */
  list: "storage_infos" | "restore_infos";
  envelopeBytes: number;
  bytes(info: T): number;
  bound(info: T): number;
  /** What to shorten when one entry alone is over the limit. */
  hint: string;
}

const STORAGE_KIND: EntryKind<StorageInfo> = {
  list: "storage_infos",
  envelopeBytes: ENVELOPE_BYTES,
  bytes: storageInfoJsonBytes,
  bound: storageInfoJsonBytesBound,
  hint: "list fewer or shorter paths",
};

const RESTORE_KIND: EntryKind<RestoreInfo> = {
  list: "restore_infos",
  envelopeBytes: RESTORE_ENVELOPE_BYTES,
  bytes: restoreInfoJsonBytes,
  bound: restoreInfoJsonBytesBound,
  hint: "use a shorter bucket name or object path",
};

/**
 * Packs entries into request-sized batches, in order: at most `batchSize` each, never over
 * `maxBodyBytes`, and a phone id at most once per batch (a repeat starts a new batch). One
 * implementation for export and restore, so both batch by the same rules.
 */
class EntryBatcher<T extends { phone_id: string }> {
  readonly #kind: EntryKind<T>;
  readonly #batchSize: number;
  readonly #maxBodyBytes: number;
  #current: T[] = [];
  /** An upper bound of the current body's bytes. */
  #bound: number;
  /** The current body's exact bytes, once the bound came near the limit; undefined before. */
  #exact: number | undefined;
  #phoneIds = new Set<string>();
  #added = 0;

  constructor(kind: EntryKind<T>, options: BatchOptions) {
    this.#kind = kind;
    this.#bound = kind.envelopeBytes;
    this.#batchSize = options.batchSize ?? LIMITS.defaultPhonesPerRequest;
    this.#maxBodyBytes = options.maxBodyBytes ?? LIMITS.maxBodyBytes;
    const problems: ValidationIssue[] = [];
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      problems.push(
        issue("storage_infos_too_many", "batchSize", "batchSize must be a whole number of 1 or more"),
      );
    }
    if (!Number.isInteger(this.#maxBodyBytes) || this.#maxBodyBytes < kind.envelopeBytes) {
      problems.push(
        issue(
          "body_too_large",
          "maxBodyBytes",
          `maxBodyBytes must be a whole number of ${kind.envelopeBytes} or more`,
        ),
      );
    }
    if (problems.length > 0) throw new CphValidationError(problems);
  }

  /**
   * Adds one entry; returns a finished batch when one is complete. Sizes are cheap upper bounds
   * while a batch is far from the byte limit (always, with 100 phones and 12 MB), and exact
   * once it comes near, so the limit is never passed and never undercut.
   */
  add(info: T): T[] | undefined {
    const kind = this.#kind;
    const index = this.#added++;
    const max = this.#maxBodyBytes;
    let size = kind.bound(info);
    let exact = false;
    if (kind.envelopeBytes + size > max) {
      size = kind.bytes(info);
      exact = true;
      if (kind.envelopeBytes + size > max) {
        throw new CphValidationError([
          issue(
            "storage_info_too_large",
            `${kind.list}[${index}]`,
            `phone ${info.phone_id}'s request body alone would be ${kind.envelopeBytes + size} bytes, over the ${max}-byte limit; ${kind.hint}`,
          ),
        ]);
      }
    }
    let full: T[] | undefined;
    if (this.#current.length > 0) {
      if (this.#phoneIds.has(info.phone_id)) full = this.flush();
      else if (this.#exact !== undefined || this.#bound + 1 + size > max) {
        // Near the limit: decide on exact sizes from here to the end of this batch.
        if (!exact) {
          size = kind.bytes(info);
          exact = true;
        }
        this.#exact ??= this.#exactBodyBytes();
        if (this.#exact + 1 + size > max) full = this.flush();
      }
    }
    const separator = this.#current.length > 0 ? 1 : 0;
    this.#bound += separator + size;
    if (this.#exact !== undefined) this.#exact += separator + (exact ? size : kind.bytes(info));
    this.#current.push(info);
    this.#phoneIds.add(info.phone_id);
    // Both cannot hold at once: after a flush the batch has one info, and size 1 batches never carry over.
    if (this.#current.length >= this.#batchSize) return this.flush();
    return full;
  }

  /** Returns what is pending (or undefined when nothing is). */
  flush(): T[] | undefined {
    if (this.#current.length === 0) return undefined;
    const batch = this.#current;
    this.#current = [];
    this.#bound = this.#kind.envelopeBytes;
    this.#exact = undefined;
    this.#phoneIds = new Set();
    return batch;
  }

  #exactBodyBytes(): number {
    let bytes = this.#kind.envelopeBytes + Math.max(0, this.#current.length - 1);
    for (const info of this.#current) bytes += this.#kind.bytes(info);
    return bytes;
  }
}

/**
 * Packs storage infos into request-sized batches, in order: at most `batchSize` each, never over
 * `maxBodyBytes`, and a phone id at most once per batch (a repeat starts a new batch). Feed it
 * one info at a time, so any number of phones streams through. A single info whose body alone is
 * over `maxBodyBytes` cannot be sent at all: `add` throws a `CphValidationError`
 * (`storage_info_too_large`, path `storage_infos[n]`, n counting every info added).
 */
export class StorageInfoBatcher extends EntryBatcher<StorageInfo> {
  constructor(options: BatchOptions = {}) {
    super(STORAGE_KIND, options);
  }
}

/**
 * `StorageInfoBatcher` for batch-restore: the same rules and limits (the same code), for
 * `restore_infos`; an entry too large to send is reported at `restore_infos[n]`.
 */
export class RestoreInfoBatcher extends EntryBatcher<RestoreInfo> {
  constructor(options: BatchOptions = {}) {
    super(RESTORE_KIND, options);
  }
}

function* chunk<T extends { phone_id: string }>(
  batcher: EntryBatcher<T>,
  infos: Iterable<T>,
): Generator<T[]> {
  for (const info of infos) {
    const batch = batcher.add(info);
    if (batch) yield batch;
  }
  const rest = batcher.flush();
  if (rest) yield rest;
}

/** Splits any number of storage infos into request-sized batches (see `StorageInfoBatcher`). */
export function chunkStorageInfos(
  infos: Iterable<StorageInfo>,
  options: BatchOptions = {},
): Generator<StorageInfo[]> {
  return chunk(new StorageInfoBatcher(options), infos);
}

/** Splits any number of restore infos into request-sized batches (see `RestoreInfoBatcher`). */
export function chunkRestoreInfos(
  infos: Iterable<RestoreInfo>,
  options: BatchOptions = {},
): Generator<RestoreInfo[]> {
  return chunk(new RestoreInfoBatcher(options), infos);
}

/**
 * The restore info that brings back what this export wrote: the same phone, bucket and object
 * path (pass `phoneId` to restore onto another phone).
 */
export function restoreInfoFromStorageInfo(info: StorageInfo, phoneId: string = info.phone_id): RestoreInfo {
  return { phone_id: phoneId, bucket_name: info.bucket_name, object_path: info.object_path };
}
