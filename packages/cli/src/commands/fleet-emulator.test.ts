// The fleet commands through the real client against a real emulator on a loopback port.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEMO_CREDENTIALS,
  type EmulatorConfig,
  type EmulatorStats,
  type LedgerEntry,
  startEmulator,
} from "@cph-export/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../run.js";
import { memoryIo } from "../test-support/fake-io.js";

interface Running {
  url: string;
  close(): Promise<void>;
  directory: string;
}

async function emulatorWith(config: EmulatorConfig): Promise<Running> {
  const directory = await mkdtemp(join(tmpdir(), "cph-export-fleet-"));
  const emulator = await startEmulator({ dataDir: directory, config });
  return { url: emulator.url, close: () => emulator.close(), directory };
}

async function control<T>(emulator: Running, path: string): Promise<T> {
  const response = await fetch(`${emulator.url}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

const ledger = async (emulator: Running) =>
  (await control<{ entries: LedgerEntry[] }>(emulator, "/__emulator/ledger")).entries;
const stats = (emulator: Running) => control<EmulatorStats>(emulator, "/__emulator/stats");

function envOf(emulator: Running): Record<string, string> {
  return {
    CPH_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO_CREDENTIALS.projectId,
    HUAWEICLOUD_SDK_AK: DEMO_CREDENTIALS.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO_CREDENTIALS.secretKey,
    HOME: "/nonexistent-home",
  };
}

async function cli(emulator: Running, args: string[]) {
  const io = memoryIo({ env: envOf(emulator) });
  const code = await run(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

function ndjsonRows(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const EXPORT_FLAGS = ["--include", "/data", "--bucket", "fleet-tests", "--object-path", "f/{phone_id}.tar"];

let big: Running;
let demo: Running;

beforeAll(async () => {
  // 250 phones on 2 servers: three pages of 100.
  big = await emulatorWith({ inventory: { servers: 2, phonesPerServer: 125 } });
  // The default inventory: 40 phones on 2 servers, most running, some off or frozen.
  demo = await emulatorWith({ jobDurationMs: 50 });
});

afterAll(async () => {
  for (const emulator of [big, demo]) {
    await emulator?.close();
    if (emulator) await rm(emulator.directory, { recursive: true, force: true });
  }
});

describe("phones list and servers list against the emulator", () => {
  it("pages through 250 phones in 3 calls of 100, each phone once", async () => {
    const before = (await stats(big)).listPhones;
    const result = await cli(big, ["phones", "list", "--output", "ndjson"]);
    expect(result.code).toBe(0);
    const rows = ndjsonRows(result.stdout);
    expect(rows).toHaveLength(250);
    expect(new Set(rows.map((row) => row["phone_id"])).size).toBe(250);
    expect((await stats(big)).listPhones - before).toBe(3);
    expect(result.stderr).toMatch(/^phones: 250 phones \(/);
  });

  it("filters by server and status as CPH does", async () => {
    const servers = await cli(big, ["servers", "list", "--output", "ndjson"]);
    expect(servers.code).toBe(0);
    const serverIds = ndjsonRows(servers.stdout).map((row) => row["server_id"] as string);
    expect(serverIds).toHaveLength(2);

    const one = await cli(big, [
      "phones",
      "list",
      "--server-id",
      serverIds[1] as string,
      "--output",
      "ndjson",
    ]);
    const onServer = ndjsonRows(one.stdout);
    expect(onServer).toHaveLength(125);
    expect(onServer.every((row) => row["server_id"] === serverIds[1])).toBe(true);

    const off = await cli(big, ["phones", "list", "--status", "off", "--output", "ndjson"]);
    const offRows = ndjsonRows(off.stdout);
    expect(offRows.length).toBeGreaterThan(0);
    expect(offRows.every((row) => row["status"] === 8 && row["status_word"] === "off")).toBe(true);
  });

  it("refuses a bad status word or page size with exit 2 naming the flag", async () => {
    const status = await cli(big, ["phones", "list", "--status", "napping"]);
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/--status: "napping" is not a phone status/);
    const page = await cli(big, ["phones", "list", "--page-size", "500"]);
    expect(page.code).toBe(2);
    expect(page.stderr).toMatch(/--page-size must be a whole number from 1 to 100/);
  });
});

describe("export with a selection against the emulator", () => {
  it("--dry-run lists the fleet and sends no export", async () => {
    const result = await cli(demo, ["export", "--all", ...EXPORT_FLAGS, "--dry-run", "--output", "json"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^selected 40 phones with --all: \d+ to send, \d+ skipped \(/m);
    expect(result.stderr).toMatch(
      /^skip phone [0-9a-f]{32} \(.+\): phone is off \(status 8\), not running: not exported$/m,
    );
    expect(await ledger(demo)).toEqual([]);
  });

  it("--all with --input is a usage error naming both flags, nothing sent", async () => {
    const result = await cli(demo, ["export", "--all", "--input", "phones.ndjson", ...EXPORT_FLAGS]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/give either --input or --all, not both/);
    expect(await ledger(demo)).toEqual([]);
  });

  it("--all --wait exports exactly the running phones, once each; the others are skipped with the reason, exit 0", async () => {
    const listed = ndjsonRows((await cli(demo, ["phones", "list", "--output", "ndjson"])).stdout);
    expect(listed).toHaveLength(40);
    const running = listed.filter((row) => row["status"] === 2).map((row) => row["phone_id"] as string);
    const others = listed.filter((row) => row["status"] !== 2);
    expect(running.length).toBeGreaterThan(0);
    expect(others.length).toBeGreaterThan(0);

    const journal = join(demo.directory, "fleet.journal");
    const args = [
      "export",
      "--all",
      ...EXPORT_FLAGS,
      "--wait",
      "--poll-interval",
      "50ms",
      "--journal",
      journal,
      "--output",
      "ndjson",
    ];
    const result = await cli(demo, args);
    expect(result.stderr).toMatch(/skipped \(not exportable\)/);
    expect(result.code).toBe(0);

    const entries = await ledger(demo);
    expect(entries.map((entry) => entry.phone_id).sort()).toEqual([...running].sort());

    const rows = ndjsonRows(result.stdout);
    expect(rows).toHaveLength(40);
    const byPhone = new Map(rows.map((row) => [row["phone_id"], row]));
    for (const id of running) expect(byPhone.get(id)).toMatchObject({ state: "succeeded" });
    for (const phone of others) {
      expect(byPhone.get(phone["phone_id"])).toMatchObject({
        state: "rejected",
        error_code: "not_exportable",
        error_msg: `phone is ${phone["status_word"]} (status ${phone["status"]}), not running: not exported`,
      });
    }

    // The rerun with the journal exports no phone twice.
    const rerun = await cli(demo, args);
    expect(rerun.code).toBe(0);
    expect((await ledger(demo)).length).toBe(running.length);
    const again = ndjsonRows(rerun.stdout);
    const resumed = again.filter((row) => row["from_journal"] === true).map((row) => row["phone_id"]);
    expect(resumed.sort()).toEqual([...running].sort());
  });
});
