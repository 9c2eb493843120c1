import { randomUUID } from "node:crypto";

/** The first answer to an idempotent request, replayed for its duplicates. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyClaim =
  /** This request owns the key; `token` proves it when completing or releasing. */
  | { outcome: "claimed"; token: string }
  /** Another request with this key is running; `fingerprint` is that request's. */
  | { outcome: "in-flight"; fingerprint: string }
  /** The key's request finished; its answer and fingerprint. */
  | { outcome: "completed"; fingerprint: string; response: StoredResponse };

/**
 * Shared state of the gateway: idempotency records and rate-limit windows. Every operation is
 * atomic, so that several gateway processes on one store agree.
 */
export interface StateStore {
  readonly kind: "memory" | "redis";
  /** Claims `key` for a request with this fingerprint for `lockTtlMs`, or says who has it. */
  claimIdempotencyKey(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyClaim>;
  /** Stores the answer under a key this request claimed; kept for `ttlMs`. */
  completeIdempotencyKey(
    key: string,
    token: string,
    fingerprint: string,
    response: StoredResponse,
    ttlMs: number,
  ): Promise<void>;
  /** Frees a key this request claimed (nothing was done upstream, a retry is safe). */
  releaseIdempotencyKey(key: string, token: string): Promise<void>;
  /** Counts one request in the window of `key`; the window starts with its first request. */
  hitRateWindow(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  value:
    | { state: "in-flight"; token: string; fingerprint: string }
    | { state: "completed"; fingerprint: string; response: StoredResponse };
  expiresAt: number;
}

/** Options of the in-memory store; `now` is the injected clock. */
export interface MemoryStateStoreOptions {
  now?: () => number;
  /** Most idempotency records kept; the oldest are dropped first. Default 100,000. */
  maxEntries?: number;
}

/** State in this process only: right for one gateway instance. */
export function createMemoryStateStore(options: MemoryStateStoreOptions = {}): StateStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, Entry>();
  const windows = new Map<string, { count: number; expiresAt: number }>();
  let operations = 0;

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function sweep(): void {
    if (++operations % 1000 !== 0) return;
    const time = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= time) entries.delete(key);
    for (const [key, window] of windows) if (window.expiresAt <= time) windows.delete(key);
  }

  function put(key: string, entry: Entry): void {
    entries.delete(key);
    entries.set(key, entry);
    // A Map iterates in insertion order, so the first key is the oldest.
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  }

  return {
    kind: "memory",
    async claimIdempotencyKey(key, fingerprint, lockTtlMs) {
      sweep();
      const entry = live(key);
      if (entry === undefined) {
        const token = randomUUID();
        put(key, { value: { state: "in-flight", token, fingerprint }, expiresAt: now() + lockTtlMs });
        return { outcome: "claimed", token };
      }
      if (entry.value.state === "in-flight")
        return { outcome: "in-flight", fingerprint: entry.value.fingerprint };
      return { outcome: "completed", fingerprint: entry.value.fingerprint, response: entry.value.response };
    },
    async completeIdempotencyKey(key, token, fingerprint, response, ttlMs) {
      const entry = live(key);
      if (entry?.value.state === "in-flight" && entry.value.token === token) {
        put(key, { value: { state: "completed", fingerprint, response }, expiresAt: now() + ttlMs });
      }
    },
    async releaseIdempotencyKey(key, token) {
      const entry = live(key);
      if (entry?.value.state === "in-flight" && entry.value.token === token) entries.delete(key);
    },
    async hitRateWindow(key, windowMs) {
      sweep();
      const time = now();
      let window = windows.get(key);
      if (window === undefined || window.expiresAt <= time) {
        window = { count: 0, expiresAt: time + windowMs };
        windows.set(key, window);
      }
      window.count++;
      return { count: window.count, resetInMs: window.expiresAt - time };
    },
    async ping() {},
    async close() {
      entries.clear();
      windows.clear();
    },
  };
}
