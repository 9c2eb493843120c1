import { CphAuthError } from "@cph-export/core";
import { RESULT_CODES } from "./batch-result.js";
import { JobPoller, type JobReader } from "./job-poller.js";
import { sleep } from "./retry.js";
import type { JobOutcome, PhoneResult, WaitOptions } from "./types.js";
import { DEFAULT_WAIT, nextInterval } from "./wait-for-jobs.js";

/** Polling rounds in a row that may fail before the followed jobs are given up as not followed. */
const MAX_FAILED_ROUNDS = 3;

/** Follows accepted jobs while the export goes on, handing each phone back once its job ends. */
export class Follower {
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
