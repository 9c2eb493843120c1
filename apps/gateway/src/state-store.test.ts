import { describe, expect, it } from "vitest";
import { createMemoryStateStore } from "./state-store.js";
import { stateStoreContract } from "./test-support/store-contract.js";

describe("memory state store", () => {
  stateStoreContract(() => createMemoryStateStore());

  it("expires in-flight claims, records and rate windows on the injected clock", async () => {
    let time = 1_000;
    const store = createMemoryStateStore({ now: () => time });
    const claim = await store.claimIdempotencyKey("k", "fp", 500);
    expect(claim.outcome).toBe("claimed");
    time += 499;
    expect((await store.claimIdempotencyKey("k", "fp", 500)).outcome).toBe("in-flight");
    time += 1;
    const again = await store.claimIdempotencyKey("k", "fp", 500);
    expect(again.outcome).toBe("claimed");
    if (again.outcome !== "claimed") return;
    await store.completeIdempotencyKey("k", again.token, "fp", { status: 200, headers: {}, body: "" }, 1000);
    time += 999;
    expect((await store.claimIdempotencyKey("k", "fp", 500)).outcome).toBe("completed");
    time += 1;
    expect((await store.claimIdempotencyKey("k", "fp", 500)).outcome).toBe("claimed");

    expect(await store.hitRateWindow("caller", 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    time += 59_999;
    expect(await store.hitRateWindow("caller", 60_000)).toEqual({ count: 2, resetInMs: 1 });
    time += 1;
    expect(await store.hitRateWindow("caller", 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
  });

  it("drops the oldest records beyond its bound", async () => {
    const store = createMemoryStateStore({ maxEntries: 2 });
    for (const name of ["a", "b", "c"]) await store.claimIdempotencyKey(name, name, 60_000);
    expect((await store.claimIdempotencyKey("a", "a", 60_000)).outcome).toBe("claimed");
    expect((await store.claimIdempotencyKey("c", "c", 60_000)).outcome).toBe("in-flight");
  });
});
