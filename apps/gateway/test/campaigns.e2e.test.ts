// Campaigns end to end: a real redis-server, the emulator and two gateway processes (bins) on
// loopback. A 2,000-phone campaign under 429s, 5xx and dropped connections survives one replica
// being SIGKILLed and restarted: every phone ends with a state and a reason, none exported twice.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayConfigInput } from "../src/config.js";
import {
  bearer,
  campaignCaller,
  cleanUp,
  eventually,
  gatewayConfig,
  gatewayEnv,
  leakedSecrets,
  metric,
  type RedisHandle,
  request,
  type Spawned,
  SECRETS,
  setFaults,
  startEmulator,
  startGateway,
  startRedis,
} from "./support.js";

const redis = await startRedis();
const skip = typeof redis === "string";
if (skip) console.warn(`campaign tests skipped: ${redis}`);
const handle = redis as RedisHandle;

const FLEET_KEY = "e2e-fleet-api-key-3c1d77e0-secret";
const OTHER_KEY = "e2e-other-fleet-key-9a0b4c2e-secret";
SECRETS.push(FLEET_KEY, OTHER_KEY);

const TERMINAL = new Set(["succeeded", "failed", "rejected", "unknown"]);

interface PhoneView {
  phone_id: string;
  index: number;
  state: string;
  job_id?: string;
  error_code?: string;
  error_msg?: string;
  object_path: string;
}

interface CampaignView {
  campaign_id: string;
  status: string;
  stop_reason?: string;
  total: number;
  counts: Record<string, number>;
  errors: number;
  finished_at?: string;
  started_at?: string;
}

function config(emulatorUrl: string): GatewayConfigInput {
  const base = gatewayConfig(emulatorUrl, {
    redis: { keyPrefix: handle.keyPrefix },
    campaigns: {
      lockMs: 2000,
      stalledIntervalMs: 1000,
      pollIntervalMs: 100,
      pollMaxIntervalMs: 400,
      workerConcurrency: 4,
    },
  });
  return {
    ...base,
    callers: [...base.callers, campaignCaller("fleet", FLEET_KEY), campaignCaller("other", OTHER_KEY)],
  };
}

function phoneIds(count: number): string[] {
  const run = randomUUID().slice(0, 6);
  return Array.from({ length: count }, (_, index) => `cp${run}${String(index).padStart(5, "0")}`);
}

describe.skipIf(skip)("campaigns on two gateways sharing Redis", () => {
  let emulator: Spawned;
  let first: Spawned;
  let second: Spawned;
  let gatewayConfigInput: GatewayConfigInput;
  const env = () => gatewayEnv({ CPH_GATEWAY_REDIS_URL: handle.url });

  beforeAll(async () => {
    emulator = await startEmulator({ jobDurationMs: 200 });
    gatewayConfigInput = config(emulator.url);
    [first, second] = await Promise.all([
      startGateway(gatewayConfigInput, env()),
      startGateway(gatewayConfigInput, env()),
    ]);
  });

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await handle.stop();
    await cleanUp();
    expect(leakedSecrets()).toEqual([]);
  });

  async function start(gateway: Spawned, body: Record<string, unknown>, key = FLEET_KEY) {
    return request(`${gateway.url}/v1/campaigns`, {
      method: "POST",
      headers: bearer(key),
      body: JSON.stringify(body),
    });
  }

  async function view(gateway: Spawned, id: string): Promise<CampaignView> {
    const answer = await request(`${gateway.url}/v1/campaigns/${id}`, { headers: bearer(FLEET_KEY) });
    expect(answer.status).toBe(200);
    return answer.body as unknown as CampaignView;
  }

  async function finished(gateway: () => Spawned, id: string, timeoutMs = 120_000): Promise<CampaignView> {
    return eventually(
      async () => {
        const answer = await request(`${gateway().url}/v1/campaigns/${id}`, {
          headers: bearer(FLEET_KEY),
        }).catch(() => undefined);
        const body = answer?.body as unknown as CampaignView | undefined;
        return body?.finished_at ? body : undefined;
      },
      `campaign ${id} to finish`,
      timeoutMs,
    );
  }

  async function allPhones(gateway: Spawned, id: string, state?: string): Promise<PhoneView[]> {
    const phones: PhoneView[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: "1000" });
      if (state) query.set("state", state);
      if (cursor) query.set("cursor", cursor);
      const answer = await request(`${gateway.url}/v1/campaigns/${id}/phones?${query}`, {
        headers: bearer(FLEET_KEY),
      });
      expect(answer.status).toBe(200);
      phones.push(...(answer.body["phones"] as PhoneView[]));
      cursor = answer.body["next_cursor"] as string | undefined;
    } while (cursor);
    return phones;
  }

  async function exportsByPhone(): Promise<Map<string, number>> {
    const answer = await request(`${emulator.url}/__emulator/ledger`);
    const entries = (answer.body["entries"] ?? answer.body["ledger"] ?? answer.body) as unknown as Array<{
      phone_id: string;
    }>;
    const counts = new Map<string, number>();
    for (const entry of entries) counts.set(entry.phone_id, (counts.get(entry.phone_id) ?? 0) + 1);
    return counts;
  }

  it("runs 2,000 phones under faults while a replica is SIGKILLed and restarted: every phone ends, none twice", async () => {
    await setFaults(emulator, { throttleRps: 30, errorRate: 0.1, dropRate: 0.05, latencyMs: 40, seed: 7 });
    const ids = phoneIds(2000);
    const created = await start(first, {
      name: "e2e fleet",
      phones: ids,
      bucket_name: "fleet-backups",
      object_path: "fleet/{date}/{phone_id}.tar",
      // Nothing is under this path on the emulated phones: empty archives keep the emulator's CPU
      // (shared with the rest of the suite) out of the way; what is tested is the campaign.
      include_files: ["/data/e2e-empty"],
      max_concurrency: 6,
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body["campaign_id"] as string;
    expect(created.headers.get("location")).toBe(`/v1/campaigns/${id}`);
    expect(created.body["total"]).toBe(2000);

    // Kill the first replica in the middle of the campaign: some phones ended, most not yet.
    await eventually(
      async () => {
        const current = await view(second, id);
        return current.counts["succeeded"]! >= 200 ? current : undefined;
      },
      "200 phones to succeed",
      60_000,
    );
    first.process.kill("SIGKILL");
    await first.exited;
    const during = await view(second, id);
    expect(during.status).toBe("running");
    expect(during.counts["pending"]).toBeGreaterThan(0);
    first = await startGateway(gatewayConfigInput, env());

    const done = await finished(() => second, id);
    expect(done.status).toBe("completed");
    expect(done.total).toBe(2000);
    expect(done.counts["pending"]! + done.counts["sent"]! + done.counts["accepted"]!).toBe(0);
    const phones = await allPhones(first, id);
    expect(phones.map((phone) => phone.phone_id)).toEqual(ids);
    for (const phone of phones) {
      expect(TERMINAL.has(phone.state), `${phone.phone_id} ${phone.state}`).toBe(true);
      if (phone.state !== "succeeded") {
        expect(phone.error_code, JSON.stringify(phone)).toBeTruthy();
        expect(phone.error_msg, JSON.stringify(phone)).toBeTruthy();
      } else expect(phone.job_id).toBeTruthy();
    }
    const sum = Object.values(done.counts).reduce((total, count) => total + count, 0);
    expect(sum).toBe(2000);
    // Most phones made it through the faults; the drops left some unknown, never resent.
    expect(done.counts["succeeded"]).toBeGreaterThan(1500);
    expect(done.counts["unknown"]).toBeGreaterThan(0);

    const exported = await exportsByPhone();
    const twice = ids.filter((phone) => (exported.get(phone) ?? 0) > 1);
    expect(twice).toEqual([]);
    for (const phone of phones) {
      if (phone.state === "succeeded") expect(exported.get(phone.phone_id), phone.phone_id).toBe(1);
    }
    // The state filter pages the same phones.
    const unknown = await allPhones(second, id, "unknown");
    expect(unknown.length).toBe(done.counts["unknown"]);
    expect(unknown.every((phone) => phone.state === "unknown")).toBe(true);

    // The killed replica's batches were taken over: run again by a live replica after its lock lapsed.
    const takenOver = [second, first]
      .flatMap((gateway) => gateway.logs())
      .filter(
        (line) =>
          line["msg"] === "campaign batch done" && (line["runs"] as number) > (line["attempt"] as number),
      );
    expect(takenOver.length).toBeGreaterThan(0);

    const metrics = await request(`${second.url}/metrics`);
    expect(metrics.text).toContain("cph_gateway_campaign_queue_jobs");
    expect(metric(metrics.text, "cph_gateway_campaign_phones_sent_total")).toBeGreaterThan(0);
  }, 240_000);

  it("stops a campaign once max_errors is exceeded and leaves the rest unsent, for a resume", async () => {
    await setFaults(emulator, { phoneFailRate: 0.3, seed: 11 });
    const ids = phoneIds(240);
    const created = await start(second, {
      phones: ids,
      bucket_name: "fleet-backups",
      object_path: "fleet/{phone_id}.tar",
      include_files: ["/data/e2e-empty"],
      batch_size: 10,
      max_concurrency: 2,
      max_errors: "5",
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body["campaign_id"] as string;
    const done = await finished(() => second, id);
    expect(done.status).toBe("stopped");
    expect(done.stop_reason).toBe("max_errors");
    expect(done.errors).toBeGreaterThan(5);
    const notSent = (await allPhones(second, id, "rejected")).filter(
      (phone) => phone.error_code === "not_sent",
    );
    expect(notSent.length).toBeGreaterThan(60);
    const exported = await exportsByPhone();
    expect(notSent.filter((phone) => exported.has(phone.phone_id))).toEqual([]);

    // Only its caller may resume it; resumed, it stops again at once (the errors since resume count).
    const refused = await request(`${second.url}/v1/campaigns/${id}/resume`, {
      method: "POST",
      headers: bearer(OTHER_KEY),
    });
    expect(refused.status).toBe(403);
    expect(refused.body["error_code"]).toBe("CPHGW.4037");
    await setFaults(emulator, {});
    const resumed = await request(`${second.url}/v1/campaigns/${id}/resume`, {
      method: "POST",
      headers: bearer(FLEET_KEY),
    });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body["status"]).toBe("running");
    const after = await finished(() => first, id);
    expect(after.status).toBe("completed");
    expect(after.counts["pending"]).toBe(0);
    const again = await exportsByPhone();
    expect(ids.filter((phone) => (again.get(phone) ?? 0) > 1)).toEqual([]);
    expect(notSent.every((phone) => again.get(phone.phone_id) === 1)).toBe(true);
  }, 120_000);

  it("cancels a running campaign: nothing more is sent", async () => {
    const ids = phoneIds(300);
    const created = await start(first, {
      phones: ids,
      bucket_name: "fleet-backups",
      object_path: "fleet/{phone_id}.tar",
      batch_size: 10,
      max_concurrency: 1,
      rate: "2/s",
    });
    const id = created.body["campaign_id"] as string;
    const cancelled = await request(`${second.url}/v1/campaigns/${id}/cancel`, {
      method: "POST",
      headers: bearer(FLEET_KEY),
    });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.body["status"]).toBe("cancelled");
    const done = await finished(() => second, id);
    expect(done.status).toBe("cancelled");
    expect(done.counts["rejected"]).toBeGreaterThanOrEqual(280);
    const twice = await request(`${second.url}/v1/campaigns/${id}/cancel`, {
      method: "POST",
      headers: bearer(FLEET_KEY),
    });
    expect(twice.status).toBe(409);
    expect(twice.body["error_code"]).toBe("CPHGW.4092");
    const exported = await exportsByPhone();
    const sent = ids.filter((phone) => exported.has(phone)).length;
    expect(sent).toBe(done.counts["succeeded"]! + done.counts["failed"]! + done.counts["unknown"]!);
  }, 60_000);

  it("refuses a bad campaign with every issue and its path, and one outside the caller's policy", async () => {
    const bad = await start(first, {
      phones: ["ok-1", "ok-1", "bad id!"],
      bucket_name: "Fleet_Backups",
      object_path: "fleet/{phone}.tar",
      max_errors: "lots",
      rate: "fast",
    });
    expect(bad.status).toBe(400);
    expect(bad.body["error_code"]).toBe("CPHGW.4001");
    const paths = [
      ...new Set((bad.body["details"] as Array<{ path: string }>).map((detail) => detail.path)),
    ].sort();
    expect(paths).toEqual(
      ["bucket_name", "max_errors", "object_path", "phones[1]", "phones[2]", "rate"].sort(),
    );

    const outside = await start(first, {
      phones: phoneIds(3),
      bucket_name: "team-a-backups",
      object_path: "fleet/{phone_id}.tar",
    });
    expect(outside.status).toBe(403);
    expect(outside.body["error_code"]).toBe("CPHGW.4032");
    // One bucket, one refusal: not one detail per phone.
    expect(outside.body["details"]).toEqual([expect.objectContaining({ path: "bucket_name" })]);
    const prefixes = await start(first, {
      phones: phoneIds(150),
      bucket_name: "fleet-backups",
      object_path: "elsewhere/{phone_id}.tar",
    });
    expect(prefixes.status).toBe(403);
    expect(prefixes.body["error_code"]).toBe("CPHGW.4033");
    expect((prefixes.body["details"] as unknown[]).length).toBe(100);
    expect(prefixes.body["error_msg"]).toContain("the first 100 of 150");

    const missing = await request(`${first.url}/v1/campaigns/c-${"0".repeat(32)}`, {
      headers: bearer(FLEET_KEY),
    });
    expect(missing.status).toBe(404);
    expect(missing.body["error_code"]).toBe("CPHGW.4042");
    const anonymous = await request(`${first.url}/v1/campaigns`);
    expect(anonymous.status).toBe(401);
  });

  it("selects the phones from ListCloudPhones", async () => {
    const listed = await request(
      `${emulator.url}/v1/${gatewayConfigInput.upstream.projectId}/cloud-phone/phones?limit=1`,
    );
    expect(listed.status).toBeLessThan(500);
    const created = await start(second, {
      selection: { status: "running" },
      bucket_name: "fleet-backups",
      object_path: "fleet/selected/{phone_id}.tar",
    });
    if (created.status === 400) {
      // An emulator with no listed phones: the refusal says so.
      expect(created.body["details"]).toEqual([expect.objectContaining({ code: "selection_empty" })]);
      return;
    }
    expect(created.status, created.text).toBe(201);
    const done = await finished(() => second, created.body["campaign_id"] as string);
    expect(done.total).toBeGreaterThan(0);
    expect(done.counts["pending"]).toBe(0);
  }, 60_000);
});

describe("campaigns without Redis", () => {
  it("are refused with a clear error", async () => {
    const emulator = await startEmulator();
    const gateway = await startGateway(config(emulator.url), gatewayEnv());
    try {
      const answer = await request(`${gateway.url}/v1/campaigns`, {
        method: "POST",
        headers: bearer(FLEET_KEY),
        body: JSON.stringify({
          phones: ["p1"],
          bucket_name: "fleet-backups",
          object_path: "fleet/{phone_id}.tar",
        }),
      });
      expect(answer.status).toBe(503);
      expect(answer.body["error_code"]).toBe("CPHGW.5035");
      expect(answer.body["error_msg"]).toMatch(/CPH_GATEWAY_REDIS_URL/);
    } finally {
      await Promise.all([gateway.stop(), emulator.stop()]);
    }
  });
});
