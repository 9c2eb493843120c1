// Credentials refused in the middle of a run: cph-export -> cph-gateway (process) -> emulator whose
// clock jumps two hours once the first batch is accepted, so CPH refuses the gateway's signature
// (APIGW.0303, X-Sdk-Date more than 15 minutes off) from the second batch on.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type RunningEmulator, startEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runBin, type Service, startService } from "./processes.js";

const CALLER_AK = "E2EMIDRUNCALLERAK001";
const CALLER_SK = "e2e-mid-run-caller-secret";
const TWO_HOURS_MS = 2 * 60 * 60 * 1000;
const phones = Array.from({ length: 9 }, (_, index) => `midrun${String(index).padStart(26, "0")}`);

let dir: string;
let emulator: RunningEmulator;
let gateway: Service;
/** Added to the emulator's clock; set when the first batch-storage call is answered 200. */
let skewMs = 0;
const accepted: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-e2e-mid-run-"));
  emulator = await startEmulator({
    dataDir: join(dir, "obs"),
    config: { jobDurationMs: 60_000 },
    clock: () => new Date(Date.now() + skewMs),
    // The log line of a request is written before its answer leaves, so the jump is in place
    // before the client can send the next batch (concurrency 1).
    log: (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as { path: string; status: number | string; request_id: string };
      if (entry.path.endsWith("/batch-storage") && entry.status === 200) {
        accepted.push(entry.request_id);
        skewMs = TWO_HOURS_MS;
      }
    },
  });
  await writeFile(
    join(dir, "gateway.json"),
    JSON.stringify({
      upstream: { endpoint: emulator.url, projectId: DEMO_CREDENTIALS.projectId, timeoutMs: 10_000 },
      callers: [
        {
          name: "mid-run",
          accessKey: CALLER_AK,
          secretKeyEnv: "E2E_MID_RUN_CALLER_SK",
          projects: [DEMO_CREDENTIALS.projectId],
          buckets: ["mid-run"],
          objectPathPrefixes: ["e2e/"],
          requestsPerMinute: 10_000,
        },
      ],
    }),
  );
  gateway = await startService(
    join(repoRoot, "apps/gateway/bin/cph-gateway.js"),
    ["--config", join(dir, "gateway.json"), "--port", "0", "--host", "127.0.0.1"],
    {
      CPH_GATEWAY_UPSTREAM_AK: DEMO_CREDENTIALS.accessKey,
      CPH_GATEWAY_UPSTREAM_SK: DEMO_CREDENTIALS.secretKey,
      E2E_MID_RUN_CALLER_SK: CALLER_SK,
    },
  );
  await writeFile(
    join(dir, "phones.ndjson"),
    phones.map((phone_id) => `${JSON.stringify({ phone_id })}\n`).join(""),
  );
});

afterAll(async () => {
  await gateway?.stop();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("credentials refused in the middle of a run", () => {
  it("exits 3, reports the phones sent before and the refused batch, and sends nothing after", async () => {
    const { HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, CPH_AUTH_TOKEN, ...rest } = process.env;
    const run = await runBin(
      join(repoRoot, "packages/cli/bin/cph-export.js"),
      [
        "export",
        "--input",
        join(dir, "phones.ndjson"),
        "--include",
        "/data",
        "--bucket",
        "mid-run",
        "--object-path",
        "e2e/{phone_id}.tar",
        "--batch-size",
        "3",
        "--concurrency",
        "1",
        "--output",
        "json",
      ],
      {
        ...rest,
        CPH_ENDPOINT: gateway.url,
        CPH_PROJECT_ID: DEMO_CREDENTIALS.projectId,
        HUAWEICLOUD_SDK_AK: CALLER_AK,
        HUAWEICLOUD_SDK_SK: CALLER_SK,
        XDG_CONFIG_HOME: dir,
        NO_COLOR: "1",
      },
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/authentication failed: APIGW\.0303/);
    // The caller's own keys were fine: the message says whose credentials CPH refused.
    expect(run.stderr).toMatch(/gateway's own upstream credentials, not the caller's/);
    expect(run.stderr).toContain("3 of 9 phones were not sent (state rejected, not_sent)");
    expect(run.stderr).not.toMatch(/at .+\.js:\d+/);
    const rows = JSON.parse(run.stdout) as Array<{ phone_id: string; state: string; error_code?: string }>;
    expect(rows.map((row) => [row.phone_id, row.state, row.error_code ?? null])).toEqual([
      ...phones.slice(0, 3).map((phone) => [phone, "accepted", null]),
      ...phones.slice(3, 6).map((phone) => [phone, "rejected", "APIGW.0303"]),
      // Never sent, still reported: every phone of a run ends in a state.
      ...phones.slice(6).map((phone) => [phone, "rejected", "not_sent"]),
    ]);
    // Only the first batch reached CPH, and no phone after the refusal was sent.
    expect(accepted).toHaveLength(1);
    const ledger = (await (await fetch(`${emulator.url}/__emulator/ledger`)).json()) as {
      entries: Array<{ phone_id: string }>;
    };
    expect(ledger.entries.map((entry) => entry.phone_id)).toEqual(phones.slice(0, 3));
    for (const secret of [CALLER_SK, DEMO_CREDENTIALS.secretKey])
      expect(`${run.stdout}${run.stderr}${gateway.output()}`).not.toContain(secret);
  });
});
