import { randomFillSync } from "node:crypto";

/** A 32-bit hash of a text (FNV-1a with a final avalanche), stable across runs and platforms. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  // FNV-1a alone leaves the low bits weak; the murmur3 finaliser spreads them.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A seeded pseudo-random generator (mulberry32) giving numbers in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [0, max). */
export function randomInt(random: () => number, max: number): number {
  return Math.floor(random() * max);
}

// One system call fills many ids: a call per id costs more than the rest of a request.
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolNext = POOL_IDS;

/** 32 random lowercase hex characters: request ids and job ids, like the real service's. */
export function randomId(): string {
  if (poolNext === POOL_IDS) {
    randomFillSync(pool);
    poolNext = 0;
  }
  const start = 16 * poolNext++;
  return pool.toString("hex", start, start + 16);
}

/** 32 lowercase hex characters derived from a text: stable ids such as a phone's server id. */
export function stableId(text: string): string {
  let out = "";
  for (let part = 0; part < 4; part++) out += hashString(`${part}:${text}`).toString(16).padStart(8, "0");
  return out;
}
