// The whole house on loopback: cph-export -> cph-gateway -> cph-emulator, each a real process.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SpawnedEmulator, spawnEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runBin, type Service, startService } from "./processes.js";

const PROJECT = "0123456789abcdef0123456789abcdef";
const UPSTREAM_AK = "EMULATORDEMOAK0000001";
const UPSTREAM_SK = "emulator-demo-secret-key-0001";
const CALLER_AK = "E2ETEAMGATEWAYAK0001";
const CALLER_SK = "e2e-team-secret-key-never-printed";
const MISSING_PHONE = "ffffffffffffffffffffffffffff0001";

const gatewayBin = join(repoRoot, "apps/gateway/bin/cph-gateway.js");
/** The one caller of the gateways of these tests. */
const CALLER = {
  name: "e2e-team",
  accessKey: CALLER_AK,
  secretKeyEnv: "E2E_CALLER_SK",
  projects: [PROJECT],
  buckets: ["team-*"],
  objectPathPrefixes: ["e2e/"],
  requestsPerMinute: 10_000,
};
const cliBin = join(repoRoot, "packages/cli/bin/cph-export.js");

const phones = Array.from(
  { length: 12 },
  (_, index) => `e2e0000000000000000000000000${String(index).padStart(4, "0")}`,
);

let dir: string;
let emulator: SpawnedEmulator;
let gateway: Service;
const cliOutputs: string[] = [];

async function cph(args: string[], env: NodeJS.ProcessEnv) {
  const run = await runBin(cliBin, args, env);
  cliOutputs.push(run.stdout, run.stderr);
  return run;
}

function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, CPH_AUTH_TOKEN, ...rest } = process.env;
  return {
    ...rest,
    CPH_ENDPOINT: gateway.url,
    CPH_PROJECT_ID: PROJECT,
    HUAWEICLOUD_SDK_AK: CALLER_AK,
    HUAWEICLOUD_SDK_SK: CALLER_SK,
    XDG_CONFIG_HOME: dir,
    NO_COLOR: "1",
    ...extra,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-e2e-"));
  emulator = await spawnEmulator({
    dataDir: join(dir, "obs"),
    config: {
      jobDurationMs: 100,
      phones: { missing: [MISSING_PHONE], failing: { [phones[3]!]: "CPS.0003" } },
    },
  });
  await writeFile(
    join(dir, "gateway.json"),
    JSON.stringify({
      upstream: { endpoint: emulator.url, projectId: PROJECT, timeoutMs: 10_000 },
      callers: [CALLER],
    }),
  );
  gateway = await startService(
    gatewayBin,
    ["--config", join(dir, "gateway.json"), "--port", "0", "--host", "127.0.0.1"],
    {
      CPH_GATEWAY_UPSTREAM_AK: UPSTREAM_AK,
      CPH_GATEWAY_UPSTREAM_SK: UPSTREAM_SK,
      E2E_CALLER_SK: CALLER_SK,
    },
  );
  await writeFile(
    join(dir, "phones.ndjson"),
    `${[...phones, MISSING_PHONE].map((phone_id) => JSON.stringify({ phone_id })).join("\n")}\n`,
  );
});

afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Row {
  phone_id: string;
  state: string;
  job_id?: string | null;
  error_code?: string | null;
  object_path?: string | null;
}

describe("cph-export through cph-gateway to cph-emulator", () => {
  it("exports every phone, reports each one, and writes the archives", async () => {
    const run = await cph(
      [
        "export",
        "--input",
        join(dir, "phones.ndjson"),
        "--include",
        "/data",
        "--exclude",
        "/data/local/tmp",
        "--bucket",
        "team-backups",
        "--object-path",
        "e2e/{phone_id}.tar",
        "--wait",
        "--poll-interval",
        "100ms",
        "--batch-size",
        "5",
        "--output",
        "json",
      ],
      cliEnv(),
    );
    // One phone is missing upstream and one job fails: "some phones rejected or failed".
    expect(run.stderr).not.toMatch(/at .+\.js:\d+/);
    expect(run.code).toBe(1);
    const rows = JSON.parse(run.stdout) as Row[];
    expect(rows.map((row) => row.phone_id).sort()).toEqual([...phones, MISSING_PHONE].sort());
    const byPhone = new Map(rows.map((row) => [row.phone_id, row]));
    expect(byPhone.get(MISSING_PHONE)).toMatchObject({ state: "rejected", error_code: "CPS.0005" });
    expect(byPhone.get(phones[3]!)).toMatchObject({ state: "failed", error_code: "CPS.0003" });
    const succeeded = rows.filter((row) => row.state === "succeeded");
    expect(succeeded).toHaveLength(phones.length - 1);
    for (const row of succeeded) {
      expect(existsSync(join(dir, "obs", "team-backups", "e2e", `${row.phone_id}.tar`))).toBe(true);
    }

    const exported = (await emulator.ledger()).map((entry) => entry.phone_id).sort();
    expect(exported).toEqual([...new Set(exported)]);
    expect(exported).toEqual(phones.slice().sort());
  });

  it("refuses a bucket outside the caller's policy before anything reaches CPH", async () => {
    const before = await emulator.stats();
    const run = await cph(
      [
        "export",
        "--phone-id",
        phones[0]!,
        "--include",
        "/data",
        "--bucket",
        "other-bucket",
        "--object-path",
        "e2e/x.tar",
        "--output",
        "json",
      ],
      cliEnv(),
    );
    expect(run.code).toBe(3);
    expect(`${run.stdout}${run.stderr}`).toContain("CPHGW.4032");
    const after = await emulator.stats();
    expect(after.requests).toBe(before.requests);
  });

  it("refuses a wrong caller secret with 401 and exit 3", async () => {
    const run = await cph(
      [
        "export",
        "--phone-id",
        phones[0]!,
        "--include",
        "/data",
        "--bucket",
        "team-backups",
        "--object-path",
        "e2e/y.tar",
      ],
      cliEnv({ HUAWEICLOUD_SDK_SK: "not-the-right-secret-key" }),
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/APIGW\.0301|CPHGW\.401/);
  });

  it("reports phones rejected, not unknown, when the gateway says it could not reach CPH", async () => {
    // A port nothing listens on: the gateway answers CPHGW.5021, "nothing was sent".
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await writeFile(
      join(dir, "gateway-down.json"),
      JSON.stringify({
        upstream: {
          endpoint: `http://127.0.0.1:${port}`,
          projectId: PROJECT,
          timeoutMs: 5000,
          maxAttempts: 1,
        },
        callers: [CALLER],
      }),
    );
    const down = await startService(
      gatewayBin,
      ["--config", join(dir, "gateway-down.json"), "--port", "0", "--host", "127.0.0.1"],
      {
        CPH_GATEWAY_UPSTREAM_AK: UPSTREAM_AK,
        CPH_GATEWAY_UPSTREAM_SK: UPSTREAM_SK,
        E2E_CALLER_SK: CALLER_SK,
      },
    );
    try {
      const run = await cph(
        [
          ...["export", "--input", join(dir, "phones.ndjson"), "--include", "/data"],
          ...["--bucket", "team-backups", "--object-path", "e2e/{phone_id}.tar", "--batch-size", "5"],
          ...["--retries", "2", "--output", "json"],
        ],
        cliEnv({ CPH_ENDPOINT: down.url }),
      );
      // Exit 4: an upstream failure, with every phone reported and none left in doubt.
      expect(run.code).toBe(4);
      const rows = JSON.parse(run.stdout) as Row[];
      expect(rows).toHaveLength(phones.length + 1);
      for (const row of rows) expect(row).toMatchObject({ state: "rejected", error_code: "CPHGW.5021" });
      // Each of the 3 batches was sent 3 times (--retries 2): the answer proved nothing was sent.
      await down.stop();
      expect(down.output().match(/"error_code":"CPHGW\.5021"/g)).toHaveLength(9);
    } finally {
      await down.stop();
      cliOutputs.push(down.output());
    }
  });

  it("never prints a secret in any process's output", async () => {
    expect(cliOutputs.length).toBeGreaterThanOrEqual(6);
    const { stdout, stderr } = emulator.output();
    const everything = [stdout, stderr, gateway.output(), ...cliOutputs].join("\n");
    expect(everything).toContain("listening on");
    for (const secret of [UPSTREAM_SK, CALLER_SK, "not-the-right-secret-key"])
      expect(everything).not.toContain(secret);
  });
});
