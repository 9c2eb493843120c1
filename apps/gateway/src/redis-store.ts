import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { IdempotencyClaim, StateStore, StoredResponse } from "./state-store.js";

// Each operation is one Lua script, so it is atomic across every gateway sharing the Redis.
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`;
const COMPLETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const RATE = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

interface Scripts {
  cphgwClaim(key: string, value: string, ttlMs: number): Promise<string | null>;
  cphgwComplete(key: string, expected: string, value: string, ttlMs: number): Promise<number>;
  cphgwRelease(key: string, expected: string): Promise<number>;
  cphgwRate(key: string, windowMs: number): Promise<[number, number]>;
}

export interface RedisStateStoreOptions {
  url: string;
  /** Prefix of every key; default `cph-gateway:`. */
  keyPrefix?: string;
  /** Longest wait for one command; default 2 s. */
  commandTimeoutMs?: number;
  /** Connection problems (the message never holds the URL's password). */
  onError?: (error: Error) => void;
}

// Stored values: `F<uuid>|<fingerprint>` while in flight, `D<json>` once completed.
function inFlightValue(uuid: string, fingerprint: string): string {
  return `F${uuid}|${fingerprint}`;
}

function decode(value: string): IdempotencyClaim {
  if (value.startsWith("F")) {
    return { outcome: "in-flight", fingerprint: value.slice(value.indexOf("|") + 1) };
  }
  const record = JSON.parse(value.slice(1)) as { fingerprint: string; response: StoredResponse };
  return { outcome: "completed", fingerprint: record.fingerprint, response: record.response };
}

/** State in Redis (ioredis), shared by every gateway process that uses the same Redis and prefix. */
export function createRedisStateStore(options: RedisStateStoreOptions): StateStore {
  const timeout = options.commandTimeoutMs ?? 2000;
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix ?? "cph-gateway:",
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  redis.on("error", (error: Error) => options.onError?.(error));
  redis.defineCommand("cphgwClaim", { numberOfKeys: 1, lua: CLAIM });
  redis.defineCommand("cphgwComplete", { numberOfKeys: 1, lua: COMPLETE });
  redis.defineCommand("cphgwRelease", { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand("cphgwRate", { numberOfKeys: 1, lua: RATE });
  const scripts = redis as unknown as Scripts;
  let closed = false;

  return {
    kind: "redis",
    async claimIdempotencyKey(key, fingerprint, lockTtlMs) {
      // The token is the whole in-flight value, so completing or releasing compares one string.
      const token = inFlightValue(randomUUID(), fingerprint);
      const existing = await scripts.cphgwClaim(`idem:${key}`, token, lockTtlMs);
      return existing === null ? { outcome: "claimed", token } : decode(existing);
    },
    async completeIdempotencyKey(key, token, fingerprint, response, ttlMs) {
      const value = `D${JSON.stringify({ fingerprint, response })}`;
      await scripts.cphgwComplete(`idem:${key}`, token, value, ttlMs);
    },
    async releaseIdempotencyKey(key, token) {
      await scripts.cphgwRelease(`idem:${key}`, token);
    },
    async hitRateWindow(key, windowMs) {
      const [count, resetInMs] = await scripts.cphgwRate(`rate:${key}`, windowMs);
      return { count: Number(count), resetInMs: Number(resetInMs) };
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      if (closed) return;
      closed = true;
      // QUIT waits for a connection; without one there is nothing to say goodbye to.
      if (redis.status !== "ready") {
        redis.disconnect();
        return;
      }
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
