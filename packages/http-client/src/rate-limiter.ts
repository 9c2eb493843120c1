import { sleep } from "./retry.js";

/**
 * Spaces requests at most `perSecond` a second, shared by everything that takes from it: each
 * `take` reserves the next free slot (first come, first served) and waits for it.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #next = Number.NEGATIVE_INFINITY;

  constructor(perSecond: number, now: () => number = Date.now) {
    this.#intervalMs = 1000 / perSecond;
    this.#now = now;
  }

  /** Resolves at the reserved slot; rejects with the reason of the first signal that aborts. */
  take(...signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
    const now = this.#now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    return at <= now ? Promise.resolve() : sleep(at - now, ...signals);
  }
}
