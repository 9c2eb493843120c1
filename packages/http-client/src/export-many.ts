import {
  type BatchOptions,
  CphAuthError,
  CphValidationError,
  type RestoreInfo,
  RestoreInfoBatcher,
  type StorageInfo,
  StorageInfoBatcher,
  type ValidationOptions,
  type ValidationResult,
  validateRestoreInfo,
  validateStorageInfo,
} from "@cph-export/core";
import { RESULT_CODES } from "./batch-result.js";
import { type BatchEntry, iteratorOf } from "./export-source.js";
import { failedResults } from "./failed-results.js";
import { Follower } from "./job-follower.js";
import type { JobReader } from "./job-poller.js";
import { Journal } from "./journal.js";
import { fromJournal } from "./journal-result.js";
import { raceSignal } from "./retry.js";
import { RunControl } from "./run-control.js";
import { type AttemptPacer, NotSentError, type SendControl } from "./send-control.js";
import { SkippedPhone } from "./skipped-phone.js";
import type { BatchExportResult, ExportManyOptions, ExportProgress, PhoneResult } from "./types.js";

export type { ExportSource, RestoreSource } from "./export-source.js";

/** What differs between the batch calls a run streams phones through: the rules and the batching. */
export interface BatchOperation<T extends BatchEntry> {
  name: "export" | "restore";
  /** "exported", "restored": for the results' messages. */
  done: string;
  validate(value: unknown, options: ValidationOptions): ValidationResult<T>;
  batcher(options: BatchOptions): { add(entry: T): T[] | undefined; flush(): T[] | undefined };
}

/** batch-storage (`storage_infos`). */
export const EXPORT_OPERATION: BatchOperation<StorageInfo> = {
  name: "export",
  done: "exported",
  validate: validateStorageInfo,
  batcher: (options) => new StorageInfoBatcher(options),
};

/** batch-restore (`restore_infos`): the same engine, journal and guarantees as an export. */
export const RESTORE_OPERATION: BatchOperation<RestoreInfo> = {
  name: "restore",
  done: "restored",
  validate: validateRestoreInfo,
  batcher: (options) => new RestoreInfoBatcher(options),
};

/** What `exportMany` / `restoreMany` need from the client. */
export interface ExportContext<T extends BatchEntry = StorageInfo> {
  projectId: string;
  operation: BatchOperation<T>;
  validation: ValidationOptions;
  maxPhonesPerRequest: number;
  postBatch(infos: readonly T[], control: SendControl): Promise<BatchExportResult>;
  /** Reads jobs, each attempt paced by the run's pacer when it has one. */
  reader(pacer: AttemptPacer | undefined): JobReader;
  note(message: string): void;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_BATCH_SIZE = 100;
/** Jobs followed at once with `wait`; reading pauses above it so memory stays bounded. */
export const MAX_FOLLOWED_JOBS = 10_000;

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

/** A phone refused before sending (invalid, or a repeat), with what can be read of it. */
function refused(
  value: BatchEntry,
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

/**
 * Streams any number of phones through batch-storage or batch-restore (`context.operation`); see
 * `CphClient.exportMany`. Reads the source only when a request slot can take more, so memory is
 * bounded by `batchSize * (concurrency + 1)` phones plus the journal index and the followed jobs.
 */
export async function* exportMany<T extends BatchEntry>(
  context: ExportContext<T>,
  source: Iterable<T | SkippedPhone> | AsyncIterable<T | SkippedPhone>,
  options: ExportManyOptions = {},
): AsyncGenerator<PhoneResult, void, undefined> {
  const operation = context.operation;
  const batchSize = wholeNumber(
    options.batchSize,
    Math.min(DEFAULT_BATCH_SIZE, context.maxPhonesPerRequest),
    1,
    context.maxPhonesPerRequest,
    "batchSize",
  );
  const concurrency = wholeNumber(options.concurrency, DEFAULT_CONCURRENCY, 1, 1_000, "concurrency");
  const waitOptions = options.wait === true ? {} : options.wait || undefined;
  const control = new RunControl(options, concurrency, () => {
    progress();
    wake();
  });
  const iterator = iteratorOf<T>(source);
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
    errors: 0,
    concurrency,
  };
  let ready: Array<PhoneResult | undefined> = [];
  let readyHead = 0;
  const seen = new Set<string>();
  const positions = new Map<string, number>();
  const batcher = operation.batcher({
    batchSize,
    ...(context.validation.maxBodyBytes ? { maxBodyBytes: context.validation.maxBodyBytes } : {}),
  });
  let pendingBatch: T[] | undefined;
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
  const progress = () => {
    if (!options.onProgress) return;
    counts.errors = control.errors;
    counts.concurrency = control.limit;
    if (control.stoppedReason) counts.stoppedReason = control.stoppedReason;
    options.onProgress({ ...counts });
  };
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
    ? new Follower(context.reader(control.readPacer), waitOptions, {
        deliver: (result) => {
          counts.accepted--;
          counts[result.state]++;
          if (journal && (result.state === "succeeded" || result.state === "failed")) {
            journal.results(undefined, [result]).catch(fail);
          }
          push(result);
          if (control.jobEnded(result)) stopSending();
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

  /** Max errors exceeded: the phones batched but not sent are reported, and no batch is built any more. */
  const stopSending = () => {
    const unsent: PhoneResult[] = [];
    for (const info of [...(pendingBatch ?? []), ...(batcher.flush() ?? [])]) {
      unsent.push(control.notSent(info, positions.get(info.phone_id)));
      positions.delete(info.phone_id);
    }
    pendingBatch = undefined;
    settle(unsent);
  };

  /** Reports the phone from the journal when an earlier run left it there and it is not to be resent. */
  const answeredByJournal = (value: BatchEntry, phoneId: string, index: number): boolean => {
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

  const handle = (value: T | SkippedPhone, index: number) => {
    counts.read++;
    if (value instanceof SkippedPhone) {
      // Only for the result's fields: a skipped phone is never validated nor sent.
      const info = {
        phone_id: value.phoneId,
        bucket_name: value.bucketName,
        object_path: value.objectPath,
      } as BatchEntry;
      if (seen.has(value.phoneId)) {
        settle([
          refused(
            info,
            value.phoneId,
            index,
            RESULT_CODES.duplicatePhone,
            `phone ${value.phoneId} appears earlier in this run; it is ${operation.done} once`,
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
    const validation = operation.validate(value, context.validation);
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
          `phone ${phoneId} appears earlier in this run; it is ${operation.done} once`,
        ),
      ]);
      return;
    }
    seen.add(phoneId);
    if (answeredByJournal(value, phoneId, index)) return;
    if (control.stoppedReason) {
      settle([control.notSent(value, index)]);
      return;
    }
    positions.set(phoneId, index);
    pendingBatch = batcher.add(validation.value);
  };

  const launch = (batch: T[]) => {
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
        results = (await context.postBatch(batch, { stopSignal: stop.signal, pacer: control.postPacer }))
          .phones;
      } catch (error) {
        if (error instanceof NotSentError) {
          if (journal && batchId) await journal.unsent(batchId, phones).catch(fail);
          return;
        }
        if (error instanceof CphAuthError) fail(error);
        results = failedResults(batch, error);
      }
      for (const result of results) result.index = positions.get(result.phoneId);
      // Counted before the slot frees, so that no new batch takes it once max errors are exceeded.
      if (control.batchAnswered(results)) stopSending();
      // The slot is free once the answer is in; recording it overlaps with the next request.
      release();
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
    journal = await Journal.open(options.journal, {
      projectId: context.projectId,
      operation: operation.name,
      onNote: context.note,
    });
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
      const limit = control.limit;
      if (!stopping && pendingBatch && requests < limit && inFlight.size < 2 * limit) {
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
        let next: IteratorResult<T | SkippedPhone>;
        try {
          const step = iterator.next();
          if (step instanceof Promise || typeof (step as { then?: unknown }).then === "function") {
            // An async source may take its time: stay abortable while it does.
            danglingNext = true;
            next = await raceSignal(Promise.resolve(step), stop.signal);
            danglingNext = false;
          } else {
            next = step as IteratorResult<T | SkippedPhone>;
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
