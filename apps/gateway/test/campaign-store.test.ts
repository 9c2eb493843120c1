// The campaign store's Lua scripts on a real Redis, under random sequences of what workers and
// callers do (claim, answer, follow, stop, cancel, resume): the invariants that make a campaign
// trustworthy hold after every step.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { CAMPAIGN_PHONE_STATES, type CampaignSpec } from "../src/campaign-model.js";
import { CampaignStore, type PhoneRecord, type PhoneUpdate } from "../src/campaign-store.js";
import { type RedisHandle, startRedis } from "./support.js";

const redis = await startRedis();
const skip = typeof redis === "string";
const handle = redis as RedisHandle;

describe.skipIf(skip)("campaign store (Redis, Lua)", () => {
  const client = skip ? undefined : new Redis(handle.url, { keyPrefix: `${handle.keyPrefix}store:` });
  const store = client ? new CampaignStore(client) : undefined;

  afterAll(async () => {
    await client?.quit();
    await handle.stop();
  });

  const PHONES = 12;
  const BATCH = 4;

  async function newCampaign(
    maxErrors?: CampaignSpec["maxErrors"],
    on: CampaignStore = store!,
  ): Promise<{ spec: CampaignSpec; ids: string[] }> {
    const spec: CampaignSpec = {
      id: `c-${randomUUID().replaceAll("-", "")}`,
      caller: "team",
      bucketName: "b",
      objectPath: "p/{phone_id}",
      includeFiles: ["/data"],
      batchSize: BATCH,
      maxConcurrency: 2,
      ...(maxErrors === undefined ? {} : { maxErrors }),
    };
    const ids = Array.from({ length: PHONES }, (_, index) => `p${index}`);
    await on.create(
      spec,
      ids.map((id) => ({ id, objectPath: `p/${id}` })),
      Date.now(),
    );
    return { spec, ids };
  }

  async function records(spec: CampaignSpec): Promise<Map<string, PhoneRecord>> {
    const raw = await client!.hgetall(`camp:${spec.id}:ph`);
    return new Map(Object.entries(raw).map(([id, value]) => [id, JSON.parse(value) as PhoneRecord]));
  }

  /** Counts, state sets and records agree; a finished campaign has no active phone. */
  async function checkInvariants(spec: CampaignSpec): Promise<void> {
    const view = (await store!.view(spec.id))!;
    const all = await records(spec);
    expect(all.size).toBe(PHONES);
    for (const state of CAMPAIGN_PHONE_STATES) {
      const inState = [...all.values()].filter((record) => record.s === state).length;
      expect(view.counts[state], state).toBe(inState);
      expect(await client!.zcard(`camp:${spec.id}:st:${state}`), state).toBe(inState);
    }
    const active = view.counts.pending + view.counts.sent + view.counts.accepted;
    expect(view.finished_at !== undefined, `finished ${view.finished_at} with ${active} active`).toBe(
      active === 0,
    );
    if (view.status === "completed") expect(active).toBe(0);
  }

  type Step =
    | { kind: "claim"; batch: number }
    | { kind: "answer"; batch: number; outcome: "accepted" | "rejected" | "unknown" | "not_sent" }
    | { kind: "follow"; batch: number; outcome: "succeeded" | "failed" | "unknown" }
    | { kind: "cancel" }
    | { kind: "resume" };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant("claim" as const), batch: fc.nat(2) }),
    fc.record({
      kind: fc.constant("answer" as const),
      batch: fc.nat(2),
      outcome: fc.constantFrom(
        "accepted" as const,
        "rejected" as const,
        "unknown" as const,
        "not_sent" as const,
      ),
    }),
    fc.record({
      kind: fc.constant("follow" as const),
      batch: fc.nat(2),
      outcome: fc.constantFrom("succeeded" as const, "failed" as const, "unknown" as const),
    }),
    fc.constant({ kind: "cancel" as const }),
    fc.constant({ kind: "resume" as const }),
  );

  it("keeps counts, state sets and records in step, and never hands a phone to two sends", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        async (steps, limited) => {
          const { spec, ids } = await newCampaign(limited ? { count: 1 } : undefined);
          const attempts = new Map<number, string>();
          /** Every phone id claimed by a send, by attempt: a phone is sent at most once unless it went back to pending. */
          const sends = new Map<string, number>();
          for (const current of steps) {
            const batch = "batch" in current ? current.batch : 0;
            const batchIds = ids.slice(batch * BATCH, batch * BATCH + BATCH);
            if (current.kind === "claim") {
              const attempt = randomUUID();
              const before = await records(spec);
              const claim = await store!.claim(spec.id, batchIds, attempt, Date.now());
              attempts.set(current.batch, attempt);
              const view = (await store!.view(spec.id))!;
              if (claim.stopped) expect(claim.claimed).toEqual([]);
              for (const { id } of claim.claimed) {
                // Only a pending phone is claimed, and only while the campaign runs.
                expect(before.get(id)?.s).toBe("pending");
                expect(["running", "completed"]).toContain(view.status);
                sends.set(id, (sends.get(id) ?? 0) + 1);
              }
              // A phone left sent by an earlier attempt becomes unknown, never sent again.
              for (const id of claim.interrupted) {
                expect(before.get(id)?.s).toBe("sent");
                expect((await records(spec)).get(id)?.s).toBe("unknown");
              }
            } else if (current.kind === "answer") {
              const attempt = attempts.get(current.batch);
              const updates: PhoneUpdate[] = batchIds.map((id) =>
                current.outcome === "not_sent"
                  ? { id, from: ["sent"], to: "pending", a: attempt }
                  : {
                      id,
                      from: ["sent", "unknown"],
                      to: current.outcome,
                      a: attempt,
                      j: `job-${id}`,
                      c: current.outcome === "accepted" ? undefined : "CPS.0005",
                      m: current.outcome === "accepted" ? undefined : "refused",
                      answered: current.outcome !== "unknown",
                      error: current.outcome === "rejected",
                    },
              );
              await store!.record(spec.id, updates, Date.now());
              if (current.outcome === "not_sent") for (const id of batchIds) sends.delete(id);
            } else if (current.kind === "follow") {
              await store!.record(
                spec.id,
                batchIds.map((id) => ({
                  id,
                  from: ["accepted"],
                  to: current.outcome,
                  ...(current.outcome === "failed" ? { c: "CPS.0010", m: "failed", error: true } : {}),
                  ...(current.outcome === "unknown"
                    ? { c: "job_unknown", m: "the job's end was not seen" }
                    : {}),
                })),
                Date.now(),
              );
            } else if (current.kind === "cancel") {
              await store!.stop(spec.id, "cancelled", "cancelled", "not sent: cancelled", Date.now());
            } else {
              const resumed = await store!.resume(spec.id, Date.now());
              const view = (await store!.view(spec.id))!;
              if (resumed.resumed > 0) expect(view.status).toBe("running");
            }
            await checkInvariants(spec);
            for (const count of sends.values()) expect(count).toBe(1);
          }
          // A stopped or cancelled campaign's unsent phones say why.
          for (const record of (await records(spec)).values()) {
            if (record.s === "rejected") expect(record.c).toBeTruthy();
            if (record.s === "unknown") expect(record.c).toBeTruthy();
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);

  it("stops the campaign once more errors than max_errors: no phone is claimed after", async () => {
    const { spec, ids } = await newCampaign({ count: 1 });
    const first = await store!.claim(spec.id, ids.slice(0, 4), "a1", Date.now());
    expect(first.claimed).toHaveLength(4);
    await store!.record(
      spec.id,
      ids.slice(0, 2).map((id) => ({
        id,
        from: ["sent"],
        to: "rejected",
        a: "a1",
        c: "CPS.0005",
        answered: true,
        error: true,
      })),
      Date.now(),
    );
    const second = await store!.claim(spec.id, ids.slice(4, 8), "a2", Date.now());
    expect(second.stopped).toBe(true);
    const view = (await store!.view(spec.id))!;
    expect(view.status).toBe("stopped");
    expect(view.stop_reason).toBe("max_errors");
    expect(view.counts.pending).toBe(0);
    expect(view.counts.rejected).toBe(2 + 8);
    // The two phones still sent end the campaign when they are answered.
    expect(view.finished_at).toBeUndefined();
    await store!.record(
      spec.id,
      ids.slice(2, 4).map((id) => ({ id, from: ["sent"], to: "accepted", a: "a1", j: `j${id}` })),
      Date.now(),
    );
    await store!.record(
      spec.id,
      ids.slice(2, 4).map((id) => ({ id, from: ["accepted"], to: "succeeded" })),
      Date.now(),
    );
    const done = (await store!.view(spec.id))!;
    expect(done.finished_at).toBeDefined();
    expect(done.status).toBe("stopped");
  });

  it("keeps a finished campaign for its retention only, and for ever again once resumed", async () => {
    const kept = new CampaignStore(client!, { retentionMs: 60_000 });
    const { spec } = await newCampaign(undefined, kept);
    const ttl = () => client!.pttl(`camp:${spec.id}`);
    expect(await ttl()).toBe(-1);
    await kept.stop(spec.id, "cancelled", "cancelled", "not sent: cancelled", Date.now());
    const finished = await ttl();
    expect(finished).toBeGreaterThan(50_000);
    expect(await client!.pttl(`camp:${spec.id}:ph`)).toBeGreaterThan(50_000);
    expect(await client!.pttl(`camp:${spec.id}:st:rejected`)).toBeGreaterThan(50_000);
    await kept.resume(spec.id, Date.now());
    expect(await ttl()).toBe(-1);
    expect(await client!.pttl(`camp:${spec.id}:ph`)).toBe(-1);
  });

  it("spaces requests over every caller of the pacer", async () => {
    const { spec } = await newCampaign();
    const waits = await Promise.all(Array.from({ length: 5 }, () => store!.pace(spec.id, 10)));
    expect([...waits].sort((a, b) => a - b).map((wait) => Math.round(wait / 100))).toEqual([0, 1, 2, 3, 4]);
  });
});
