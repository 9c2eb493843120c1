import { CphApiError, CphAuthError, CphNetworkError } from "@cph-export/core";
import { PERMANENT_CONNECT_CODES, transportErrorCode } from "./transport.js";
import type { RetryPolicy } from "./types.js";

/** The defaults of `RetryPolicy`. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
});

function isIdempotent(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/**
 * Whether the failure proves the request was not processed, so sending it again cannot do the
 * work twice: throttling, `APIGW.0201` 502/503 (and the other answers core marks retryable), or
 * no connection at all.
 */
export function provesNotProcessed(error: unknown): boolean {
  if (error instanceof CphApiError) return error.retryable;
  return error instanceof CphNetworkError && error.phase === "connect";
}

/**
 * The safe policy: never an auth failure; for POST only what `provesNotProcessed`; for GET also
 * any 5xx and any transport failure (reading twice does no harm).
 */
export function defaultShouldRetry(error: unknown, context: { method: string; attempt: number }): boolean {
  if (error instanceof CphAuthError) return false;
  if (error instanceof CphApiError) return error.retryableFor(context.method);
  if (error instanceof CphNetworkError) {
    const code = transportErrorCode(error.cause);
    if (code && PERMANENT_CONNECT_CODES.has(code)) return false;
    return error.phase === "connect" || isIdempotent(context.method);
  }
  return false;
}

/**
 * The hard floor under any injected `shouldRetry`: a POST whose outcome is unknown (sent and its
 * answer lost or unreadable, or a 5xx that does not prove it was not processed) is never resent,
 * and auth failures never loop.
 */
export function mayRetryAtAll(error: unknown, method: string): boolean {
  if (error instanceof CphAuthError) return false;
  if (isIdempotent(method)) return error instanceof CphApiError || error instanceof CphNetworkError;
  if (provesNotProcessed(error)) return true;
  return error instanceof CphApiError && error.status < 500;
}

/**
 * Capped exponential backoff with full jitter before attempt `attempt + 1`, never shorter than
 * the server's `Retry-After`.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined): number {
  const random = policy.random ?? Math.random;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = Math.floor(random() * ceiling);
  return Math.max(jitter, retryAfterMs ?? 0);
}

/** Resolves after `ms`, or rejects with the reason of the first signal that aborts. */
export function sleep(ms: number, ...signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
  const active = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const aborted = active.find((signal) => signal.aborted);
  if (aborted) return Promise.reject(aborted.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (event: Event) => {
      clearTimeout(timer);
      for (const signal of active) signal.removeEventListener("abort", onAbort);
      reject((event.target as AbortSignal).reason);
    };
    const timer = setTimeout(() => {
      for (const signal of active) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    for (const signal of active) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Waits for a promise, or rejects with the signal's reason as soon as it aborts (the promise keeps running). */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
