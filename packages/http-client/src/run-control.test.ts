import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CphApiError, CphValidationError, type StorageInfo } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AdaptiveLimit, GROW_AFTER_SUCCESSES } from "./adaptive-limit.js";
import { RESULT_CODES } from "./batch-result.js";
import { RateLimiter } from "./rate-limiter.js";
import { SkippedPhone } from "./skipped-phone.js";
import {
  acceptAll,
  BATCH_PATH,
  collect,
  cphError,
  mockClient,
  mockCph,
  phone,
  type Reply,
  type SeenRequest,
  storageInfo,
} from "./test-support/mock-cph.js";
import type { ExportProgress, PhoneResult } from "./types.js";

function phonesOf(request: SeenRequest): string[] {
  return (JSON.parse(request.text) as { storage_infos: StorageInfo[] }).storage_infos.map(
    (info) => info.phone_id,
  );
}

function* infos(count: number): Generator<StorageInfo> {
  for (let index = 0; index < count; index++) yield storageInfo(phone(index));
}

/** A batch answer accepting every phone but those in `refused`, which get the per-phone error CPS.0005. */
function acceptBut(request: SeenRequest, refused: (phoneId: string) => boolean, requestId?: string): Reply {
  const reply = acceptAll(request, requestId);
  const body = reply.body as { jobs: Array<Record<string, string>> };
  body.jobs = body.jobs.map((job) =>
    refused(job["phone_id"]!)
      ? { phone_id: job["phone_id"]!, error_code: "CPS.0005", error_msg: "phone not found" }
      : job,
  );
  return reply;
}

const throttled = () => cphError(429, "APIGW.0308", "The throttling threshold has been reached");
const posts = (requests: SeenRequest[]) => requests.filter((request) => request.path === BATCH_PATH);
const codes = (results: PhoneResult[]) => {
  const out: Record<string, number> = {};
  for (const result of results) {
    const key = `${result.state}:${result.errorCode ?? ""}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  vi.useRealTimers();
});

describe("maxErrors", () => {
  it("stops sending once more than `count` phones were rejected, and reports every other phone not_sent", async () => {
    // The first phone of every batch of 5 is refused by CPH.
    const { agent, requests } = mockCph((request) => {
      const first = phonesOf(request)[0];
      return acceptBut(request, (id) => id === first);
    });
    const progress: ExportProgress[] = [];
    const results = await collect(
      mockClient(agent).exportMany(infos(100), {
        batchSize: 5,
        concurrency: 1,
        maxErrors: { count: 2 },
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(results).toHaveLength(100);
    expect(posts(requests)).toHaveLength(3);
    expect(codes(results)).toEqual({ "rejected:CPS.0005": 3, "accepted:": 12, "rejected:not_sent": 85 });
    const sent = new Set(requests.flatMap(phonesOf));
    for (const result of results) {
      expect(sent.has(result.phoneId)).toBe(result.errorCode !== RESULT_CODES.notSent);
      if (result.errorCode === RESULT_CODES.notSent)
        expect(result.errorMessage).toMatch(/max errors \(2\) were exceeded \(3 errors\)/);
    }
    expect(new Set(results.map((r) => r.index)).size).toBe(100);
    expect(progress.at(-1)).toMatchObject({ stoppedReason: "max_errors", errors: 3, rejected: 88 });
    // Not stopped before the limit was passed.
    expect(progress.filter((p) => p.stoppedReason === undefined).every((p) => p.errors <= 2)).toBe(true);
  });

  it("a percentage is of the phones CPH answered for", async () => {
    // One phone in ten refused: 10% is never exceeded, 9% is on the first batch.
    const refuse = (id: string) => id.endsWith("0");
    const run = async (percent: number) => {
      const { agent, requests } = mockCph((request) => acceptBut(request, refuse));
      const results = await collect(
        mockClient(agent).exportMany(infos(50), { batchSize: 10, concurrency: 1, maxErrors: { percent } }),
      );
      return { results, posts: posts(requests).length };
    };
    const ten = await run(10);
    expect(ten.posts).toBe(5);
    expect(codes(ten.results)).toEqual({ "rejected:CPS.0005": 5, "accepted:": 45 });
    const nine = await run(9);
    expect(nine.posts).toBe(1);
    expect(codes(nine.results)).toEqual({ "rejected:CPS.0005": 1, "accepted:": 9, "rejected:not_sent": 40 });
  });

  it("counts a whole request refused, but not skipped, invalid, repeated, unreachable or unknown phones", async () => {
    let calls = 0;
    const { agent } = mockCph((request) => {
      calls++;
      if (calls === 2) return cphError(500, "CPS.9999", "internal error");
      if (calls === 4) return cphError(400, "CPS.0004", "invalid request");
      return acceptAll(request);
    });
    const source: Array<StorageInfo | SkippedPhone> = [
      new SkippedPhone({ phoneId: "off-1", errorCode: RESULT_CODES.notExportable, errorMessage: "off" }),
      { ...storageInfo(phone(90)), bucket_name: "Bad_Bucket" },
      ...infos(2),
      storageInfo(phone(0)),
      ...[...infos(8)].slice(2),
    ];
    const results = await collect(
      mockClient(agent, { retry: { maxAttempts: 1 } }).exportMany(source, {
        batchSize: 2,
        concurrency: 1,
        maxErrors: { count: 1 },
      }),
    );
    // Batches: [0,1] accepted, [2,3] unknown (500), [4,5] accepted, [6,7] refused 400: 2 errors > 1,
    // but nothing was left to send by then.
    expect(codes(results)).toEqual({
      "rejected:not_exportable": 1,
      "rejected:bucket_charset": 1,
      "rejected:duplicate_phone": 1,
      "accepted:": 4,
      "unknown:outcome_unknown": 2,
      "rejected:CPS.0004": 2,
    });
  });

  it("0 stops at the first error; a rerun with the same journal sends exactly what was refused or not sent", async () => {
    dir = mkdtempSync(join(tmpdir(), "cph-run-control-"));
    const journal = join(dir, "export.journal");
    const first = mockCph((request) => acceptBut(request, (id) => id === phone(3)));
    const results = await collect(
      mockClient(first.agent).exportMany(infos(20), {
        batchSize: 4,
        concurrency: 1,
        journal,
        maxErrors: { count: 0 },
      }),
    );
    expect(posts(first.requests).map(phonesOf)).toEqual([[phone(0), phone(1), phone(2), phone(3)]]);
    expect(codes(results)).toEqual({ "accepted:": 3, "rejected:CPS.0005": 1, "rejected:not_sent": 16 });

    const second = mockCph((request) => acceptAll(request));
    const rerun = await collect(mockClient(second.agent).exportMany(infos(20), { batchSize: 20, journal }));
    expect(posts(second.requests).flatMap(phonesOf).sort()).toEqual(
      Array.from({ length: 17 }, (_, i) => phone(i + 3)),
    );
    expect(codes(rerun)).toEqual({ "accepted:": 20 });
    expect(rerun.filter((r) => r.fromJournal).map((r) => r.phoneId)).toEqual([phone(0), phone(1), phone(2)]);
  });

  it("with wait, counts failed jobs, stops sending, and still follows the jobs already accepted", async () => {
    const failing = new Set([phone(0), phone(1)]);
    const phonesOfRequest = new Map<string, string[]>();
    let reportedFailures!: () => void;
    const failuresReported = new Promise<void>((resolve) => {
      reportedFailures = resolve;
    });
    let batches = 0;
    const { agent, requests } = mockCph((request) => {
      if (request.path === BATCH_PATH) {
        const requestId = `req-${batches++}`;
        phonesOfRequest.set(requestId, phonesOf(request));
        // The second batch is answered only once the first one's failures have been read.
        return { ...acceptAll(request, requestId), ...(batches === 2 ? { gate: failuresReported } : {}) };
      }
      const ids = request.query.get("request_ids")!.split(",");
      const jobs = ids.flatMap((id) =>
        phonesOfRequest.get(id)!.map((phoneId) => ({
          job_id: `job-${phoneId}`,
          phone_id: phoneId,
          request_id: id,
          status: failing.has(phoneId) ? -1 : 2,
          error_code: failing.has(phoneId) ? "CPS.9100" : null,
          error_msg: failing.has(phoneId) ? "disk full" : null,
        })),
      );
      if (ids.includes("req-0")) setTimeout(reportedFailures, 5);
      return { status: 200, body: { count: jobs.length, jobs } };
    });
    const results = await collect(
      mockClient(agent).exportMany(infos(40), {
        batchSize: 2,
        concurrency: 1,
        wait: { intervalMs: 1 },
        maxErrors: { count: 1 },
      }),
    );
    expect(results).toHaveLength(40);
    const sent = posts(requests).flatMap(phonesOf);
    const tally = codes(results);
    expect(tally["failed:CPS.9100"]).toBe(2);
    expect(tally["succeeded:"]).toBe(sent.length - 2);
    expect(tally["rejected:not_sent"]).toBe(40 - sent.length);
    expect(sent.length).toBeLessThan(20);
    expect(results.some((r) => r.state === "accepted")).toBe(false);
  });

  it("refuses a malformed limit or rate before anything is sent", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent);
    for (const options of [
      { maxErrors: { count: -1 } },
      { maxErrors: { count: 1.5 } },
      { maxErrors: { percent: 0 } },
      { maxErrors: { percent: 101 } },
      { maxErrors: { count: 1, percent: 5 } as unknown as { count: number } },
      { rate: 0 },
      { rate: Number.POSITIVE_INFINITY },
    ]) {
      await expect(collect(client.exportMany(infos(1), options))).rejects.toBeInstanceOf(CphValidationError);
    }
    expect(requests).toHaveLength(0);
  });
});

describe("adaptive concurrency", () => {
  it("halves the in-flight limit once per burst of 429 APIGW.0308 and grows back to the configured concurrency", async () => {
    let inFlight = 0;
    let limitSeen = 8;
    let throttledLeft = 8;
    const overLimit: string[] = [];
    const launchedAtHalf: string[] = [];
    const arrived = new Set<string>();
    const { agent } = mockCph((request) => {
      const id = phonesOf(request)[0]!;
      inFlight++;
      // A first attempt is a new launch; it must fit under the limit of the moment.
      if (!arrived.has(id)) {
        arrived.add(id);
        if (inFlight > limitSeen) overLimit.push(`${id}: ${inFlight} in flight, limit ${limitSeen}`);
        if (limitSeen === 4) launchedAtHalf.push(id);
      }
      const gate = new Promise((resolve) => setTimeout(resolve, 2)).then(() => {
        inFlight--;
      });
      if (throttledLeft > 0) {
        throttledLeft--;
        return { ...throttled(), gate };
      }
      return { ...acceptAll(request), gate };
    });
    const limits: number[] = [];
    const results = await collect(
      mockClient(agent).exportMany(infos(120), {
        batchSize: 1,
        concurrency: 8,
        onProgress: (p) => {
          if (limits.at(-1) !== p.concurrency) limits.push(p.concurrency);
          limitSeen = p.concurrency;
        },
      }),
    );
    expect(results.every((r) => r.state === "accepted")).toBe(true);
    expect(results).toHaveLength(120);
    // Eight requests throttled together halve the limit once (the first change, so the first
    // progress event), then it grows back by one at a time.
    expect(limits).toEqual([4, 5, 6, 7, 8]);
    expect(overLimit).toEqual([]);
    expect(launchedAtHalf.length).toBeGreaterThan(0);
  });

  it("with adaptiveConcurrency false the limit stays where it was set", async () => {
    let throttledLeft = 4;
    const { agent } = mockCph((request) => (throttledLeft-- > 0 ? throttled() : acceptAll(request)));
    const limits = new Set<number>();
    const results = await collect(
      mockClient(agent).exportMany(infos(20), {
        batchSize: 1,
        concurrency: 4,
        adaptiveConcurrency: false,
        onProgress: (p) => limits.add(p.concurrency),
      }),
    );
    expect(results.every((r) => r.state === "accepted")).toBe(true);
    expect([...limits]).toEqual([4]);
  });

  test.prop([
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.constantFrom("throttled", "ok", "error"), { maxLength: 200 }),
  ])(
    "the limit stays within 1..max, halves on a fresh throttle, grows by one after every 10 successes",
    (max, answers) => {
      const limit = new AdaptiveLimit(max);
      const throttle = new CphApiError({ status: 429, errorCode: "APIGW.0308", errorMessage: "throttled" });
      const failure = new CphApiError({ status: 400, errorCode: "CPS.0004", errorMessage: "bad" });
      let streak = 0;
      for (const answer of answers) {
        const before = limit.limit;
        const ticket = limit.ticket();
        limit.observe(ticket, answer === "throttled" ? throttle : answer === "error" ? failure : undefined);
        if (answer === "throttled") {
          expect(limit.limit).toBe(Math.max(1, Math.floor(before / 2)));
          streak = 0;
        } else if (answer === "error") {
          expect(limit.limit).toBe(before);
          streak = 0;
        } else if (before < max) {
          streak++;
          expect(limit.limit).toBe(streak === GROW_AFTER_SUCCESSES ? before + 1 : before);
          if (streak === GROW_AFTER_SUCCESSES) streak = 0;
        } else {
          expect(limit.limit).toBe(max);
          streak = 0;
        }
        expect(limit.limit).toBeGreaterThanOrEqual(1);
        expect(limit.limit).toBeLessThanOrEqual(max);
      }
    },
  );

  it("a throttle answering an attempt sent before the last halving does not halve again", () => {
    const limit = new AdaptiveLimit(16);
    const throttle = new CphApiError({ status: 429, errorCode: "APIGW.0308", errorMessage: "throttled" });
    const early = [limit.ticket(), limit.ticket(), limit.ticket()];
    for (const ticket of early) limit.observe(ticket, throttle);
    expect(limit.limit).toBe(8);
    limit.observe(limit.ticket(), throttle);
    expect(limit.limit).toBe(4);
  });
});

describe("rate", () => {
  it("RateLimiter spaces the takes 1/rate apart, first come first served", async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter(4, () => Date.now());
    const times: number[] = [];
    const takes = [0, 1, 2, 3, 4].map((n) => limiter.take().then(() => times.push(Date.now() * 10 + n)));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(takes);
    expect(times).toEqual([0, 2501, 5002, 7503, 10004]);
  });

  it("RateLimiter rejects a waiting take when its signal aborts", async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter(1, () => Date.now());
    await limiter.take();
    const controller = new AbortController();
    const waiting = limiter.take(controller.signal);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });

  it("paces every request of the run, batch POSTs, their retries and the job polling alike", async () => {
    const arrivals: number[] = [];
    let first = true;
    const { agent, requests } = mockCph((request) => {
      arrivals.push(performance.now());
      if (request.path === BATCH_PATH) {
        if (first) {
          first = false;
          return throttled();
        }
        return acceptAll(request, `req-${phonesOf(request)[0]}`);
      }
      const ids = request.query.get("request_ids")!.split(",");
      return {
        status: 200,
        body: { jobs: ids.map((id) => ({ job_id: `job-${id.slice(4)}`, request_id: id, status: 2 })) },
      };
    });
    const started = performance.now();
    const results = await collect(
      mockClient(agent).exportMany(infos(6), {
        batchSize: 1,
        concurrency: 4,
        rate: 50,
        wait: { intervalMs: 1 },
      }),
    );
    expect(results.every((r) => r.state === "succeeded")).toBe(true);
    expect(requests.some((request) => request.path !== BATCH_PATH)).toBe(true);
    expect(posts(requests)).toHaveLength(7);
    // 50 a second: the n-th request cannot leave before (n - 1) * 20 ms after the run began, however
    // late the machine runs the timers (the exact spacing is RateLimiter's test above).
    expect(arrivals.at(-1)! - started).toBeGreaterThanOrEqual((arrivals.length - 1) * 20 - 2);
  });

  it("an abort ends the wait for a turn at once: the batches still waiting are not sent", async () => {
    const controller = new AbortController();
    const { agent, requests } = mockCph((request) => {
      setTimeout(() => controller.abort(), 5);
      return acceptAll(request);
    });
    const started = performance.now();
    const results = await collect(
      mockClient(agent).exportMany(infos(10), {
        batchSize: 1,
        concurrency: 4,
        rate: 1,
        signal: controller.signal,
      }),
    );
    expect(performance.now() - started).toBeLessThan(900);
    expect(requests).toHaveLength(1);
    expect(results.map((r) => r.state)).toEqual(["accepted"]);
  });
});
