// `cph-export campaign` against real processes: redis-server, the emulator and a gateway (bins).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  campaignCaller,
  cleanUp,
  gatewayConfig,
  gatewayEnv,
  type RedisHandle,
  type Spawned,
  startEmulator,
  startGateway,
  startRedis,
  temporaryDirectory,
} from "../../apps/gateway/test/support.js";
import { repoRoot, runBin } from "./processes.js";

const redis = await startRedis();
const skip = typeof redis === "string";
const handle = redis as RedisHandle;
const KEY = "e2e-cli-campaign-key-6f1e2d3c-secret";
const cliBin = join(repoRoot, "packages/cli/bin/cph-export.js");
const outputs: string[] = [];

describe.skipIf(skip)("cph-export campaign", () => {
  let emulator: Spawned;
  let gateway: Spawned;

  beforeAll(async () => {
    emulator = await startEmulator({ jobDurationMs: 50 });
    const base = gatewayConfig(emulator.url, {
      redis: { keyPrefix: handle.keyPrefix },
      campaigns: { pollIntervalMs: 50, pollMaxIntervalMs: 200 },
    });
    base.callers.push(campaignCaller("cli-fleet", KEY));
    gateway = await startGateway(base, gatewayEnv({ CPH_GATEWAY_REDIS_URL: handle.url }));
  });

  afterAll(async () => {
    await gateway?.stop();
    await handle.stop();
    await cleanUp();
    expect(outputs.join("\n")).not.toContain(KEY);
  });

  async function cph(args: string[], env: Record<string, string> = {}) {
    const run = await runBin(cliBin, args, {
      PATH: process.env["PATH"] ?? "",
      CPH_GATEWAY_URL: gateway.url,
      CPH_GATEWAY_API_KEY: KEY,
      NO_COLOR: "1",
      ...env,
    });
    outputs.push(run.stdout, run.stderr);
    return run;
  }

  it("starts a campaign from a CSV, watches it to the end, lists its phones and refuses bad input", async () => {
    const dir = await temporaryDirectory();
    const ids = Array.from({ length: 120 }, (_, index) => `cli${String(index).padStart(4, "0")}`);
    const input = join(dir, "phones.csv");
    await writeFile(input, `phone_id\n${ids.join("\n")}\n`);
    const started = await cph([
      "campaign",
      "start",
      "--input",
      input,
      "--bucket",
      "fleet-backups",
      "--object-path",
      "fleet/{phone_id}.tar",
      "--batch-size",
      "25",
      "--watch",
      "--output",
      "json",
    ]);
    expect(started.code, started.stderr).toBe(0);
    const view = JSON.parse(started.stdout) as {
      campaign_id: string;
      counts: Record<string, number>;
      status: string;
    };
    expect(view.status).toBe("completed");
    expect(view.counts["succeeded"]).toBe(120);
    expect(started.stderr).toMatch(new RegExp(`campaign ${view.campaign_id} started: 120 phones`));
    expect(started.stderr).toContain(`${gateway.url}/campaigns/${view.campaign_id}`);
    // Not a terminal: plain progress lines.
    expect(started.stderr).toMatch(/campaign: \d+\/120 done/);

    const phones = await cph([
      "campaign",
      "phones",
      view.campaign_id,
      "--state",
      "succeeded",
      "--output",
      "ndjson",
    ]);
    expect(phones.code, phones.stderr).toBe(0);
    const rows = phones.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { phone_id: string; job_id: string });
    expect(rows.map((row) => row.phone_id)).toEqual(ids);
    expect(rows.every((row) => row.job_id)).toBe(true);

    const status = await cph(["campaign", "status", view.campaign_id, "--output", "table"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`campaign ${view.campaign_id}: completed; 120 phones: 120 succeeded`);
    expect(status.stdout).toContain("archives: obs://fleet-backups/fleet/{phone_id}.tar");

    const cancelled = await cph(["campaign", "cancel", view.campaign_id]);
    expect(cancelled.code).toBe(1);
    expect(cancelled.stderr).toContain("CPHGW.4092");

    const bad = join(dir, "bad.ndjson");
    await writeFile(bad, '{"phone_id":"ok1"}\n{"bucket_name":"x"}\nnot json\n');
    const refused = await cph([
      "campaign",
      "start",
      "--input",
      bad,
      "--bucket",
      "fleet-b",
      "--object-path",
      "fleet/{phone_id}",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bad\.ndjson:2: phone_id: missing/);
    expect(refused.stderr).toMatch(/bad\.ndjson:3: /);

    const policy = await cph([
      "campaign",
      "start",
      "--phone-id",
      "p1",
      "--bucket",
      "team-a-x",
      "--object-path",
      "fleet/{phone_id}",
    ]);
    expect(policy.code).toBe(3);
    expect(policy.stderr).toContain("CPHGW.4032");

    const noKey = await cph(["campaign", "status", view.campaign_id], { CPH_GATEWAY_API_KEY: "" });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("CPH_GATEWAY_API_KEY");
  }, 60_000);

  it("stops with --max-errors and says so in the exit code", async () => {
    const ids = Array.from({ length: 60 }, (_, index) => `clifail${index}`);
    const answer = await fetch(`${emulator.url}/__emulator/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ phoneFailRate: 0.5, seed: 3 }),
    });
    expect(answer.status).toBe(200);
    const run = await cph([
      "campaign",
      "start",
      "--phone-id",
      ids.join(","),
      "--bucket",
      "fleet-backups",
      "--object-path",
      "fleet/{phone_id}.tar",
      "--batch-size",
      "5",
      "--concurrency",
      "1",
      "--max-errors",
      "2",
      "--watch",
      "--output",
      "table",
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/: stopped \(max_errors\); 60 phones: /);
  }, 60_000);
});
