// The client against the real emulator process, over loopback HTTP.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildIamTokenRequest, CphAuthError, headerValue, type StorageInfo } from "@cph-export/core";
import { DEMO_CREDENTIALS as DEMO, type SpawnedEmulator, spawnEmulator } from "@cph-export/emulator";
import { createCphClient } from "@cph-export/http-client";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientEvent, CphClientOptions, Credentials, PhoneResult } from "../src/types.js";

const AKSK: Credentials = { type: "aksk", accessKey: DEMO.accessKey, secretKey: DEMO.secretKey };

function phone(index: number): string {
  return `e2e${String(index).padStart(8, "0")}`;
}

function info(phoneId: string): StorageInfo {
  return {
    phone_id: phoneId,
    include_files: ["/data/media"],
    bucket_name: "e2e-bucket",
    object_path: `exports/${phoneId}.tar`,
  };
}

function* phones(count: number, start = 0): Generator<StorageInfo> {
  for (let index = start; index < start + count; index++) yield info(phone(index));
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("against the emulator", () => {
  let emulator: SpawnedEmulator;
  const client = (options: Partial<CphClientOptions> = {}) =>
    createCphClient({
      endpoint: emulator.url,
      projectId: DEMO.projectId,
      credentials: AKSK,
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
      ...options,
    });

  beforeAll(async () => {
    emulator = await spawnEmulator({
      config: {
        jobDurationMs: 50,
        phones: { missing: [phone(9_000)], failing: { [phone(9_001)]: "CPS.9001" } },
      },
    });
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  it("exports with AK/SK, follows the jobs with ListJobs, and the archives land in the bucket", async () => {
    const cph = client();
    try {
      const source = [...phones(30), info(phone(9_000)), info(phone(9_001))];
      const results = await collect(
        cph.exportMany(source, { batchSize: 10, concurrency: 2, wait: { intervalMs: 20 } }),
      );
      const states = new Map(results.map((r) => [r.phoneId, r]));
      expect(results).toHaveLength(32);
      expect(states.get(phone(9_000))).toMatchObject({ state: "rejected", errorCode: "CPS.0005" });
      expect(states.get(phone(9_001))).toMatchObject({ state: "failed", errorCode: "CPS.9001" });
      for (let index = 0; index < 30; index++) expect(states.get(phone(index))?.state).toBe("succeeded");
      expect(existsSync(join(emulator.dataDir, "e2e-bucket", "exports", `${phone(0)}.tar`))).toBe(true);
      const job = await cph.getJob(states.get(phone(0))!.jobId!);
      expect(job).toMatchObject({ phone_id: phone(0), status: 2 });
      const listed = await cph.listJobs({ requestIds: [states.get(phone(0))!.requestId!] });
      expect(listed.jobs?.map((j) => j.phone_id)).toContain(phone(0));
    } finally {
      await cph.close();
    }
  });

  it("authenticates with an IAM password, then with the token it issued as a static token", async () => {
    const password = client({
      credentials: {
        type: "password",
        domainName: DEMO.domainName,
        userName: DEMO.userName,
        password: DEMO.password,
        iamEndpoint: emulator.url,
      },
    });
    const tokenRequest = buildIamTokenRequest({
      iamEndpoint: emulator.url,
      domainName: DEMO.domainName,
      userName: DEMO.userName,
      password: DEMO.password,
      project: { id: DEMO.projectId },
    });
    const answer = await request(tokenRequest.url, {
      method: "POST",
      headers: tokenRequest.headers,
      body: Buffer.from(tokenRequest.body!),
    });
    await answer.body.text();
    const token = headerValue(answer.headers, "x-subject-token")!;
    const byToken = client({ credentials: { type: "token", token } });
    try {
      const [viaPassword] = (await password.batchExport([info(phone(100))])).phones;
      const [viaToken] = (await byToken.batchExport([info(phone(101))])).phones;
      expect(viaPassword).toMatchObject({ state: "accepted", phoneId: phone(100) });
      expect(viaToken).toMatchObject({ state: "accepted", phoneId: phone(101) });
      await expect(password.getJob(viaToken!.jobId!)).resolves.toMatchObject({ phone_id: phone(101) });
    } finally {
      await password.close();
      await byToken.close();
    }
  });

  it("fails with CphAuthError for a wrong secret key or password, sending each once", async () => {
    const events: ClientEvent[] = [];
    const badKey = client({
      credentials: { ...AKSK, secretKey: "not-the-secret-key" } as Credentials,
      onEvent: (e) => events.push(e),
    });
    const badPassword = client({
      credentials: {
        type: "password",
        domainName: DEMO.domainName,
        userName: DEMO.userName,
        password: "wrong-password-1",
        iamEndpoint: emulator.url,
      },
      onEvent: (e) => events.push(e),
    });
    try {
      const keyError = await badKey.getJob("x").catch((e: unknown) => e);
      const passwordError = await badPassword.getJob("x").catch((e: unknown) => e);
      expect(keyError).toBeInstanceOf(CphAuthError);
      expect((keyError as CphAuthError).errorCode).toBe("APIGW.0301");
      expect(passwordError).toBeInstanceOf(CphAuthError);
      expect(String(passwordError)).not.toContain("wrong-password-1");
      expect(events.filter((e) => e.type === "request")).toHaveLength(2);
    } finally {
      await badKey.close();
      await badPassword.close();
    }
  });

  it("honours the emulator's throttling (429 APIGW.0308 with Retry-After) and gets every answer", async () => {
    await emulator.setFaults({ throttleRps: 3 });
    const events: ClientEvent[] = [];
    const cph = client({ onEvent: (e) => events.push(e) });
    try {
      const before = await emulator.stats();
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => cph.listJobs({ requestIds: ["no-such-request"] })),
      );
      expect(answers).toHaveLength(6);
      const after = await emulator.stats();
      expect(after.throttled - before.throttled).toBeGreaterThan(0);
      const retries = events.filter((e) => e.type === "retry");
      expect(retries.length).toBe(after.throttled - before.throttled);
      for (const retry of retries) expect(retry.delayMs).toBeGreaterThanOrEqual(1_000);
    } finally {
      await emulator.setFaults({});
      await cph.close();
    }
  });
});

describe("5,000 phones through throttling, 5xx and dropped connections", () => {
  let emulator: SpawnedEmulator;

  beforeAll(async () => {
    // Jobs outlast the test: nothing is archived, the ledger is what counts.
    emulator = await spawnEmulator({
      config: {
        jobDurationMs: 600_000,
        faults: { throttleRps: 60, errorRate: 0.05, dropRate: 0.02, latencyMs: 2, seed: 7 },
      },
    });
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  it("reports every phone once, exports each accepted phone exactly once, and is unknown exactly for the dropped ones", async () => {
    const cph = createCphClient({
      endpoint: emulator.url,
      projectId: DEMO.projectId,
      credentials: AKSK,
      retry: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 8 },
    });
    const count = 5_000;
    let results: PhoneResult[];
    try {
      results = await collect(cph.exportMany(phones(count), { batchSize: 50, concurrency: 8 }));
    } finally {
      await cph.close();
    }
    const stats = await emulator.stats();
    const ledger = await emulator.ledger();

    // No phone missing from the results, none reported twice.
    expect(results).toHaveLength(count);
    expect(new Set(results.map((r) => r.phoneId))).toEqual(
      new Set(Array.from({ length: count }, (_, i) => phone(i))),
    );
    expect(new Set(results.map((r) => r.index)).size).toBe(count);

    // The faults happened.
    expect(stats.throttled).toBeGreaterThan(0);
    expect(stats.errors).toBeGreaterThan(0);
    expect(stats.droppedPhones).toBeGreaterThan(0);

    // Every phone the emulator accepted, exactly once; each accepted result is that ledger entry.
    const ledgerByPhone = new Map<string, typeof ledger>();
    for (const entry of ledger)
      ledgerByPhone.set(entry.phone_id, [...(ledgerByPhone.get(entry.phone_id) ?? []), entry]);
    for (const entries of ledgerByPhone.values()) expect(entries).toHaveLength(1);
    const accepted = results.filter((r) => r.state === "accepted");
    const unknown = results.filter((r) => r.state === "unknown");
    for (const result of accepted) expect(ledgerByPhone.get(result.phoneId)?.[0]?.job_id).toBe(result.jobId);
    for (const result of unknown) expect(ledgerByPhone.get(result.phoneId)?.[0]?.dropped).toBe(true);
    expect(unknown).toHaveLength(stats.droppedPhones);
    expect(accepted.length + unknown.length).toBe(ledger.length);
    expect(results.filter((r) => r.state === "rejected")).toEqual([]);
  });
});
