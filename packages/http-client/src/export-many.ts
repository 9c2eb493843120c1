import {
  CphApiError,
  CphAuthError,
  CphError,
  CphNetworkError,
  CphValidationError,
  type StorageInfo,
  StorageInfoBatcher,
  validateStorageInfo,
  type ValidationOptions,
} from "@cph-export/core";
import { RESULT_CODES } from "./batch-result.js";
import { JobPoller, type JobReader } from "./job-poller.js";
import { Journal, type JournalEntry } from "./journal.js";
import { raceSignal, sleep } from "./retry.js";
import { NotSentError, type SendControl } from "./send-control.js";
import { SkippedPhone } from "./skipped-phone.js";
import type {
  BatchExportResult,
  ExportManyOptions,
  ExportProgress,
  JobOutcome,
  PhoneResult,
  WaitOptions,
} from "./types.js";
import { DEFAULT_WAIT, nextInterval } from "./wait-for-jobs.js";

/** What `exportMany` needs from the client. */
export interface ExportContext {
  projectId: string;
  validation: ValidationOptions;
  maxPhonesPerRequest: number;
  postBatch(infos: readonly StorageInfo[], control: SendControl): Promise<BatchExportResult>;
  reader: JobReader;
  note(message: string): void;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_BATCH_SIZE = 100;
/** Jobs followed at once with `wait`; reading pauses above it so memory stays bounded. */
export const MAX_FOLLOWED_JOBS = 10_000;
/** Polling rounds in a row that may fail before the followed jobs are given up as not followed. */
const MAX_FAILED_ROUNDS = 3;

function wholeNumber(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  path: string,
): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < min || result > max) {
    throw new CphValidationError([
      {
        code: "invalid_type",
        path,
        message: `${path} must be a whole number from ${min} to ${max}, not ${String(value)}`,
        severity: "error",
      },
    ]);
  }
  return result;
}

/** cph-gateway: a request with the same Idempotency-Key is in flight (its outcome is this one's). */
const SAME_KEY_IN_FLIGHT = "CPHGW.4091";

/** The results of a request that failed after its retries: `rejected` when the answer proves nothing was done, else `unknown`. */
export function failedResults(infos: readonly StorageInfo[], error: unknown): PhoneResult[] {
  let shared: Pick<PhoneResult, "state" | "errorCode" | "errorMessage" | "requestId">;
  if (error instanceof CphNetworkError && error.phase === "connect") {
    shared = { state: "rejected", errorCode: RESULT_CODES.notSent, errorMessage: error.message };
  } else if (error instanceof CphApiError && error.errorCode === SAME_KEY_IN_FLIGHT) {
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: `${error.message}: a request with the same Idempotency-Key is in flight and may be exporting these phones; look for their jobs or archives before sending them again`,
      requestId: error.requestId,
    };
  } else if (error instanceof CphApiError && (error.status < 500 || error.retryable)) {
    shared = {
      state: "rejected",
      errorCode: error.errorCode,
      errorMessage: error.errorMessage || error.message,
      requestId: error.requestId,
    };
  } else if (error instanceof CphApiError) {
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: `${error.message}: the service may have processed the request`,
      requestId: error.requestId,
    };
  } else {
    const message = error instanceof Error ? error.message : String(error);
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: message,
      requestId: error instanceof CphError ? error.requestId : undefined,
    };
  }
  return infos.map((info) => ({
    phoneId: info.phone_id,
    bucketName: info.bucket_name,
    objectPath: info.object_path,
    ...shared,
  }));
}

/** A phone refused before sending (invalid, or a repeat), with what can be read of it. */
function refused(
  value: StorageInfo,
  phoneId: string,
  index: number,
  errorCode: string,
  errorMessage: string,
): PhoneResult {
  return {
    phoneId,
    index,
    bucketName: typeof value?.bucket_name === "string" ? value.bucket_name : undefined,
    objectPath: typeof value?.object_path === "string" ? value.object_path : undefined,
    state: "rejected",
    errorCode,
    errorMessage,
  };
}

function fromJournal(info: StorageInfo, entry: JournalEntry, index: number): PhoneResult | undefined {
  const base = {
    phoneId: info.phone_id,
    bucketName: info.bucket_name,
    objectPath: info.object_path,
    index,
    fromJournal: true,
  };
  const ids = { jobId: entry.jobId, requestId: entry.requestId };
  switch (entry.state) {
    case "accepted":
    case "succeeded":
      return { ...base, ...ids, state: entry.state };
    case "failed":
      return {
        ...base,
        ...ids,
        state: "failed",
        errorCode: entry.errorCode,
        errorMessage: entry.errorMessage,
      };
    case "sent":
    case "unknown": {
      const detail =
        entry.state === "sent" ? "the earlier run stopped before its answer arrived" : entry.errorMessage;
      return {
        ...base,
        ...ids,
        state: "unknown",
        errorCode: RESULT_CODES.unknownInJournal,
        errorMessage: `outcome unknown in journal${detail ? ` (${detail})` : ""}; check the bucket, then rerun with retryUnknown to send it again`,
      };
    }
    default:
      return undefined;
  }
}

/** Follows accepted jobs while the export goes on, handing each phone back once its job ends. */
class Follower {
  readonly #poller: JobPoller;
  readonly #tracked = new Map<string, { result: PhoneResult; deadline: number | undefined }>();
  readonly #controller = new AbortController();
  readonly #options: Omit<WaitOptions, "signal">;
  readonly #deliver: (result: PhoneResult) => void;
  readonly #fail: (error: unknown) => void;
  readonly #note: (message: string) => void;
  #idle: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(
    reader: JobReader,
    options: Omit<WaitOptions, "signal">,
    handlers: {
      deliver: (result: PhoneResult) => void;
      fail: (error: unknown) => void;
      note: (message: string) => void;
    },
  ) {
    this.#poller = new JobPoller(reader);
    this.#options = options;
    this.#deliver = handlers.deliver;
    this.#fail = handlers.fail;
    this.#note = handlers.note;
    this.done = this.#loop();
  }

  get size(): number {
    return this.#tracked.size;
  }

  add(result: PhoneResult): void {
    if (!result.jobId || this.#tracked.has(result.jobId)) {
      this.#deliver({
        ...result,
        state: "unknown",
        errorCode: RESULT_CODES.notFollowed,
        errorMessage: "accepted, but its job cannot be told apart to follow it",
      });
      return;
    }
    const deadline = this.#options.timeoutMs === undefined ? undefined : Date.now() + this.#options.timeoutMs;
    this.#tracked.set(result.jobId, { result, deadline });
    this.#poller.add({ jobId: result.jobId, phoneId: result.phoneId, requestId: result.requestId });
    this.#idle?.();
  }

  /** Stops polling (no request after this) and returns the phones still followed, as accepted. */
  async stop(): Promise<PhoneResult[]> {
    this.#controller.abort();
    this.#idle?.();
    await this.done;
    const remaining = [...this.#tracked.values()].map((entry) => entry.result);
    this.#tracked.clear();
    return remaining;
  }

  #finish(outcome: JobOutcome, code?: string): void {
    const entry = this.#tracked.get(outcome.jobId);
    if (!entry) return;
    this.#tracked.delete(outcome.jobId);
    const result: PhoneResult = {
      ...entry.result,
      state: outcome.state === "running" ? "unknown" : outcome.state,
    };
    if (outcome.state !== "succeeded") {
      result.errorCode = code ?? outcome.errorCode;
      result.errorMessage = outcome.errorMessage;
    }
    this.#deliver(result);
  }

  async #loop(): Promise<void> {
    const signal = this.#controller.signal;
    const base = this.#options.intervalMs ?? DEFAULT_WAIT.intervalMs;
    const cap = Math.max(base, this.#options.maxIntervalMs ?? DEFAULT_WAIT.maxIntervalMs);
    let interval = base;
    let failedRounds = 0;
    while (!signal.aborted) {
      if (this.#tracked.size === 0) {
        await new Promise<void>((resolve) => {
          this.#idle = resolve;
        });
        this.#idle = undefined;
        interval = base;
        continue;
      }
      try {
        for (const outcome of await this.#poller.round(signal)) this.#finish(outcome);
        failedRounds = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof CphAuthError) {
          this.#fail(error);
          break;
        }
        failedRounds++;
        const message = error instanceof Error ? error.message : String(error);
        this.#note(
          `polling jobs failed (${failedRounds} of ${MAX_FAILED_ROUNDS} rounds in a row): ${message}`,
        );
        if (failedRounds >= MAX_FAILED_ROUNDS) {
          const reason = `accepted, but its job could not be followed: ${message}`;
          for (const outcome of this.#poller.expire(this.#poller.jobIds(), reason))
            this.#finish(outcome, RESULT_CODES.notFollowed);
          failedRounds = 0;
        }
      }
      const now = Date.now();
      let nearest = Number.POSITIVE_INFINITY;
      const expired: string[] = [];
      for (const [jobId, entry] of this.#tracked) {
        if (entry.deadline === undefined) continue;
        if (entry.deadline <= now) expired.push(jobId);
        else nearest = Math.min(nearest, entry.deadline);
      }
      if (expired.length > 0) {
        const reason = `still running after the ${this.#options.timeoutMs} ms wait timeout; the job may yet finish`;
        for (const outcome of this.#poller.expire(expired, reason))
          this.#finish(outcome, RESULT_CODES.waitTimeout);
      }
      if (this.#tracked.size === 0) continue;
      try {
        await sleep(Math.max(0, Math.min(interval, nearest - now)), signal);
      } catch {
        break;
      }
      interval = nextInterval(interval, cap);
    }
  }
}

/** What `exportMany` reads: storage infos to send, and phones the caller has decided to skip. */
export type ExportSource = Iterable<StorageInfo | SkippedPhone> | AsyncIterable<StorageInfo | SkippedPhone>;
type Source = ExportSource;
type Item = StorageInfo | SkippedPhone;

function iteratorOf(source: Source): Iterator<Item> | AsyncIterator<Item> {
  if (source && typeof (source as AsyncIterable<Item>)[Symbol.asyncIterator] === "function") {
    return (source as AsyncIterable<Item>)[Symbol.asyncIterator]();
  }
  if (source && typeof (source as Iterable<Item>)[Symbol.iterator] === "function") {
    return (source as Iterable<Item>)[Symbol.iterator]();
  }
  throw new CphValidationError([
    {
      code: "invalid_type",
      path: "source",
      message: "source must be an iterable or async iterable of storage infos",
      severity: "error",
    },
  ]);
}

/**
 * Streams any number of phones through batch-storage; see `CphClient.exportMany`. Reads the
 * source only when a request slot can take more, so memory is bounded by
 * `batchSize * (concurrency + 1)` phones plus the journal index and the followed jobs.
 */
export async function* exportMany(
  context: ExportContext,
  source: Source,
  options: ExportManyOptions = {},
): AsyncGenerator<PhoneResult, void, undefined> {
  const batchSize = wholeNumber(
    options.batchSize,
    Math.min(DEFAULT_BATCH_SIZE, context.maxPhonesPerRequest),
    1,
    context.maxPhonesPerRequest,
    "batchSize",
  );
  const concurrency = wholeNumber(options.concurrency, DEFAULT_CONCURRENCY, 1, 1_000, "concurrency");
  const waitOptions = options.wait === true ? {} : options.wait || undefined;
  const iterator = iteratorOf(source);
  // Opened once everything that may throw is built (see below): an open journal holds its lock.
  let journal: Journal | undefined;

  const counts: ExportProgress = {
    read: 0,
    accepted: 0,
    rejected: 0,
    succeeded: 0,
    failed: 0,
    unknown: 0,
    resumed: 0,
  };
  let ready: Array<PhoneResult | undefined> = [];
  let readyHead = 0;
  const seen = new Set<string>();
  const positions = new Map<string, number>();
  const batcher = new StorageInfoBatcher({
    batchSize,
    ...(context.validation.maxBodyBytes ? { maxBodyBytes: context.validation.maxBodyBytes } : {}),
  });
  let pendingBatch: StorageInfo[] | undefined;
  /** Requests in flight (bounded by `concurrency`). */
  let requests = 0;
  /** Batches not finished: in flight, or having their results recorded in the journal. */
  const inFlight = new Set<Promise<void>>();
  const stop = new AbortController();
  let fatal: { error: unknown } | undefined;
  let sourceDone = false;
  let danglingNext = false;
  let wakeMain: (() => void) | undefined;

  const wake = () => {
    const resolve = wakeMain;
    wakeMain = undefined;
    resolve?.();
  };
  const nextEvent = () =>
    new Promise<void>((resolve) => {
      wakeMain = resolve;
    });
  const progress = () => options.onProgress?.({ ...counts });
  const fail = (error: unknown) => {
    fatal ??= { error };
    stop.abort();
  };
  const onAbort = () => stop.abort();

  const push = (result: PhoneResult) => {
    ready.push(result);
    wake();
  };

  const follower = waitOptions
    ? new Follower(context.reader, waitOptions, {
        deliver: (result) => {
          counts.accepted--;
          counts[result.state]++;
          if (journal && (result.state === "succeeded" || result.state === "failed")) {
            journal.results(undefined, [result]).catch(fail);
          }
          push(result);
        },
        fail,
        note: context.note,
      })
    : undefined;

  const settle = (results: readonly PhoneResult[]) => {
    for (const result of results) {
      counts[result.state]++;
      if (result.fromJournal) counts.resumed++;
      if (result.state === "accepted" && follower) follower.add(result);
      else push(result);
    }
    progress();
  };

  /** Reports the phone from the journal when an earlier run left it there and it is not to be resent. */
  const answeredByJournal = (value: StorageInfo, phoneId: string, index: number): boolean => {
    const entry = journal?.index.get(phoneId);
    if (!entry) return false;
    journal!.index.delete(phoneId);
    const resend =
      entry.state === "rejected" ||
      (options.retryUnknown === true && (entry.state === "sent" || entry.state === "unknown"));
    const stored = resend ? undefined : fromJournal(value, entry, index);
    if (!stored) return false;
    settle([stored]);
    return true;
  };

  const handle = (value: StorageInfo | SkippedPhone, index: number) => {
    counts.read++;
    if (value instanceof SkippedPhone) {
      // Only for the result's fields: a skipped phone is never validated nor sent.
      const info = {
        phone_id: value.phoneId,
        bucket_name: value.bucketName,
        object_path: value.objectPath,
      } as unknown as StorageInfo;
      if (seen.has(value.phoneId)) {
        settle([
          refused(
            info,
            value.phoneId,
            index,
            RESULT_CODES.duplicatePhone,
            `phone ${value.phoneId} appears earlier in this run; it is exported once`,
          ),
        ]);
        return;
      }
      seen.add(value.phoneId);
      if (answeredByJournal(info, value.phoneId, index)) return;
      settle([refused(info, value.phoneId, index, value.errorCode, value.errorMessage)]);
      return;
    }
    const phoneId = typeof value?.phone_id === "string" ? value.phone_id : "";
    const validation = validateStorageInfo(value, context.validation);
    if (!validation.ok) {
      const issue = validation.issues[0]!;
      settle([
        refused(
          value,
          phoneId,
          index,
          issue.code,
          issue.path ? `${issue.path}: ${issue.message}` : issue.message,
        ),
      ]);
      return;
    }
    if (seen.has(phoneId)) {
      settle([
        refused(
          value,
          phoneId,
          index,
          RESULT_CODES.duplicatePhone,
          `phone ${phoneId} appears earlier in this run; it is exported once`,
        ),
      ]);
      return;
    }
    seen.add(phoneId);
    if (answeredByJournal(value, phoneId, index)) return;
    positions.set(phoneId, index);
    pendingBatch = batcher.add(value);
  };

  const launch = (batch: StorageInfo[]) => {
    const phones = batch.map((info) => info.phone_id);
    let requesting = true;
    const release = () => {
      if (!requesting) return;
      requesting = false;
      requests--;
      wake();
    };
    requests++;
    const task = (async () => {
      const batchId = journal?.nextBatchId();
      if (journal && batchId) {
        try {
          await journal.sent(batchId, phones);
        } catch (error) {
          // Without its `sent` record a request must not leave: a crash could then export it twice.
          fail(error);
          return;
        }
      }
      let results: PhoneResult[];
      try {
        results = (await context.postBatch(batch, { stopSignal: stop.signal })).phones;
      } catch (error) {
        if (error instanceof NotSentError) {
          if (journal && batchId) await journal.unsent(batchId, phones).catch(fail);
          return;
        }
        if (error instanceof CphAuthError) fail(error);
        results = failedResults(batch, error);
      }
      // The slot is free once the answer is in; recording it overlaps with the next request.
      release();
      for (const result of results) result.index = positions.get(result.phoneId);
      if (journal && batchId) await journal.results(batchId, results).catch(fail);
      settle(results);
    })().finally(() => {
      release();
      for (const phone of phones) positions.delete(phone);
      inFlight.delete(task);
      wake();
    });
    inFlight.add(task);
  };

  if (options.journal)
    journal = await Journal.open(options.journal, { projectId: context.projectId, onNote: context.note });
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  stop.signal.addEventListener("abort", wake, { once: true });
  try {
    let index = 0;
    // Results waiting for the consumer above this stop the reading, so memory stays bounded even
    // when every phone is answered without a request (journal, validation).
    const readyLimit = batchSize * (concurrency + 2);
    while (true) {
      const stopping = stop.signal.aborted;
      // Sending comes first: a free slot is filled before results are handed out.
      if (!stopping && pendingBatch && requests < concurrency && inFlight.size < 2 * concurrency) {
        launch(pendingBatch);
        pendingBatch = undefined;
        continue;
      }
      const canRead =
        !stopping &&
        !pendingBatch &&
        !sourceDone &&
        ready.length - readyHead < readyLimit &&
        !(follower && follower.size >= MAX_FOLLOWED_JOBS);
      if (canRead) {
        let next: IteratorResult<Item>;
        try {
          const step = iterator.next();
          if (step instanceof Promise || typeof (step as { then?: unknown }).then === "function") {
            // An async source may take its time: stay abortable while it does.
            danglingNext = true;
            next = await raceSignal(Promise.resolve(step), stop.signal);
            danglingNext = false;
          } else {
            next = step as IteratorResult<Item>;
          }
        } catch (error) {
          // Aborted while the source was slow to give its next phone, or the source itself failed.
          if (!stop.signal.aborted) {
            danglingNext = false;
            sourceDone = true;
            fail(error);
          }
          continue;
        }
        if (next.done) {
          sourceDone = true;
          pendingBatch = batcher.flush();
          continue;
        }
        handle(next.value, index++);
        continue;
      }
      if (readyHead < ready.length) {
        const result = ready[readyHead]!;
        ready[readyHead++] = undefined;
        if (readyHead === ready.length) {
          ready = [];
          readyHead = 0;
        }
        progress();
        yield result;
        continue;
      }
      const more =
        !stopping &&
        (pendingBatch !== undefined || !sourceDone || (follower !== undefined && follower.size > 0));
      if (inFlight.size > 0 || more) {
        await nextEvent();
        continue;
      }
      break;
    }
    if (follower) {
      // Stopped early: the phones still followed are reported as what is known of them, accepted.
      for (const result of await follower.stop()) {
        progress();
        yield result;
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    // Whatever ended the run (done, abort, error, or the consumer leaving), no new attempt starts,
    // the requests in flight finish and their results reach the journal before it closes.
    stop.abort();
    await Promise.allSettled([...inFlight]);
    await follower?.stop();
    await journal?.close().catch(fail);
    if (!sourceDone && typeof iterator.return === "function") {
      const closing = Promise.resolve(iterator.return()).catch(() => {});
      // A source still busy producing its next item would keep return() waiting: do not wait for it.
      if (!danglingNext) await closing;
    }
  }
  if (fatal) throw fatal.error;
}
