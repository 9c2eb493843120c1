// The public contract of @cph-export/http-client. The CLI and the gateway are written against it.
import type {
  BatchExportResponse,
  CloudPhoneServer,
  HttpRequest,
  HttpResponseData,
  ListJobsResponse,
  Phone,
  PhoneJob,
  RestoreInfo,
  ShowJobResponse,
  StorageInfo,
  JobState,
  ValidationOptions,
} from "@cph-export/core";
import type { Dispatcher } from "undici";
import type { PhoneFilter, ServerFilter } from "./inventory.js";
import type { SkippedPhone } from "./skipped-phone.js";

/** How the client authenticates. Secrets never appear in errors, logs or inspect output. */
export type Credentials =
  | { type: "token"; token: string }
  | { type: "aksk"; accessKey: string; secretKey: string; securityToken?: string | undefined }
  | {
      type: "password";
      domainName: string;
      userName: string;
      password: string;
      /** Default: the region's IAM endpoint, else the global one. */
      iamEndpoint?: string | undefined;
      /** Default: `{ id: projectId }`. */
      project?: { id: string } | { name: string } | undefined;
    };

export interface RetryPolicy {
  /** Attempts in all, the first included; default 5. */
  maxAttempts: number;
  /** Base of the capped exponential backoff with full jitter; default 500 ms. */
  baseDelayMs: number;
  /** Cap of one backoff delay; default 20 s. */
  maxDelayMs: number;
  /** Decides whether an error may be retried for this method and attempt; default: the safe policy. */
  shouldRetry?: (error: unknown, context: { method: string; attempt: number }) => boolean;
  /** Injected for tests; default Math.random. */
  random?: () => number;
}

export interface Timeouts {
  /** TCP/TLS connect; default 10 s. */
  connectMs?: number;
  /** From sending to the response headers; default 30 s. */
  headersMs?: number;
  /** Between body chunks; default 30 s. */
  bodyMs?: number;
}

export interface ClientEvent {
  /** `journal`: a note about the journal file (e.g. a last line cut short by a crash, ignored). */
  type: "request" | "response" | "retry" | "token" | "journal";
  method?: string;
  /** URL without credentials. */
  url?: string;
  status?: number;
  attempt?: number;
  delayMs?: number;
  requestId?: string | undefined;
  durationMs?: number;
  message?: string;
}

export interface CphClientOptions {
  region?: string | undefined;
  endpoint?: string | undefined;
  projectId: string;
  credentials: Credentials;
  /** An undici dispatcher (e.g. MockAgent); default an EnvHttpProxyAgent with keep-alive (a plain Agent when no proxy variable is set). */
  dispatcher?: Dispatcher | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  timeouts?: Timeouts | undefined;
  /** Default `cph-export/<version>`. */
  userAgent?: string | undefined;
  /** Receives redacted events (never a secret). */
  onEvent?: ((event: ClientEvent) => void) | undefined;
  /**
   * The event types `onEvent` receives; default all. A listener that only wants a few (a proxy
   * logging `retry` and `token`) saves the work of the others, two of which come with every request.
   */
  eventTypes?: readonly ClientEvent["type"][] | undefined;
  /**
   * Validation rules applied before sending (`maxPhonesPerRequest`, default 100; `allowedRoots`;
   * `maxBodyBytes`); the same options as core's validators.
   */
  validation?: ValidationOptions | undefined;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
  /**
   * Extra headers for every CPH request of this call (each retry included; not the IAM token
   * request), e.g. `{ "X-Request-Id": id }` to trace a call through a proxy. With AK/SK they are
   * signed like the others. They can never replace what the client sets itself: a name such as
   * `Authorization`, `X-Auth-Token`, `X-Sdk-Date`, `X-Project-Id`, `Host`, `Content-Type` or
   * `User-Agent` (any letter case), a name that is not an HTTP token, or a value with a control
   * character is refused with a `CphValidationError` before anything is sent.
   */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** Options of one `batchExport` call. */
export interface BatchExportOptions extends RequestOptions {
  /**
   * `true` when the caller has already validated these storage infos with core's
   * `validateBatchExportRequest`, under rules at least as strict as this client's `validation`
   * (a gateway that checked its callers' requests, say): the client then does not check them again.
   * It trusts the caller: infos that break the rules are sent as they are, for the service to refuse.
   * Default false: the client validates and throws `CphValidationError` without sending.
   */
  validated?: boolean | undefined;
}

/** What one batch-storage call gave: the raw answer plus one result per phone sent. */
export interface BatchExportResult {
  requestId: string | undefined;
  response: BatchExportResponse;
  phones: PhoneResult[];
}

/** Options of one `batchRestore` call: `validated` as for `batchExport` (with `validateBatchImportRequest`). */
export type BatchRestoreOptions = BatchExportOptions;

/** What one batch-restore call gave: the same shape as batch-storage's (a phone rejected inside the 200 is a result). */
export type BatchRestoreResult = BatchExportResult;

export type PhoneState = "accepted" | "rejected" | "succeeded" | "failed" | "unknown";

/** The one reported state of one phone of a run. */
export interface PhoneResult {
  phoneId: string;
  state: PhoneState;
  jobId?: string | undefined;
  requestId?: string | undefined;
  /** CPH error code (`CPS.0005`), gateway code, or the client-side validation issue code. */
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  bucketName?: string | undefined;
  objectPath?: string | undefined;
  /** Position of the phone in the input, from 0. */
  index?: number | undefined;
  /** True when this result was read from the journal of an earlier run, not sent now. */
  fromJournal?: boolean | undefined;
}

export interface WaitProgress {
  total: number;
  running: number;
  succeeded: number;
  failed: number;
  unknown: number;
}

export interface TrackedJob {
  jobId: string;
  phoneId?: string | undefined;
  requestId?: string | undefined;
}

export interface WaitOptions extends RequestOptions {
  /** First poll interval; default 2 s, backing off to `maxIntervalMs`. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Give up after this long; the jobs still running end as `unknown`. */
  timeoutMs?: number;
  onProgress?: (progress: WaitProgress) => void;
}

export interface JobOutcome {
  jobId: string;
  phoneId: string | undefined;
  requestId: string | undefined;
  state: JobState;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  job?: ShowJobResponse | undefined;
}

export interface ExportProgress {
  /** Phones read from the source so far. */
  read: number;
  accepted: number;
  rejected: number;
  succeeded: number;
  failed: number;
  unknown: number;
  /** Phones whose state came from the journal. */
  resumed: number;
  /** Errors counted against `maxErrors`: phones rejected by CPH and jobs failed, in this run. */
  errors: number;
  /** The current in-flight limit: `concurrency`, or less while adaptive concurrency holds it down. */
  concurrency: number;
  /** Why the run stopped sending before the end of its source: `max_errors` once `maxErrors` was exceeded. */
  stoppedReason?: "max_errors" | undefined;
}

export interface ExportManyOptions extends RequestOptions {
  /** Phones per request; default 100. */
  batchSize?: number;
  /** Requests in flight at once; default 4. */
  concurrency?: number;
  /** Append-only journal file; a rerun with the same file skips phones already accepted. */
  journal?: string | undefined;
  /** Follow the jobs to the end; results are then succeeded/failed/unknown. */
  wait?: boolean | Omit<WaitOptions, "signal"> | undefined;
  /**
   * Resend the phones a journal left `unknown` (sent without a recorded answer, or answered
   * ambiguously). The client does not check whether they were exported: a job may exist for each
   * of them. Check first (their archives in the bucket, or `listJobs` with their request ids), and
   * drop from the source the phones that were exported; otherwise they are exported twice.
   */
  retryUnknown?: boolean | undefined;
  /**
   * Stop sending once more than this many errors (`{ count }`, `0` stops at the first) or more than
   * this percentage of the phones CPH answered for (`{ percent }`) are errors. Errors are phones
   * rejected by CPH (a per-phone error in a 200, or a whole request refused) and jobs that failed;
   * not the phones refused before sending (invalid, repeated, skipped by the caller such as
   * `not_exportable`, or `not_sent` because CPH could not be reached) and not `unknown` outcomes,
   * which say nothing of the phones. Once exceeded, no new batch is sent; every phone not yet sent
   * is yielded `rejected` with `not_sent` (the journal does not record it, so a rerun sends it);
   * requests in flight finish and, with `wait`, accepted jobs are still followed. Parse user input
   * with core's `parseMaxErrors`.
   */
  maxErrors?: { count: number } | { percent: number } | undefined;
  /**
   * Requests per second to CPH for this run, shared by its batch POSTs (each retry included) and
   * its job polling. Parse user input with core's `parseRate`. Default: no limit.
   */
  rate?: number | undefined;
  /**
   * Halve the requests in flight (never below 1) on a 429 `APIGW.0308` answer and grow back by
   * one after 10 successful batch requests in a row, up to `concurrency`. Default true when
   * `concurrency` is above 1.
   */
  adaptiveConcurrency?: boolean | undefined;
  onProgress?: ((progress: ExportProgress) => void) | undefined;
}

export interface CphClient {
  readonly endpoint: string;
  readonly projectId: string;
  /** Obtains a token now for password credentials (no-op otherwise); for readiness checks. */
  authenticate(options?: RequestOptions): Promise<void>;
  /** One batch-storage call. Throws `CphError` for HTTP errors and transport failures. */
  batchExport(storageInfos: readonly StorageInfo[], options?: BatchExportOptions): Promise<BatchExportResult>;
  /**
   * One batch-restore call (BatchImportCloudPhoneData), with batchExport's safety: validated by
   * core's rules before sending, never resent blindly, one result per phone. Restore overwrites
   * the phones' data. Throws `CphError` for HTTP errors and transport failures.
   */
  batchRestore(
    restoreInfos: readonly RestoreInfo[],
    options?: BatchRestoreOptions,
  ): Promise<BatchRestoreResult>;
  getJob(jobId: string, options?: RequestOptions): Promise<ShowJobResponse>;
  listJobs(
    query: { requestIds: readonly string[]; offset?: number; limit?: number },
    options?: RequestOptions,
  ): Promise<ListJobsResponse>;
  /**
   * Sends one CPH request as built by core (`buildBatchExportRequest`, `buildShowJobRequest`,
   * `buildListJobsRequest`) with this client's credentials, retries and transport, and resolves
   * the 2xx answer unparsed (status, headers, body text read as UTF-8): for a proxy or gateway that
   * passes CPH's answers on as they came. Nothing in the body is validated; build it from validated
   * input. Its URL must be under `endpoint` and in normal form (credentials go nowhere else), its
   * method GET or POST (with a body), and its headers may not carry what the client sets
   * (credentials, User-Agent...) nor repeat one of `options.headers`: else a `CphValidationError`
   * is thrown before anything is sent. Throws `CphError` for HTTP errors and
   * transport failures, like the other calls.
   */
  send(request: HttpRequest, options?: RequestOptions): Promise<HttpResponseData>;
  /** Follows jobs to the end with ListJobs (20 request ids a call) and backoff. */
  waitForJobs(jobs: readonly TrackedJob[], options?: WaitOptions): Promise<JobOutcome[]>;
  /**
   * Lists the project's phones (ListCloudPhones), walking `offset` a page at a time until a short
   * page; each phone once. GETs, retried as the policy allows; a bad filter throws
   * `CphValidationError` on the first step, before anything is sent. Nothing is fetched until the
   * iteration asks for it, so a `for await` that breaks early costs only the pages it read.
   */
  listPhones(filter?: PhoneFilter, options?: RequestOptions): AsyncIterable<Phone>;
  /** Lists the project's cloud phone servers (ListCloudPhoneServers), like `listPhones`. */
  listServers(filter?: ServerFilter, options?: RequestOptions): AsyncIterable<CloudPhoneServer>;
  /**
   * Exports any number of phones, streamed; yields exactly one result per input phone. The source
   * may hold `SkippedPhone`s: phones reported as rejected with the caller's reason, never sent.
   */
  exportMany(
    source: Iterable<StorageInfo | SkippedPhone> | AsyncIterable<StorageInfo | SkippedPhone>,
    options?: ExportManyOptions,
  ): AsyncIterable<PhoneResult>;
  /**
   * Restores any number of phones from their archives (batch-restore, BatchImportCloudPhoneData)
   * with `exportMany`'s guarantees and options: streamed, batched, bounded concurrency, a journal
   * (of restore runs only: an export's journal is refused) to resume without restoring a phone
   * twice, no blind resend of a POST, waiting on jobs; one result per input phone.
   */
  restoreMany(
    source: Iterable<RestoreInfo | SkippedPhone> | AsyncIterable<RestoreInfo | SkippedPhone>,
    options?: ExportManyOptions,
  ): AsyncIterable<PhoneResult>;
  close(): Promise<void>;
}

export type { PhoneJob };
