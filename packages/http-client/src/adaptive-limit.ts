import { CphApiError } from "@cph-export/core";

/** Successful requests in a row after which a reduced limit grows by one. */
export const GROW_AFTER_SUCCESSES = 10;

/** Whether an answer says the caller is over its rate limit (429 `APIGW.0308`, or any 429). */
export function isThrottled(error: unknown): boolean {
  return (
    error instanceof CphApiError &&
    (error.status === 429 || error.errorCode === "APIGW.0308" || error.errorCode === "APIG.0308")
  );
}

/**
 * The in-flight limit of a run that adapts to throttling: halved (never below 1) on a throttled
 * answer, grown back by 1 after `growAfter` successes in a row, up to `max`. Only the throttled
 * answers of attempts that started after the last halving halve it again, so that the requests
 * already in flight when the service pushed back count as one signal, not one each.
 */
export class AdaptiveLimit {
  readonly max: number;
  readonly #growAfter: number;
  #limit: number;
  #tickets = 0;
  #halvedAt = 0;
  #successes = 0;

  constructor(max: number, growAfter = GROW_AFTER_SUCCESSES) {
    this.max = max;
    this.#limit = max;
    this.#growAfter = growAfter;
  }

  get limit(): number {
    return this.#limit;
  }

  /** A ticket for an attempt about to leave. */
  ticket(): number {
    return ++this.#tickets;
  }

  /** Learns from an attempt's answer (undefined for a 2xx); true when the limit changed. */
  observe(ticket: number, error: unknown): boolean {
    if (isThrottled(error)) {
      this.#successes = 0;
      if (ticket <= this.#halvedAt) return false;
      this.#halvedAt = this.#tickets;
      const halved = Math.max(1, Math.floor(this.#limit / 2));
      if (halved === this.#limit) return false;
      this.#limit = halved;
      return true;
    }
    if (error !== undefined) {
      this.#successes = 0;
      return false;
    }
    if (this.#limit >= this.max) return false;
    if (++this.#successes < this.#growAfter) return false;
    this.#successes = 0;
    this.#limit++;
    return true;
  }
}
