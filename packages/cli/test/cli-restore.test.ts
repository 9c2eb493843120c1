// A restore of 1,000 phones from an export's journal, SIGKILLed half way and rerun with its own
// journal, run as a user runs it (the built cph-export, the emulator as a process): no phone is
// restored twice, and every phone ends in a reported state.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type SpawnedEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { emulatorEnv, runCli, SECRETS, startEmulator, tempDir, transcripts, until } from "./helpers.js";

const COUNT = 1_000;
const phoneId = (n: number) => `r${String(n).padStart(31, "0")}`;

let emulator: SpawnedEmulator;
let work: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  // Slow answers keep requests in flight when the kill lands; the jobs outlive the test.
  emulator = await startEmulator({ jobDurationMs: 600_000 });
  work = await tempDir();
});

afterAll(async () => {
  await emulator?.stop();
  await work?.remove();
  for (const text of transcripts) for (const secret of SECRETS) expect(text).not.toContain(secret);
});

/** The journal an export of 1,000 phones leaves: 990 succeeded with their archives, 10 failed. */
async function exportJournal(path: string): Promise<void> {
  const time = new Date().toISOString();
  const lines = [
    { type: "run", version: 1, run: "e0", projectId: DEMO_CREDENTIALS.projectId, operation: "export", time },
  ];
  for (let batch = 0; batch < COUNT / 100; batch++) {
    const phones = Array.from({ length: 100 }, (_, n) => phoneId(batch * 100 + n));
    lines.push({ type: "sent", batch: `e0-${batch}`, phones, time } as never);
    for (const [n, phone] of phones.entries()) {
      const failed = (batch * 100 + n) % 100 === 99;
      lines.push({
        type: "result",
        batch: `e0-${batch}`,
        phone,
        state: failed ? "failed" : "succeeded",
        jobId: `j${batch * 100 + n}`,
        bucket: "fleet-backups",
        objectPath: `runs/2026-12-06/${phone}.tar`,
        ...(failed ? { errorCode: "CPS.0010", errorMessage: "export failed" } : {}),
      } as never);
    }
  }
  await writeFile(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
}

it("resumes a restore of 1,000 phones killed half way: no phone restored twice, every phone reported", async () => {
  const exported = join(work.path, "export.journal");
  const journal = join(work.path, "restore.journal");
  await exportJournal(exported);
  const args = [
    "restore",
    "--from-journal",
    exported,
    "--journal",
    journal,
    "--yes",
    "--batch-size",
    "20",
    "--concurrency",
    "2",
    "--output",
    "ndjson",
  ];
  await emulator.setFaults({ latencyMs: 60 });
  try {
    const first = await runCli(args, {
      env: emulatorEnv(emulator),
      onSpawn: (child) => {
        void until(async () => (await emulator.restoreLedger()).length >= 300, "300 phones restored").then(
          () => child.kill("SIGKILL"),
        );
      },
    });
    expect(first.signal).toBe("SIGKILL");
  } finally {
    await emulator.setFaults({});
  }
  const before = (await emulator.restoreLedger()).length;
  expect(before).toBeLessThan(COUNT - 10);

  const second = await runCli(args, { env: emulatorEnv(emulator) });
  // The phones failed by the export are rejected (exit 1); those in flight at the kill are unknown (4).
  expect([1, 4]).toContain(second.code);
  const rows = second.stdout
    .split("\n")
    .filter(Boolean)
    .map(
      (line) =>
        JSON.parse(line) as { phone_id: string; state: string; error_code?: string; from_journal?: boolean },
    );
  expect(rows).toHaveLength(COUNT);
  expect(new Set(rows.map((row) => row.phone_id)).size).toBe(COUNT);
  const ledger = await emulator.restoreLedger();
  const restored = ledger.map((entry) => entry.phone_id);
  // No phone restored twice.
  expect(new Set(restored).size).toBe(restored.length);
  const once = new Set(restored);
  for (const row of rows) {
    if (row.error_code === "not_exported") expect(once.has(row.phone_id)).toBe(false);
    else if (row.state === "accepted") expect(once.has(row.phone_id)).toBe(true);
    else
      expect(row).toMatchObject({ state: "unknown", error_code: "unknown_in_journal", from_journal: true });
  }
  expect(rows.filter((row) => row.error_code === "not_exported")).toHaveLength(10);
  expect(rows.filter((row) => row.from_journal).length).toBeGreaterThan(0);
  expect(restored.length).toBeGreaterThan(before);
  expect(second.stderr).toMatch(/^restore: 1000 phones in /m);
}, 120_000);
