import { utf8Bytes, utf8Length } from "./bytes.js";
import { CphValidationError } from "./errors.js";
import { LIMITS } from "./limits.js";
import type { StorageInfo, RestoreInfo } from "./schemas.js";
import { serializeStorageInfo } from "./serialize.js";
import { ENVELOPE_BYTES } from "./validate.js";

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
  if (!projectId) throw new CphValidationError([{ code: "required", path: "projectId", message: "projectId is required", severity: "error" }]);
  return `${endpoint.replace(/\/+$/, "")}/v1/${encodeURIComponent(projectId)}/cloud-phone`;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/**
 * The batch-storage request for these storage infos, with the exact body bytes. It does not
 * validate: run `validateBatchExportRequest` first.
 */
export function buildBatchExportRequest(options: Target & { storageInfos: readonly StorageInfo[] }): HttpRequest {
  const body = `{"storage_infos":[${options.storageInfos.map(serializeStorageInfo).join(",")}]}`;
  return { method: "POST", url: `${base(options)}/phones/batch-storage`, headers: { ...JSON_HEADERS }, body: utf8Bytes(body) };
}

/** The batch-restore request for these restore infos. */
export function buildBatchImportRequest(options: Target & { restoreInfos: readonly RestoreInfo[] }): HttpRequest {
  const infos = options.restoreInfos.map(({ phone_id, bucket_name, object_path }) => ({ phone_id, bucket_name, object_path }));
  return {
    method: "POST",
    url: `${base(options)}/phones/batch-restore`,
    headers: { ...JSON_HEADERS },
    body: utf8Bytes(JSON.stringify({ restore_infos: infos })),
  };
}

/** ShowJob: `GET /v1/{project_id}/cloud-phone/jobs/{job_id}`. */
export function buildShowJobRequest(options: Target & { jobId: string }): HttpRequest {
  if (!options.jobId) throw new CphValidationError([{ code: "required", path: "jobId", message: "jobId is required", severity: "error" }]);
  return { method: "GET", url: `${base(options)}/jobs/${encodeURIComponent(options.jobId)}`, headers: {} };
}

export interface ListJobsQuery {
  /** At most 20 request ids, sent as `request_ids`. */
  requestIds: readonly string[];
  offset?: number;
  /** 1-100, default 100. */
  limit?: number;
}

/** ListJobs: `GET /v1/{project_id}/cloud-phone/jobs?request_ids=a,b&offset=0&limit=100`. */
export function buildListJobsRequest(options: Target & ListJobsQuery): HttpRequest {
  const { requestIds, offset = 0, limit = LIMITS.listJobsMaxLimit } = options;
  const problems: CphValidationError["issues"][number][] = [];
  if (requestIds.length === 0) problems.push({ code: "request_ids_empty", path: "requestIds", message: "give at least one request id", severity: "error" });
  if (requestIds.length > LIMITS.listJobsMaxRequestIds) {
    problems.push({ code: "request_ids_too_many", path: "requestIds", message: `${requestIds.length} request ids; ListJobs takes at most ${LIMITS.listJobsMaxRequestIds}`, severity: "error" });
  }
  if (!Number.isInteger(offset) || offset < 0) problems.push({ code: "offset_invalid", path: "offset", message: "offset must be a whole number of 0 or more", severity: "error" });
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit) {
    problems.push({ code: "limit_invalid", path: "limit", message: `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`, severity: "error" });
  }
  if (problems.length > 0) throw new CphValidationError(problems);
  const query = new URLSearchParams({ request_ids: requestIds.join(","), offset: String(offset), limit: String(limit) });
  return { method: "GET", url: `${base(options)}/jobs?${query.toString().replaceAll("%2C", ",")}`, headers: {} };
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
        password: { user: { domain: { name: options.domainName }, name: options.userName, password: options.password } },
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

/**
 * Packs storage infos into request-sized batches, in order: at most `batchSize` each, never over
 * `maxBodyBytes`, and a phone id at most once per batch (a repeat starts a new batch). Feed it
 * one info at a time, so any number of phones streams through.
 */
export class StorageInfoBatcher {
  readonly #batchSize: number;
  readonly #maxBodyBytes: number;
  #current: StorageInfo[] = [];
  #bytes: number = ENVELOPE_BYTES;
  #phoneIds = new Set<string>();

  constructor(options: BatchOptions = {}) {
    this.#batchSize = options.batchSize ?? LIMITS.defaultPhonesPerRequest;
    this.#maxBodyBytes = options.maxBodyBytes ?? LIMITS.maxBodyBytes;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new CphValidationError([{ code: "storage_infos_too_many", path: "batchSize", message: "batchSize must be a whole number of 1 or more", severity: "error" }]);
    }
  }

  /** Adds one info; returns a finished batch when one is complete. */
  add(info: StorageInfo): StorageInfo[] | undefined {
    const size = utf8Length(serializeStorageInfo(info));
    let full: StorageInfo[] | undefined;
    if (
      this.#current.length > 0 &&
      (this.#bytes + 1 + size > this.#maxBodyBytes || this.#phoneIds.has(info.phone_id))
    ) {
      full = this.flush();
    }
    this.#bytes += (this.#current.length > 0 ? 1 : 0) + size;
    this.#current.push(info);
    this.#phoneIds.add(info.phone_id);
    // Both cannot hold at once: after a flush the batch has one info, and size 1 batches never carry over.
    if (this.#current.length >= this.#batchSize) return this.flush();
    return full;
  }

  /** Returns what is pending (or undefined when nothing is). */
  flush(): StorageInfo[] | undefined {
    if (this.#current.length === 0) return undefined;
    const batch = this.#current;
    this.#current = [];
    this.#bytes = ENVELOPE_BYTES;
    this.#phoneIds = new Set();
    return batch;
  }
}

/** Splits any number of storage infos into request-sized batches (see `StorageInfoBatcher`). */
export function* chunkStorageInfos(infos: Iterable<StorageInfo>, options: BatchOptions = {}): Generator<StorageInfo[]> {
  const batcher = new StorageInfoBatcher(options);
  for (const info of infos) {
    const batch = batcher.add(info);
    if (batch) yield batch;
  }
  const rest = batcher.flush();
  if (rest) yield rest;
}
