import type { RequestTarget } from "./transport.js";

/** How a caller controls one logical request and its retries. */
export interface SendControl {
  /** Aborts everything, the request in flight included. */
  signal?: AbortSignal | undefined;
  /** Stops only between attempts: a request in flight is let finish. */
  stopSignal?: AbortSignal | undefined;
  /** False for the IAM token request itself. */
  authenticate?: boolean;
  /** Extra headers, already checked by `extraHeaders`; added before credentials, so signed with AK/SK. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** The request's URL already split (reused for a URL that never changes); split per request otherwise. */
  target?: RequestTarget | undefined;
  /** Paces the attempts of a bulk run (its rate) and learns from their answers (its concurrency). */
  pacer?: AttemptPacer | undefined;
}

/** What a bulk run puts around every attempt of its requests, retries included. */
export interface AttemptPacer {
  /**
   * Resolves when the attempt may leave, with a ticket handed back to `afterAttempt`; rejects
   * with the reason of the first signal that aborts.
   */
  beforeAttempt(signal?: AbortSignal, stopSignal?: AbortSignal): Promise<number>;
  /** The attempt's answer: undefined for a 2xx, else the error (an HTTP error or a transport failure). */
  afterAttempt?(ticket: number, error: unknown): void;
}

/**
 * A stop was requested while a request waited to be retried, and its last answer proved it was
 * not processed: none of its phones were sent.
 */
export class NotSentError extends Error {
  readonly lastError: unknown;

  constructor(lastError: unknown) {
    super("stopped before the request could be sent again");
    this.name = "NotSentError";
    this.lastError = lastError;
  }
}
