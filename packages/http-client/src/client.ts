import {
  buildBatchExportRequest,
  buildBatchImportRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  type CloudPhoneServer,
  CphApiError,
  CphAuthError,
  CphError,
  CphValidationError,
  type HttpRequest,
  type HttpResponseData,
  headerValue,
  LIMITS,
  type ListJobsResponse,
  type Phone,
  parseBatchExportResponse,
  parseListJobsResponse,
  parseShowJobResponse,
  type RestoreInfo,
  redactText,
  resolveEndpoint,
  resolveIamEndpoint,
  type ShowJobResponse,
  type StorageInfo,
  toCphError,
  validateBatchExportRequest,
  validateBatchImportRequest,
  type ValidationIssue,
  type ValidationOptions,
} from "@cph-export/core";
import type { Dispatcher } from "undici";
import { type Authenticator, createAuthenticator } from "./auth.js";
import { phoneResults } from "./batch-result.js";
import {
  EXPORT_OPERATION,
  type ExportContext,
  type ExportSource,
  exportMany,
  RESTORE_OPERATION,
  type RestoreSource,
} from "./export-many.js";
import { listPhones, listServers, type PhoneFilter, type SendGet, type ServerFilter } from "./inventory.js";
import type { JobReader } from "./job-poller.js";
import {
  DEFAULT_RETRY_POLICY,
  defaultShouldRetry,
  mayRetryAtAll,
  provesNotProcessed,
  retryDelay,
  sleep,
} from "./retry.js";
import { extraHeaders, requestHeaders } from "./request-headers.js";
import { type AttemptPacer, NotSentError, type SendControl } from "./send-control.js";
import {
  createDefaultDispatcher,
  DEFAULT_TIMEOUTS,
  type RequestTarget,
  requestTarget,
  type ResolvedTimeouts,
  sendRequest,
} from "./transport.js";
import type {
  BatchExportOptions,
  BatchExportResult,
  BatchRestoreOptions,
  BatchRestoreResult,
  ClientEvent,
  CphClient,
  CphClientOptions,
  ExportManyOptions,
  JobOutcome,
  PhoneResult,
  RequestOptions,
  RetryPolicy,
  TrackedJob,
  WaitOptions,
} from "./types.js";
import { DEFAULT_USER_AGENT } from "./version.js";
import { waitForJobs } from "./wait-for-jobs.js";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** Wraps a failure to obtain credentials so the retry loop passes it on untouched. */
class AuthApplyFailure {
  constructor(readonly failure: unknown) {}
}

function positiveInteger(value: number | undefined, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new CphValidationError([
      { code: "invalid_type", path, message: `${path} must be a number of 0 or more`, severity: "error" },
    ]);
  }
  return value;
}

/** An iteration that fails on its first step. */
// biome-ignore lint/correctness/useYield: it only throws, as exportMany does for a bad option.
async function* failing(error: unknown): AsyncGenerator<never> {
  throw error;
}

class Client implements CphClient {
  readonly endpoint: string;
  readonly projectId: string;
  readonly #auth: Authenticator;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #retry: RetryPolicy;
  readonly #timeouts: ResolvedTimeouts;
  readonly #userAgent: string;
  readonly #onEvent: ((event: ClientEvent) => void) | undefined;
  readonly #eventTypes: ReadonlySet<ClientEvent["type"]> | undefined;
  readonly #validation: ValidationOptions;
  /** The batch-storage URL never changes: it is split once, on the first call. */
  #batchTarget: { url: string; target: RequestTarget | undefined } | undefined;
  #closed = false;

  constructor(options: CphClientOptions) {
    this.endpoint = resolveEndpoint({ region: options.region, endpoint: options.endpoint });
    if (typeof options.projectId !== "string" || options.projectId.length === 0) {
      throw new CphValidationError([
        { code: "required", path: "projectId", message: "projectId is required", severity: "error" },
      ]);
    }
    this.projectId = options.projectId;
    const retry = options.retry ?? {};
    this.#retry = {
      maxAttempts: Math.max(
        1,
        Math.floor(positiveInteger(retry.maxAttempts, DEFAULT_RETRY_POLICY.maxAttempts, "retry.maxAttempts")),
      ),
      baseDelayMs: positiveInteger(retry.baseDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs, "retry.baseDelayMs"),
      maxDelayMs: positiveInteger(retry.maxDelayMs, DEFAULT_RETRY_POLICY.maxDelayMs, "retry.maxDelayMs"),
      ...(retry.shouldRetry ? { shouldRetry: retry.shouldRetry } : {}),
      ...(retry.random ? { random: retry.random } : {}),
    };
    const timeouts = options.timeouts ?? {};
    this.#timeouts = {
      connectMs: positiveInteger(timeouts.connectMs, DEFAULT_TIMEOUTS.connectMs, "timeouts.connectMs"),
      headersMs: positiveInteger(timeouts.headersMs, DEFAULT_TIMEOUTS.headersMs, "timeouts.headersMs"),
      bodyMs: positiveInteger(timeouts.bodyMs, DEFAULT_TIMEOUTS.bodyMs, "timeouts.bodyMs"),
    };
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#onEvent = options.onEvent;
    this.#eventTypes = options.eventTypes === undefined ? undefined : new Set(options.eventTypes);
    this.#validation = options.validation ?? {};
    const iamEndpoint =
      options.credentials?.type === "password"
        ? resolveIamEndpoint({ region: options.region, iamEndpoint: options.credentials.iamEndpoint })
        : "";
    this.#auth = createAuthenticator(options.credentials, {
      projectId: this.projectId,
      iamEndpoint,
      fetch: (request) => this.#send(request, { authenticate: false }),
      onToken: (message) => this.#emit({ type: "token", message }),
    });
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createDefaultDispatcher(this.#timeouts);
  }

  /**
   * Sends an event to `onEvent`. Events of the request loop come as their type and a function that
   * builds them, so that nothing is built for a type nobody listens to.
   */
  #emit(event: ClientEvent): void;
  #emit(type: ClientEvent["type"], build: () => ClientEvent): void;
  #emit(eventOrType: ClientEvent | ClientEvent["type"], build?: () => ClientEvent): void {
    if (!this.#onEvent) return;
    const type = typeof eventOrType === "string" ? eventOrType : eventOrType.type;
    if (this.#eventTypes !== undefined && !this.#eventTypes.has(type)) return;
    const event = typeof eventOrType === "string" ? (build as () => ClientEvent)() : eventOrType;
    const secrets = this.#auth.secrets();
    const safe: ClientEvent = { ...event };
    if (safe.url !== undefined) safe.url = redactText(safe.url, secrets);
    if (safe.message !== undefined) safe.message = redactText(safe.message, secrets);
    try {
      this.#onEvent(safe);
    } catch {
      // A listener's failure must not change the outcome of a request.
    }
  }

  /** Removes any secret from an error's texts before it leaves the client. */
  #scrub<T>(error: T): T {
    if (!(error instanceof Error)) return error;
    const secrets = this.#auth.secrets();
    const writable = error as { message: string; stack?: string; errorMessage?: string };
    writable.message = redactText(error.message, secrets);
    if (error.stack) writable.stack = redactText(error.stack, secrets);
    if (error instanceof CphApiError) writable.errorMessage = redactText(error.errorMessage, secrets);
    return error;
  }

  /**
   * Sends a request with credentials, retrying what the policy allows (fresh credentials each
   * attempt, one token refresh after a 401), and returns the 2xx answer or throws a `CphError`.
   */
  async #send(request: HttpRequest, control: SendControl = {}): Promise<HttpResponseData> {
    if (this.#closed) throw new CphError("ERR_CPH_NETWORK", "the client is closed; create a new one");
    const { signal, stopSignal } = control;
    // Before credentials: AK/SK signs them, and the client's own headers are set over them.
    if (control.headers)
      request = { ...request, headers: Object.assign({}, request.headers, control.headers) };
    const target = control.target ?? requestTarget(request.url);
    const shownUrl = target?.shown ?? "(invalid URL)";
    const shouldRetry = this.#retry.shouldRetry ?? defaultShouldRetry;
    let refreshed = false;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      if (lastError !== undefined && stopSignal?.aborted) {
        throw provesNotProcessed(lastError)
          ? new NotSentError(this.#scrub(lastError))
          : this.#scrub(lastError);
      }
      let ticket = 0;
      if (control.pacer) {
        try {
          ticket = await control.pacer.beforeAttempt(signal, stopSignal);
        } catch (reason) {
          if (signal?.aborted) throw reason;
          // Stopped while waiting for its turn: this attempt never left.
          throw lastError === undefined || provesNotProcessed(lastError)
            ? new NotSentError(lastError === undefined ? undefined : this.#scrub(lastError))
            : this.#scrub(lastError);
        }
      }
      let token: string | undefined;
      let error: unknown;
      const started = Date.now();
      try {
        let outgoing = request;
        if (control.authenticate !== false) {
          // The token request has its own retries; its failure is final here.
          const applied = await this.#auth.apply(request, signal).catch((failure: unknown) => {
            throw new AuthApplyFailure(failure);
          });
          outgoing = applied.request;
          token = applied.token;
        }
        // Added after signing: the signature covers only the headers the official SDKs sign.
        // (Object.assign: `{ ...headers, "User-Agent": ... }` costs V8 about ten times as much.)
        const headers = Object.assign({}, outgoing.headers);
        headers["User-Agent"] = this.#userAgent;
        outgoing = { ...outgoing, headers };
        this.#emit("request", () => ({ type: "request", method: request.method, url: shownUrl, attempt }));
        const response = await sendRequest(outgoing, {
          dispatcher: this.#dispatcher,
          timeouts: this.#timeouts,
          signal,
          target,
        });
        this.#emit("response", () => ({
          type: "response",
          method: request.method,
          url: shownUrl,
          status: response.status,
          attempt,
          requestId: headerValue(response.headers, "x-request-id"),
          durationMs: Date.now() - started,
        }));
        if (response.status >= 200 && response.status < 300) {
          control.pacer?.afterAttempt?.(ticket, undefined);
          return response;
        }
        error = toCphError(response);
      } catch (caught) {
        if (signal?.aborted) throw signal.reason;
        if (caught instanceof AuthApplyFailure) throw this.#scrub(caught.failure);
        error = caught;
      }
      control.pacer?.afterAttempt?.(ticket, error);
      lastError = error;
      if (
        error instanceof CphAuthError &&
        error.status === 401 &&
        token !== undefined &&
        !refreshed &&
        this.#auth.invalidate(token)
      ) {
        // Tokens can be revoked before they expire: fetch a new one once and try again, never more.
        refreshed = true;
        attempt--;
        this.#emit("retry", () => ({
          type: "retry",
          method: request.method,
          url: shownUrl,
          attempt: attempt + 1,
          delayMs: 0,
          message: "401: refreshing the token once",
        }));
        continue;
      }
      const method = request.method;
      if (
        attempt >= this.#retry.maxAttempts ||
        !mayRetryAtAll(error, method) ||
        !shouldRetry(error, { method, attempt })
      ) {
        throw this.#scrub(error);
      }
      const delayMs = retryDelay(
        this.#retry,
        attempt,
        error instanceof CphApiError ? error.retryAfterMs : undefined,
      );
      this.#emit("retry", () => ({
        type: "retry",
        method,
        url: shownUrl,
        attempt: attempt + 1,
        delayMs,
        requestId: error instanceof CphError ? error.requestId : undefined,
        message: error instanceof Error ? error.message : String(error),
      }));
      try {
        await sleep(delayMs, signal, stopSignal);
      } catch (reason) {
        if (signal?.aborted) throw reason;
        throw provesNotProcessed(error) ? new NotSentError(this.#scrub(error)) : this.#scrub(error);
      }
    }
  }

  async authenticate(options: RequestOptions = {}): Promise<void> {
    try {
      await this.#auth.authenticate(options.signal);
    } catch (error) {
      throw this.#scrub(error);
    }
  }

  async batchExport(
    storageInfos: readonly StorageInfo[],
    options: BatchExportOptions = {},
  ): Promise<BatchExportResult> {
    const headers = extraHeaders(options.headers);
    if (options.validated !== true) {
      const validation = validateBatchExportRequest({ storage_infos: storageInfos }, this.#validation);
      if (!validation.ok) throw new CphValidationError(validation.issues);
    }
    return this.#postBatch(storageInfos, { signal: options.signal, headers });
  }

  /** batch-restore without validation (restoreMany validated each phone already). */
  #postRestoreBatch(restoreInfos: readonly RestoreInfo[], control: SendControl): Promise<BatchExportResult> {
    const request = buildBatchImportRequest({
      endpoint: this.endpoint,
      projectId: this.projectId,
      restoreInfos,
    });
    return this.#postEntries(request, restoreInfos, control);
  }

  /** batch-storage without validation (exportMany validated each phone already). */
  #postBatch(storageInfos: readonly StorageInfo[], control: SendControl): Promise<BatchExportResult> {
    const request = buildBatchExportRequest({
      endpoint: this.endpoint,
      projectId: this.projectId,
      storageInfos,
    });
    return this.#postEntries(request, storageInfos, control);
  }

  /**
   * One batch POST (batch-storage or batch-restore, the same answer) through #send, which never
   * resends a POST of unknown outcome; each entry's result read from the answer.
   */
  async #postEntries(
    request: HttpRequest,
    entries: readonly { phone_id: string; bucket_name: string; object_path: string }[],
    control: SendControl,
  ): Promise<BatchExportResult> {
    const answer = await this.#send(request, { ...control, target: this.#targetOf(request.url) });
    let response: ReturnType<typeof parseBatchExportResponse>;
    try {
      response = parseBatchExportResponse(answer);
    } catch (error) {
      throw this.#scrub(error);
    }
    const requestId = response.request_id || headerValue(answer.headers, "x-request-id") || undefined;
    return { requestId, response, phones: phoneResults(entries, response, requestId) };
  }

  async batchRestore(
    restoreInfos: readonly RestoreInfo[],
    options: BatchRestoreOptions = {},
  ): Promise<BatchRestoreResult> {
    const headers = extraHeaders(options.headers);
    if (options.validated !== true) {
      const validation = validateBatchImportRequest({ restore_infos: restoreInfos }, this.#validation);
      if (!validation.ok) throw new CphValidationError(validation.issues);
    }
    return this.#postRestoreBatch(restoreInfos, { signal: options.signal, headers });
  }

  async send(request: HttpRequest, options: RequestOptions = {}): Promise<HttpResponseData> {
    const headers = extraHeaders(options.headers);
    const target = typeof request.url === "string" ? this.#targetOf(request.url) : undefined;
    const checked = this.#checkedRequest(request, target, headers);
    return this.#send(checked, { signal: options.signal, headers, target });
  }

  /**
   * A copy of a request given to `send` (its body too, so that a change by the caller cannot alter
   * a request being retried), or a `CphValidationError` naming what is wrong with it.
   */
  #checkedRequest(
    request: HttpRequest,
    target: RequestTarget | undefined,
    extra: Readonly<Record<string, string>> | undefined,
  ): HttpRequest {
    const problems: ValidationIssue[] = [];
    const problem = (path: string, message: string) =>
      problems.push({ code: "invalid_type", path, message, severity: "error" });
    const { method, url, body } = request;
    if (method !== "GET" && method !== "POST") problem("request.method", "the method must be GET or POST");
    else if (method === "POST" ? !(body instanceof Uint8Array) : body !== undefined)
      problem("request.body", `a ${method} request ${method === "POST" ? "needs" : "has no"} body bytes`);
    // Only under the endpoint, and written as it will be sent (no dot segments, fragment or odd
    // escapes for URL to change): the request goes with this client's credentials, signed as written.
    if (
      target === undefined ||
      `${target.origin}${target.path}` !== url ||
      !url.startsWith(`${this.endpoint}/`)
    )
      problem(
        "request.url",
        `the URL must be under this client's endpoint ${this.endpoint}/, in normal form (as core's builders write it)`,
      );
    let headers: Record<string, string> = {};
    try {
      headers = requestHeaders(request.headers ?? {});
    } catch (error) {
      if (!(error instanceof CphValidationError)) throw error;
      problems.push(...error.issues);
    }
    if (extra !== undefined) {
      const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
      for (const name of Object.keys(extra)) {
        if (names.has(name.toLowerCase()))
          problem(`headers.${name.slice(0, 64)}`, `${name} is in request.headers already; give it once`);
      }
    }
    if (problems.length > 0) throw new CphValidationError(problems);
    return body === undefined ? { method, url, headers } : { method, url, headers, body: body.slice() };
  }

  /** The batch-storage URL (the same on every call) split once; any other URL split each time. */
  #targetOf(url: string): RequestTarget | undefined {
    if (this.#batchTarget?.url === url) return this.#batchTarget.target;
    const target = requestTarget(url);
    if (url.endsWith("/phones/batch-storage")) this.#batchTarget = { url, target };
    return target;
  }

  async getJob(jobId: string, options: RequestOptions = {}): Promise<ShowJobResponse> {
    const headers = extraHeaders(options.headers);
    return this.#getJob(jobId, { signal: options.signal, headers });
  }

  async #getJob(jobId: string, control: SendControl): Promise<ShowJobResponse> {
    const answer = await this.#send(
      buildShowJobRequest({ endpoint: this.endpoint, projectId: this.projectId, jobId }),
      control,
    );
    return this.#parse(() => parseShowJobResponse(answer));
  }

  async listJobs(
    query: { requestIds: readonly string[]; offset?: number; limit?: number },
    options: RequestOptions = {},
  ): Promise<ListJobsResponse> {
    const headers = extraHeaders(options.headers);
    return this.#listJobs(query, { signal: options.signal, headers });
  }

  async #listJobs(
    query: { requestIds: readonly string[]; offset?: number; limit?: number },
    control: SendControl,
  ): Promise<ListJobsResponse> {
    const request = buildListJobsRequest({
      endpoint: this.endpoint,
      projectId: this.projectId,
      requestIds: query.requestIds,
      ...(query.offset === undefined ? {} : { offset: query.offset }),
      ...(query.limit === undefined ? {} : { limit: query.limit }),
    });
    const answer = await this.#send(request, control);
    return this.#parse(() => parseListJobsResponse(answer));
  }

  #parse<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      throw this.#scrub(error);
    }
  }

  /** Reads jobs with the call's extra headers (already checked), paced by a bulk run's pacer if any. */
  #reader(headers?: Readonly<Record<string, string>>, pacer?: AttemptPacer): JobReader {
    return {
      listJobs: (query, signal) => this.#listJobs(query, { signal, headers, pacer }),
      getJob: (jobId, signal) => this.#getJob(jobId, { signal, headers, pacer }),
    };
  }

  waitForJobs(jobs: readonly TrackedJob[], options: WaitOptions = {}): Promise<JobOutcome[]> {
    let headers: Record<string, string> | undefined;
    try {
      headers = extraHeaders(options.headers);
    } catch (error) {
      return Promise.reject(error);
    }
    return waitForJobs(this.#reader(headers), jobs, options);
  }

  listPhones(filter: PhoneFilter = {}, options: RequestOptions = {}): AsyncIterable<Phone> {
    let headers: Record<string, string> | undefined;
    try {
      headers = extraHeaders(options.headers);
    } catch (error) {
      return failing(error);
    }
    return listPhones(this, this.#getter(headers), filter, options.signal);
  }

  listServers(filter: ServerFilter = {}, options: RequestOptions = {}): AsyncIterable<CloudPhoneServer> {
    let headers: Record<string, string> | undefined;
    try {
      headers = extraHeaders(options.headers);
    } catch (error) {
      return failing(error);
    }
    return listServers(this, this.#getter(headers), filter, options.signal);
  }

  /** Sends the GETs of a listing with the call's extra headers (already checked). */
  #getter(headers: Record<string, string> | undefined): SendGet {
    return (request, signal) => this.#send(request, { signal, headers });
  }

  exportMany(source: ExportSource, options: ExportManyOptions = {}): AsyncIterable<PhoneResult> {
    let headers: Record<string, string> | undefined;
    try {
      headers = extraHeaders(options.headers);
    } catch (error) {
      // Like exportMany's other option errors: thrown by the first step of the iteration.
      return failing(error);
    }
    const context: ExportContext = {
      projectId: this.projectId,
      operation: EXPORT_OPERATION,
      validation: this.#validation,
      maxPhonesPerRequest: this.#validation.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest,
      postBatch: headers
        ? (infos, control) => this.#postBatch(infos, { ...control, headers })
        : (infos, control) => this.#postBatch(infos, control),
      reader: (pacer) => this.#reader(headers, pacer),
      note: (message) => this.#emit({ type: "journal", message }),
    };
    return exportMany(context, source, options);
  }

  restoreMany(source: RestoreSource, options: ExportManyOptions = {}): AsyncIterable<PhoneResult> {
    let headers: Record<string, string> | undefined;
    try {
      headers = extraHeaders(options.headers);
    } catch (error) {
      return failing(error);
    }
    const context: ExportContext<RestoreInfo> = {
      projectId: this.projectId,
      operation: RESTORE_OPERATION,
      validation: this.#validation,
      maxPhonesPerRequest: this.#validation.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest,
      postBatch: (infos, control) =>
        this.#postRestoreBatch(infos, headers ? { ...control, headers } : control),
      reader: (pacer) => this.#reader(headers, pacer),
      note: (message) => this.#emit({ type: "journal", message }),
    };
    return exportMany(context, source, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  toJSON(): Record<string, unknown> {
    return { endpoint: this.endpoint, projectId: this.projectId, credentials: this.#auth.toJSON() };
  }

  toString(): string {
    return `CphClient ${JSON.stringify(this.toJSON())}`;
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/**
 * Creates a client for the CPH export API.
 *
 * @example
 * const client = createCphClient({ region: "cn-north-4", projectId, credentials: { type: "aksk", accessKey, secretKey } });
 * for await (const result of client.exportMany(phones, { journal: "export.journal" })) console.log(result.phoneId, result.state);
 */
export function createCphClient(options: CphClientOptions): CphClient {
  return new Client(options);
}
