// --max-errors, --rate and adaptive concurrency through the real client against a real emulator on a loopback port.
import { join } from "node:path";
import type { EmulatorStats } from "@cph-export/emulator";
import { afterEach, describe, expect, it } from "vitest";
import {
  emulatorEnv,
  emulatorHarness,
  ledgerOf,
  ndjsonRows,
  type Running,
  runInMemory,
} from "../test-support/emulator.js";

const { emulatorWith, scratch, cleanup } = emulatorHarness("cph-export-run-control-");
afterEach(cleanup);

const ledger = (emulator: Running) => ledgerOf(emulator, "ledger");
async function stats(emulator: Running): Promise<EmulatorStats> {
  const response = await fetch(`${emulator.url}/__emulator/stats`);
  expect(response.status).toBe(200);
  return (await response.json()) as EmulatorStats;
}

const cli = (emulator: Running, args: string[]) => runInMemory(args, { env: emulatorEnv(emulator) });

const EXPORT_FLAGS = ["--include", "/data", "--bucket", "fleet-tests", "--object-path", "f/{phone_id}.tar"];
/** 200 running phones on 2 servers. */
const FLEET = { servers: 2, phonesPerServer: 100, statuses: { running: 1 } };

function tally(rows: Record<string, unknown>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) {
    const key = `${row["state"]}${row["error_code"] ? `:${row["error_code"]}` : ""}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe("export --max-errors against the emulator", () => {
  it("--max-errors 5 with 20% of the jobs failing stops early, reports every phone once, exit 1", async () => {
    const journal = join(await scratch(), "export.journal");
    const emulator = await emulatorWith({
      jobDurationMs: 10,
      inventory: FLEET,
      faults: { phoneFailRate: 0.2, seed: 3 },
    });
    const result = await cli(emulator, [
      "export",
      "--all",
      ...EXPORT_FLAGS,
      "--batch-size",
      "5",
      "--concurrency",
      "2",
      "--rate",
      "40/s",
      "--wait",
      "--poll-interval",
      "20ms",
      "--max-errors",
      "5",
      "--journal",
      journal,
      "--output",
      "ndjson",
    ]);
    expect(result.code).toBe(1);
    const rows = ndjsonRows(result.stdout);
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((row) => row["phone_id"])).size).toBe(200);
    const counts = tally(rows);
    const failed = counts["failed:CPS.0010"] ?? 0;
    const notSent = counts["rejected:not_sent"] ?? 0;
    const succeeded = counts["succeeded"] ?? 0;
    expect(failed).toBeGreaterThan(5);
    expect(notSent).toBeGreaterThan(0);
    // Each phone in exactly one of the three states; nothing left accepted or unknown.
    expect(failed + notSent + succeeded).toBe(200);
    // What CPH holds is exactly what was reported sent.
    const entries = await ledger(emulator);
    expect(entries).toHaveLength(200 - notSent);
    const sent = new Set(entries.map((entry) => entry.phone_id));
    for (const row of rows)
      expect(sent.has(row["phone_id"] as string)).toBe(row["error_code"] !== "not_sent");
    expect(result.stderr).toMatch(
      new RegExp(
        `^stopped: max errors exceeded \\(--max-errors 5, \\d+ errors\\); ${notSent} of 200 phones were not sent`,
        "m",
      ),
    );
    expect(result.stderr).toMatch(new RegExp(`${failed} failed, ${notSent} rejected`));
    expect(result.stderr).toMatch(/rerun the same command to send them/);

    // The rerun with the journal sends exactly the phones that were not sent.
    const rerun = await cli(emulator, [
      "export",
      "--all",
      ...EXPORT_FLAGS,
      "--journal",
      journal,
      "--output",
      "ndjson",
    ]);
    const after = await ledger(emulator);
    expect(after).toHaveLength(200);
    expect(new Set(after.map((entry) => entry.phone_id)).size).toBe(200);
    expect(tally(ndjsonRows(rerun.stdout))).toEqual({
      "failed:CPS.0010": failed,
      succeeded,
      accepted: notSent,
    });
  });

  it("a bad --max-errors or --rate is a usage error naming the flag, nothing sent", async () => {
    const emulator = await emulatorWith({ inventory: FLEET });
    for (const [flag, value] of [
      ["--max-errors", "5.5"],
      ["--max-errors", "101%"],
      ["--rate", "0/s"],
      ["--rate", "fast"],
    ] as const) {
      const result = await cli(emulator, ["export", "--all", ...EXPORT_FLAGS, flag, value]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${flag}: "${value}"`);
    }
    expect(await ledger(emulator)).toEqual([]);
  });
});

describe("export against the emulator's throttling", () => {
  it("halves the concurrency on 429 APIGW.0308, shows it in the progress line, and still reports every phone", async () => {
    const emulator = await emulatorWith({ inventory: FLEET, faults: { throttleRps: 10 } });
    const result = await cli(emulator, [
      "export",
      "--all",
      ...EXPORT_FLAGS,
      "--batch-size",
      "5",
      "--concurrency",
      "8",
      "--retries",
      "10",
      "--output",
      "ndjson",
    ]);
    expect((await stats(emulator)).throttled).toBeGreaterThan(0);
    const rows = ndjsonRows(result.stdout);
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((row) => row["phone_id"])).size).toBe(200);
    const counts = tally(rows);
    expect(Object.keys(counts)).toEqual(["accepted"]);
    expect(result.code).toBe(0);
    // The plain progress lines show the limit while it is held below 8.
    const limits = [...result.stderr.matchAll(/concurrency (\d+)\/8/g)].map((match) => Number(match[1]));
    expect(limits.length).toBeGreaterThan(0);
    expect(Math.min(...limits)).toBeLessThanOrEqual(4);
    expect(await ledger(emulator)).toHaveLength(200);
  });
});
