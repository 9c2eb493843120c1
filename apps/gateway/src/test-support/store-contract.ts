// The behaviour every StateStore must have; run against the memory store and a real Redis.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { StateStore } from "../state-store.js";

const RESPONSE = { status: 200, headers: { "Content-Type": "application/json" }, body: '{"jobs":[]}' };

export function stateStoreContract(create: () => StateStore | Promise<StateStore>): void {
  const key = () => `contract-${randomUUID()}`;

  it("claims a free key once; a second claim sees it in flight with the first fingerprint", async () => {
    const store = await create();
    const name = key();
    const first = await store.claimIdempotencyKey(name, "fp-1", 60_000);
    expect(first.outcome).toBe("claimed");
    expect(await store.claimIdempotencyKey(name, "fp-2", 60_000)).toEqual({
      outcome: "in-flight",
      fingerprint: "fp-1",
    });
  });

  it("keeps the answer of a completed key and returns it to later claims", async () => {
    const store = await create();
    const name = key();
    const claim = await store.claimIdempotencyKey(name, "fp-1", 60_000);
    if (claim.outcome !== "claimed") throw new Error("not claimed");
    await store.completeIdempotencyKey(name, claim.token, "fp-1", RESPONSE, 60_000);
    expect(await store.claimIdempotencyKey(name, "fp-1", 60_000)).toEqual({
      outcome: "completed",
      fingerprint: "fp-1",
      response: RESPONSE,
    });
  });

  it("frees a released key, and ignores completing or releasing with another token", async () => {
    const store = await create();
    const name = key();
    const claim = await store.claimIdempotencyKey(name, "fp-1", 60_000);
    if (claim.outcome !== "claimed") throw new Error("not claimed");
    await store.releaseIdempotencyKey(name, "not-the-token");
    await store.completeIdempotencyKey(name, "not-the-token", "fp-1", RESPONSE, 60_000);
    expect((await store.claimIdempotencyKey(name, "fp-1", 60_000)).outcome).toBe("in-flight");
    await store.releaseIdempotencyKey(name, claim.token);
    expect((await store.claimIdempotencyKey(name, "fp-3", 60_000)).outcome).toBe("claimed");
  });

  it("gives exactly one of many concurrent claims the key", async () => {
    const store = await create();
    const name = key();
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, index) => store.claimIdempotencyKey(name, `fp-${index}`, 60_000)),
    );
    expect(claims.filter((claim) => claim.outcome === "claimed")).toHaveLength(1);
  });

  it("counts requests in a window that starts with the first", async () => {
    const store = await create();
    const name = key();
    const counts = await Promise.all(Array.from({ length: 10 }, () => store.hitRateWindow(name, 60_000)));
    expect(counts.map((window) => window.count).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    for (const window of counts) {
      expect(window.resetInMs).toBeGreaterThan(0);
      expect(window.resetInMs).toBeLessThanOrEqual(60_000);
    }
    expect((await store.hitRateWindow(key(), 60_000)).count).toBe(1);
  });

  it("answers a ping", async () => {
    const store = await create();
    await expect(store.ping()).resolves.toBeUndefined();
  });
}
