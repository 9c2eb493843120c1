import type { BatchEntry } from "./export-source.js";
import { CphValidationError, formatMaxErrors, type MaxErrors, maxErrorsExceeded } from "@cph-export/core";
import { AdaptiveLimit } from "./adaptive-limit.js";
import { RESULT_CODES } from "./batch-result.js";
import { RateLimiter } from "./rate-limiter.js";
import type { AttemptPacer } from "./send-control.js";
import type { ExportManyOptions, ExportProgress, PhoneResult } from "./types.js";

function invalid(path: string, message: string): CphValidationError {
  return new CphValidationError([{ code: "invalid_type", path, message, severity: "error" }]);
}

function checkedMaxErrors(value: unknown): MaxErrors | undefined {
  if (value === undefined) return undefined;
  const limit = value as Partial<{ count: unknown; percent: unknown }>;
  if (typeof limit === "object" && limit !== null) {
    const { count, percent } = limit;
    if (percent === undefined && Number.isInteger(count) && (count as number) >= 0)
      return { count: count as number };
    if (count === undefined && typeof percent === "number" && percent > 0 && percent <= 100)
      return { percent };
  }
  throw invalid(
    "maxErrors",
    "maxErrors must be { count } (a whole number, 0 or more) or { percent } (above 0, at most 100)",
  );
}

/**
 * The run control of one bulk run: its in-flight limit (adaptive on throttling), its request
 * rate shared by the batch POSTs and the job polling, and its error budget.
 */
export class RunControl {
  readonly #adaptive: AdaptiveLimit | undefined;
  readonly #fixedLimit: number;
  readonly #rate: RateLimiter | undefined;
  readonly #maxErrors: MaxErrors | undefined;
  readonly #onLimitChange: () => void;
  #errors = 0;
  /** Phones CPH answered for in this run (accepted or rejected by it): the base of a percentage. */
  #answered = 0;
  #stoppedReason: ExportProgress["stoppedReason"];
  /** Paces and watches the batch POSTs. */
  readonly postPacer: AttemptPacer | undefined;
  /** Paces the job polling. */
  readonly readPacer: AttemptPacer | undefined;

  constructor(options: ExportManyOptions, concurrency: number, onLimitChange: () => void) {
    const { rate } = options;
    if (rate !== undefined && !(typeof rate === "number" && rate > 0 && Number.isFinite(rate)))
      throw invalid("rate", `rate must be a number of requests per second above 0, not ${String(rate)}`);
    this.#maxErrors = checkedMaxErrors(options.maxErrors);
    this.#fixedLimit = concurrency;
    this.#adaptive =
      (options.adaptiveConcurrency ?? concurrency > 1) ? new AdaptiveLimit(concurrency) : undefined;
    this.#rate = rate === undefined ? undefined : new RateLimiter(rate);
    this.#onLimitChange = onLimitChange;
    const take = async (signal?: AbortSignal, stopSignal?: AbortSignal) => {
      await this.#rate?.take(signal, stopSignal);
      return this.#adaptive?.ticket() ?? 0;
    };
    if (this.#adaptive) {
      const adaptive = this.#adaptive;
      this.postPacer = {
        beforeAttempt: take,
        afterAttempt: (ticket, error) => {
          if (adaptive.observe(ticket, error)) this.#onLimitChange();
        },
      };
    } else if (this.#rate) this.postPacer = { beforeAttempt: take };
    if (this.#rate) this.readPacer = { beforeAttempt: take };
  }

  /** Batch requests allowed in flight now. */
  get limit(): number {
    return this.#adaptive?.limit ?? this.#fixedLimit;
  }

  get errors(): number {
    return this.#errors;
  }

  get stoppedReason(): ExportProgress["stoppedReason"] {
    return this.#stoppedReason;
  }

  /** Counts the results of a batch CPH answered (or refused); true when the run must stop sending. */
  batchAnswered(results: readonly PhoneResult[]): boolean {
    for (const result of results) {
      if (result.state === "accepted") this.#answered++;
      else if (result.state === "rejected" && result.errorCode !== RESULT_CODES.notSent) {
        this.#answered++;
        this.#errors++;
      }
    }
    return this.#check();
  }

  /** Counts a followed job's end; true when the run must stop sending. */
  jobEnded(result: PhoneResult): boolean {
    // A job accepted by an earlier run was not counted as answered by this one.
    if (result.state === "failed" && !result.fromJournal) this.#errors++;
    return this.#check();
  }

  #check(): boolean {
    if (this.#stoppedReason !== undefined || this.#maxErrors === undefined) return false;
    if (!maxErrorsExceeded(this.#maxErrors, { errors: this.#errors, done: this.#answered })) return false;
    this.#stoppedReason = "max_errors";
    return true;
  }

  /** The result of a phone the run will not send because it stopped. */
  notSent(info: BatchEntry, index: number | undefined): PhoneResult {
    const limit = this.#maxErrors ? formatMaxErrors(this.#maxErrors) : "";
    return {
      phoneId: info.phone_id,
      index,
      bucketName: info.bucket_name,
      objectPath: info.object_path,
      state: "rejected",
      errorCode: RESULT_CODES.notSent,
      errorMessage: `not sent: the run stopped sending after max errors (${limit}) were exceeded (${this.#errors} errors); a rerun sends it`,
    };
  }
}
