// A run killed half way (SIGKILL) and resumed from its journal exports no phone twice.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type SpawnedEmulator, spawnEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { PhoneResult } from "../src/types.js";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));

const SCRIPT = join(PACKAGE_DIR, "test", "fixtures", "export-run.mjs");
const COUNT = 1_000;

let emulator: SpawnedEmulator;
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(PACKAGE_DIR, "dist", "index.js"))) {
    throw new Error(
      "@cph-export/http-client is not built (dist/index.js is missing); run `npx turbo run build` first",
    );
  }
  // Slow answers keep requests in flight when the kill lands.
  emulator = await spawnEmulator({ config: { jobDurationMs: 600_000, faults: { latencyMs: 100 } } });
  dir = await mkdtemp(join(tmpdir(), "cph-kill-resume-"));
});

afterAll(async () => {
  await emulator?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the script; with `killAfter`, SIGKILLs it once that many results were printed. */
function run(
  journal: string,
  killAfter?: number,
  operation: "export" | "restore" = "export",
): Promise<{ results: PhoneResult[]; code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, emulator.url, journal, String(COUNT), operation], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const results: PhoneResult[] = [];
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      results.push(JSON.parse(line) as PhoneResult);
      if (killAfter !== undefined && results.length === killAfter) child.kill("SIGKILL");
    });
    child.on("close", (code, signal) => resolve({ results, code, signal, stderr }));
  });
}

it("resumes a run killed half way without exporting any phone twice, and reports every phone", async () => {
  const journal = join(dir, "export.journal");
  const first = await run(journal, 200);
  expect(first.signal).toBe("SIGKILL");
  expect(first.results.length).toBeGreaterThanOrEqual(200);
  expect(first.results.length).toBeLessThan(COUNT);

  const second = await run(journal);
  expect(second.stderr).toBe("");
  expect(second.code).toBe(0);
  const ledger = await emulator.ledger();

  // Every phone reported by the resumed run, once.
  expect(second.results).toHaveLength(COUNT);
  const byPhone = new Map(second.results.map((r) => [r.phoneId, r]));
  expect(byPhone.size).toBe(COUNT);

  // No phone exported twice.
  const ledgerPhones = ledger.map((entry) => entry.phone_id);
  expect(new Set(ledgerPhones).size).toBe(ledgerPhones.length);

  // What the killed run reported is what the journal gives back.
  for (const earlier of first.results) {
    expect(byPhone.get(earlier.phoneId)).toMatchObject({
      state: "accepted",
      jobId: earlier.jobId,
      fromJournal: true,
    });
  }
  // Every accepted phone is in the ledger with its job; a phone in flight at the kill is unknown, not resent.
  const ledgerJob = new Map(ledger.map((entry) => [entry.phone_id, entry.job_id]));
  for (const result of second.results) {
    if (result.state === "accepted") expect(ledgerJob.get(result.phoneId)).toBe(result.jobId);
    else
      expect(result).toMatchObject({ state: "unknown", errorCode: "unknown_in_journal", fromJournal: true });
  }
  const resent = second.results.filter((r) => r.state === "accepted" && !r.fromJournal);
  expect(resent.length).toBeGreaterThan(0);
  expect(ledger.length).toBeLessThanOrEqual(COUNT);
});

it("resumes a restore killed half way without restoring any phone twice, and refuses an export's journal", async () => {
  const journal = join(dir, "restore.journal");
  const first = await run(journal, 200, "restore");
  expect(first.signal).toBe("SIGKILL");
  expect(first.results.length).toBeLessThan(COUNT);
  const second = await run(journal, undefined, "restore");
  expect(second.stderr).toBe("");
  expect(second.code).toBe(0);
  expect(second.results).toHaveLength(COUNT);
  expect(new Set(second.results.map((r) => r.phoneId)).size).toBe(COUNT);
  const ledger = await emulator.restoreLedger();
  const phones = ledger.map((entry) => entry.phone_id);
  expect(new Set(phones).size).toBe(phones.length);
  expect(phones.length).toBeLessThanOrEqual(COUNT);
  for (const earlier of first.results)
    expect(second.results.find((r) => r.phoneId === earlier.phoneId)).toMatchObject({
      state: "accepted",
      jobId: earlier.jobId,
      fromJournal: true,
    });
  // A journal records one operation: the export journal above is no restore's.
  const mixed = await run(join(dir, "export.journal"), undefined, "restore");
  expect(mixed.code).not.toBe(0);
  expect(mixed.stderr).toContain("it is the journal of export runs, not of a restore");
});
