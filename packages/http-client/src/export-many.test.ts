import { CphAuthError, type StorageInfo } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { errors } from "undici";
import { describe, expect, it } from "vitest";
import {
  acceptAll,
  BATCH_PATH,
  collect,
  cphError,
  JOBS_PATH,
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

function* infos(count: number, start = 0): Generator<StorageInfo> {
  for (let index = start; index < start + count; index++) yield storageInfo(phone(index));
}

/** Resolves once `count` requests have arrived, then lets every pending microtask and I/O callback run. */
async function arrivals(requests: SeenRequest[], count: number): Promise<void> {
  while (requests.length < count) await new Promise((resolve) => setImmediate(resolve));
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
}

const byIndex = (results: PhoneResult[]) => [...results].sort((a, b) => a.index! - b.index!);

describe("exportMany", () => {
  it("yields exactly one result per input phone, with its index, validation and duplicates rejected unsent", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request, "req-1"));
    const source: unknown[] = [
      storageInfo(phone(0)),
      { ...storageInfo(phone(1)), bucket_name: "Bad_Bucket" },
      storageInfo(phone(2)),
      storageInfo(phone(0)),
      "not an object",
      storageInfo(phone(3)),
    ];
    const results = byIndex(
      await collect(mockClient(agent).exportMany(source as StorageInfo[], { batchSize: 2 })),
    );
    expect(results.map((r) => [r.index, r.phoneId, r.state, r.errorCode])).toEqual([
      [0, phone(0), "accepted", undefined],
      [1, phone(1), "rejected", "bucket_charset"],
      [2, phone(2), "accepted", undefined],
      [3, phone(0), "rejected", "duplicate_phone"],
      [4, "", "rejected", "invalid_type"],
      [5, phone(3), "accepted", undefined],
    ]);
    expect(results[1]!.errorMessage).toMatch(/^bucket_name: /);
    expect(results[0]).toMatchObject({
      jobId: `job-${phone(0)}`,
      requestId: "req-1",
      bucketName: "backup-bucket",
      objectPath: `exports/${phone(0)}.tar`,
    });
    expect(requests.flatMap(phonesOf).sort()).toEqual([phone(0), phone(2), phone(3)]);
  });

  it("reads the source lazily: only when a request slot frees", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { agent, requests } = mockCph((request) => ({ ...acceptAll(request), gate }));
    let pulled = 0;
    const source = (function* () {
      for (let index = 0; index < 1_000; index++) {
        pulled++;
        yield storageInfo(phone(index));
      }
    })();
    const iterator = mockClient(agent)
      .exportMany(source, { batchSize: 10, concurrency: 3 })
      [Symbol.asyncIterator]();
    const first = iterator.next();
    await arrivals(requests, 3);
    // Three batches in flight plus one full batch waiting for a slot.
    expect(requests).toHaveLength(3);
    expect(pulled).toBe(40);
    release();
    expect((await first).value).toMatchObject({ state: "accepted" });
    let count = 1;
    while (!(await iterator.next()).done) count++;
    expect(count).toBe(1_000);
    expect(pulled).toBe(1_000);
  });

  it("accepts an async iterable source and reports progress that adds up", async () => {
    const { agent } = mockCph((request) => {
      const reply = acceptAll(request);
      const body = reply.body as { jobs: Array<Record<string, string>> };
      body.jobs[0] = {
        phone_id: body.jobs[0]!["phone_id"]!,
        error_code: "CPS.0005",
        error_msg: "phone not found",
      };
      return reply;
    });
    async function* source() {
      for (let index = 0; index < 25; index++) yield storageInfo(phone(index));
    }
    const progress: ExportProgress[] = [];
    const results = await collect(
      mockClient(agent).exportMany(source(), { batchSize: 10, onProgress: (p) => progress.push(p) }),
    );
    expect(results).toHaveLength(25);
    const last = progress.at(-1)!;
    expect(last).toEqual({
      read: 25,
      accepted: 22,
      rejected: 3,
      succeeded: 0,
      failed: 0,
      unknown: 0,
      resumed: 0,
      errors: 3,
      concurrency: 4,
    });
    expect(results.filter((r) => r.state === "rejected").map((r) => r.errorCode)).toEqual([
      "CPS.0005",
      "CPS.0005",
      "CPS.0005",
    ]);
  });

  it("reports a batch rejected on a definite error, unknown when the answer was lost, and never resends it", async () => {
    const faults: Record<string, () => Reply> = {
      [phone(0)]: () => cphError(400, "CPS.0004", "invalid phone id"),
      [phone(2)]: () => {
        throw new errors.SocketError("other side closed");
      },
      [phone(4)]: () => cphError(500, "CPS.9999", "internal error"),
      [phone(6)]: () => {
        throw new errors.HeadersTimeoutError();
      },
    };
    const { agent, requests } = mockCph((request) => faults[phonesOf(request)[0]!]?.() ?? acceptAll(request));
    const results = byIndex(await collect(mockClient(agent).exportMany(infos(10), { batchSize: 2 })));
    expect(results.map((r) => r.state)).toEqual([
      ...["rejected", "rejected"],
      ...["unknown", "unknown"],
      ...["unknown", "unknown"],
      ...["unknown", "unknown"],
      ...["accepted", "accepted"],
    ]);
    expect(results[0]).toMatchObject({
      state: "rejected",
      errorCode: "CPS.0004",
      errorMessage: "invalid phone id",
      requestId: "err-CPS.0004",
    });
    expect(results[2]).toMatchObject({
      state: "unknown",
      errorCode: "outcome_unknown",
      errorMessage: expect.stringMatching(/may have received it/),
    });
    expect(results[4]).toMatchObject({
      state: "unknown",
      errorMessage: expect.stringMatching(/may have processed the request/),
    });
    expect(requests).toHaveLength(5);
  });

  it("marks phones rejected (not sent) when the service cannot be reached after every retry", async () => {
    const { agent, requests } = mockCph(() => {
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    });
    const results = await collect(mockClient(agent, { retry: { maxAttempts: 2 } }).exportMany(infos(3)));
    expect(results.map((r) => [r.state, r.errorCode])).toEqual([
      ["rejected", "not_sent"],
      ["rejected", "not_sent"],
      ["rejected", "not_sent"],
    ]);
    expect(requests).toHaveLength(2);
  });

  it("through cph-gateway: retries what it did not forward, rejected at last; unknown when the same key is in flight", async () => {
    const faults: Record<string, () => Reply> = {
      [phone(0)]: () => cphError(502, "CPHGW.5021", "the upstream could not be reached"),
      [phone(2)]: () => cphError(409, "CPHGW.4091", "a request with this Idempotency-Key is still in flight"),
    };
    const { agent, requests } = mockCph((request) => faults[phonesOf(request)[0]!]?.() ?? acceptAll(request));
    const client = mockClient(agent, { retry: { maxAttempts: 3 } });
    const results = byIndex(await collect(client.exportMany(infos(4), { batchSize: 2, concurrency: 1 })));
    expect(results.map((r) => [r.state, r.errorCode])).toEqual([
      ["rejected", "CPHGW.5021"],
      ["rejected", "CPHGW.5021"],
      ["unknown", "outcome_unknown"],
      ["unknown", "outcome_unknown"],
    ]);
    expect(results[2]!.errorMessage).toMatch(
      /same Idempotency-Key is in flight and may be exporting these phones/,
    );
    // Three attempts for the batch CPH never saw, one for the other: it was not resent.
    expect(requests.map((request) => phonesOf(request)[0])).toEqual([phone(0), phone(0), phone(0), phone(2)]);
  });

  it("with wait, follows accepted phones to succeeded or failed before yielding them", async () => {
    const polls = new Map<string, number>();
    const { agent } = mockCph((request) => {
      if (request.path === BATCH_PATH) return acceptAll(request, `req-${phonesOf(request)[0]}`);
      const ids = request.query.get("request_ids")!.split(",");
      const jobs = ids.map((id) => {
        const phoneId = id.slice(4);
        const seen = (polls.get(phoneId) ?? 0) + 1;
        polls.set(phoneId, seen);
        const status = seen < 2 ? 1 : phoneId === phone(1) ? -1 : 2;
        return {
          job_id: `job-${phoneId}`,
          phone_id: phoneId,
          request_id: id,
          status,
          error_code: status === -1 ? "CPS.9100" : null,
          error_msg: status === -1 ? "disk full" : null,
        };
      });
      return { status: 200, body: { count: jobs.length, jobs } };
    });
    const progress: ExportProgress[] = [];
    const results = byIndex(
      await collect(
        mockClient(agent).exportMany(infos(3), {
          batchSize: 1,
          wait: { intervalMs: 1 },
          onProgress: (p) => progress.push(p),
        }),
      ),
    );
    expect(results.map((r) => [r.state, r.errorCode])).toEqual([
      ["succeeded", undefined],
      ["failed", "CPS.9100"],
      ["succeeded", undefined],
    ]);
    expect(results[1]).toMatchObject({ jobId: `job-${phone(1)}`, errorMessage: "disk full" });
    expect(progress.at(-1)).toMatchObject({ read: 3, accepted: 0, succeeded: 2, failed: 1 });
  });

  it("with wait and a timeout, ends jobs still running as unknown with wait_timeout", async () => {
    const { agent } = mockCph((request) =>
      request.path === BATCH_PATH
        ? acceptAll(request, "req-x")
        : {
            status: 200,
            body: {
              jobs: [0, 1].map((i) => ({ job_id: `job-${phone(i)}`, request_id: "req-x", status: 1 })),
            },
          },
    );
    const results = await collect(
      mockClient(agent).exportMany(infos(2), { wait: { intervalMs: 5, timeoutMs: 30 } }),
    );
    expect(results.map((r) => [r.state, r.errorCode, r.jobId])).toEqual([
      ["unknown", "wait_timeout", `job-${phone(0)}`],
      ["unknown", "wait_timeout", `job-${phone(1)}`],
    ]);
  });

  it("on abort: stops reading, lets requests in flight finish, yields their results, and reports no unsent phone", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { agent, requests } = mockCph((request) => ({ ...acceptAll(request), gate }));
    const controller = new AbortController();
    let pulled = 0;
    const source = (function* () {
      for (let index = 0; index < 100; index++) {
        pulled++;
        yield storageInfo(phone(index));
      }
    })();
    const run = collect(
      mockClient(agent).exportMany(source, { batchSize: 5, concurrency: 2, signal: controller.signal }),
    );
    await arrivals(requests, 2);
    controller.abort();
    release();
    const results = await run;
    expect(requests).toHaveLength(2);
    expect(results).toHaveLength(10);
    expect(results.every((r) => r.state === "accepted")).toBe(true);
    expect(pulled).toBe(15);
  });

  it("on abort with wait: stops polling and yields the phones still followed as accepted", async () => {
    const controller = new AbortController();
    let polls = 0;
    const { agent, requests } = mockCph((request) => {
      if (request.path === BATCH_PATH) return acceptAll(request, "req-w");
      if (++polls === 2) controller.abort();
      return {
        status: 200,
        body: { jobs: [0, 1].map((i) => ({ job_id: `job-${phone(i)}`, request_id: "req-w", status: 1 })) },
      };
    });
    const results = await collect(
      mockClient(agent).exportMany(infos(2), { wait: { intervalMs: 1 }, signal: controller.signal }),
    );
    expect(results.map((r) => [r.state, r.jobId])).toEqual([
      ["accepted", `job-${phone(0)}`],
      ["accepted", `job-${phone(1)}`],
    ]);
    // The polling loop has ended by the time the generator returns: nothing can follow.
    expect(polls).toBe(2);
    expect(requests).toHaveLength(3);
  });

  it("stops the run on an auth failure and throws CphAuthError after yielding what it has", async () => {
    const { agent, requests } = mockCph(() => cphError(401, "APIGW.0301", "bad signature"));
    const seen: PhoneResult[] = [];
    const error = await (async () => {
      for await (const result of mockClient(agent).exportMany(infos(50), { batchSize: 5, concurrency: 1 }))
        seen.push(result);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphAuthError);
    expect(requests).toHaveLength(1);
    expect(seen.map((r) => [r.state, r.errorCode])).toEqual(
      Array.from({ length: 5 }, () => ["rejected", "APIGW.0301"]),
    );
  });

  it("refuses a batch size above the per-request limit", async () => {
    const { agent } = mockCph((request) => acceptAll(request));
    await expect(collect(mockClient(agent).exportMany(infos(1), { batchSize: 101 }))).rejects.toThrow(
      /batchSize must be a whole number from 1 to 100/,
    );
  });

  type Fault = "none" | "reject400" | "error500" | "reset" | "throttleOnce";
  type PhoneFate = "accept" | "perPhoneError" | "missing";
  const phoneSpec = fc.record({
    id: fc.integer({ min: 0, max: 30 }),
    valid: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
    fault: fc.constantFrom<Fault>("none", "none", "none", "reject400", "error500", "reset", "throttleOnce"),
    fate: fc.constantFrom<PhoneFate>("accept", "accept", "perPhoneError", "missing"),
  });

  test.prop(
    [fc.array(phoneSpec, { maxLength: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 })],
    { numRuns: 60 },
  )(
    "every input phone ends in exactly one state, the one the service gave it, and none is processed twice",
    async (specs, batchSize, concurrency) => {
      const specOf = new Map(specs.map((spec) => [phone(spec.id), spec]));
      const processed = new Map<string, number>();
      const decided = new Map<string, string>();
      const throttledOnce = new Set<string>();
      const { agent } = mockCph((request) => {
        const phones = phonesOf(request);
        const fault = specOf.get(phones[0]!)!.fault;
        const key = phones.join(",");
        if (fault === "throttleOnce" && !throttledOnce.has(key)) {
          throttledOnce.add(key);
          return cphError(429, "APIGW.0308", "throttled");
        }
        if (fault === "reject400") {
          for (const id of phones) decided.set(id, "rejected");
          return cphError(400, "CPS.0004", "bad");
        }
        for (const id of phones) processed.set(id, (processed.get(id) ?? 0) + 1);
        if (fault === "error500" || fault === "reset") {
          for (const id of phones) decided.set(id, "unknown");
          if (fault === "reset") throw new errors.SocketError("other side closed");
          return cphError(500, "CPS.9999", "internal");
        }
        const jobs = phones.flatMap((id) => {
          const fate = specOf.get(id)!.fate;
          decided.set(id, fate === "accept" ? "accepted" : fate === "perPhoneError" ? "rejected" : "unknown");
          if (fate === "missing") return [];
          return [
            fate === "accept"
              ? { phone_id: id, job_id: `job-${id}` }
              : { phone_id: id, error_code: "CPS.0005", error_msg: "gone" },
          ];
        });
        return { status: 200, body: { request_id: "r", jobs } };
      });
      const source = specs.map((spec) =>
        spec.valid ? storageInfo(phone(spec.id)) : { ...storageInfo(phone(spec.id)), include_files: [] },
      );
      const results = await collect(mockClient(agent).exportMany(source, { batchSize, concurrency }));

      expect(results.map((r) => r.index).sort((a, b) => a! - b!)).toEqual(specs.map((_, index) => index));
      const firstValid = new Map<string, number>();
      specs.forEach((spec, index) => {
        if (spec.valid && !firstValid.has(phone(spec.id))) firstValid.set(phone(spec.id), index);
      });
      for (const result of results) {
        const spec = specs[result.index!]!;
        expect(result.phoneId).toBe(phone(spec.id));
        if (!spec.valid)
          expect([result.state, result.errorCode]).toEqual(["rejected", "include_files_empty"]);
        else if (firstValid.get(result.phoneId) !== result.index)
          expect([result.state, result.errorCode]).toEqual(["rejected", "duplicate_phone"]);
        else expect(result.state).toBe(decided.get(result.phoneId));
      }
      for (const count of processed.values()) expect(count).toBe(1);
    },
  );
});

describe("exportMany and ListJobs", () => {
  it("polls ListJobs with the request ids of the accepted batches", async () => {
    const { agent, requests } = mockCph((request) => {
      if (request.path === BATCH_PATH) return acceptAll(request, `req-${phonesOf(request)[0]}`);
      const ids = request.query.get("request_ids")!.split(",");
      return {
        status: 200,
        body: { jobs: ids.map((id) => ({ job_id: `job-${id.slice(4)}`, request_id: id, status: 2 })) },
      };
    });
    const results = await collect(
      mockClient(agent).exportMany(infos(45), { batchSize: 1, concurrency: 45, wait: { intervalMs: 1 } }),
    );
    expect(results.every((r) => r.state === "succeeded")).toBe(true);
    const lists = requests.filter((r) => r.path === JOBS_PATH);
    for (const list of lists)
      expect(list.query.get("request_ids")!.split(",").length).toBeLessThanOrEqual(20);
    expect(new Set(lists.flatMap((list) => list.query.get("request_ids")!.split(","))).size).toBe(45);
  });
});
