import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SpawnedEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI_BIN,
  emulatorEnv,
  ndjson,
  ROOT,
  runCli,
  ledgerOf,
  SECRETS,
  startEmulator,
  tempDir,
  transcripts,
  until,
} from "./helpers.js";

let emulator: SpawnedEmulator;
let work: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  // Jobs run long enough to interrupt a run that waits for them.
  emulator = await startEmulator({
    jobDurationMs: 3000,
    phones: { failing: { "tty-f": "CPS.0010" } },
  });
  work = await tempDir();
});

afterAll(async () => {
  await emulator?.stop();
  await work?.remove();
  for (const text of transcripts) for (const secret of SECRETS) expect(text).not.toContain(secret);
});

const FLAGS = ["--include", "/data", "--bucket", "cli-tests", "--object-path", "resume/{phone_id}.tar"];

function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(2, "0")}`);
}

async function exportsPerPhone(prefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const entry of await ledgerOf(emulator, prefix))
    counts.set(entry.phone_id, (counts.get(entry.phone_id) ?? 0) + 1);
  return counts;
}

describe("interrupting and resuming (process level)", () => {
  it("SIGINT during --wait exits 130 with the journal flushed; the rerun resumes and exports no phone twice", async () => {
    const phones = ids("int", 12);
    const input = join(work.path, "int.ndjson");
    const journal = join(work.path, "int.journal");
    await writeFile(input, ndjson(phones));
    const args = [
      "export",
      "--input",
      input,
      ...FLAGS,
      "--wait",
      "--poll-interval",
      "300ms",
      "--journal",
      journal,
      "--batch-size",
      "4",
    ];
    let meanwhile: ReturnType<typeof runCli> | undefined;
    const first = await runCli(args, {
      env: emulatorEnv(emulator),
      onSpawn: (child) => {
        void until(
          async () => (await ledgerOf(emulator, "int-")).length === phones.length,
          "the 12 jobs",
        ).then(async () => {
          // A second run on the same journal while the first waits: refused before sending anything.
          meanwhile = runCli(args, { env: emulatorEnv(emulator) });
          await meanwhile;
          child.kill("SIGINT");
        });
      },
    });
    const refused = await meanwhile!;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/journal .*int\.journal is in use by another run \(pid \d+ on /);
    expect((await ledgerOf(emulator, "int-")).length).toBe(phones.length);
    expect(existsSync(`${journal}.lock`)).toBe(false);
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/interrupted: all 12 phones have a result; the journal .* is saved/);
    expect((JSON.parse(first.stdout) as Array<{ state: string }>).map((row) => row.state)).toEqual(
      phones.map(() => "accepted"),
    );
    expect(await readFile(journal, "utf8")).toMatch(/"type":"result"/);

    const second = await runCli(args, { env: emulatorEnv(emulator) });
    expect(second.code).toBe(0);
    const rows = JSON.parse(second.stdout) as Array<{
      phone_id: string;
      state: string;
      from_journal?: boolean;
    }>;
    // JSON rows come in the order the phones finish; the table sorts them by input line.
    rows.sort((a, b) => a.phone_id.localeCompare(b.phone_id));
    expect(rows.map((row) => [row.phone_id, row.state, row.from_journal])).toEqual(
      phones.map((id) => [id, "succeeded", true]),
    );
    const counts = await exportsPerPhone("int-");
    expect([...counts.keys()].sort()).toEqual(phones);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
  });

  it("SIGKILL in the middle of sending, then a rerun with the journal: no phone is exported twice", async () => {
    const phones = ids("kill", 12);
    const input = join(work.path, "kill.csv");
    const journal = join(work.path, "kill.journal");
    await writeFile(input, `phone_id\n${phones.join("\n")}\n`);
    const args = [
      "export",
      "--input",
      input,
      ...FLAGS,
      "--journal",
      journal,
      "--batch-size",
      "2",
      "--concurrency",
      "1",
    ];
    await emulator.setFaults({ latencyMs: 300 });
    try {
      const first = await runCli(args, {
        env: emulatorEnv(emulator),
        onSpawn: (child) => {
          void until(async () => (await ledgerOf(emulator, "kill-")).length >= 4, "4 phones exported").then(
            () => child.kill("SIGKILL"),
          );
        },
      });
      expect(first.signal).toBe("SIGKILL");
    } finally {
      await emulator.setFaults({});
    }
    const exportedBefore = await exportsPerPhone("kill-");
    expect(exportedBefore.size).toBeLessThan(phones.length);

    const second = await runCli(args, { env: emulatorEnv(emulator) });
    // Phones whose request was in flight at the kill are unknown (exit 4): never resent blindly.
    expect([0, 4]).toContain(second.code);
    const rows = JSON.parse(second.stdout) as Array<{ phone_id: string; state: string }>;
    expect(rows.map((row) => row.phone_id).sort()).toEqual(phones);
    const counts = await exportsPerPhone("kill-");
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    for (const row of rows) {
      // Every phone is either exported exactly once or reported unknown; none is silently lost.
      if (row.state === "accepted") expect(counts.get(row.phone_id)).toBe(1);
      else expect(row.state).toBe("unknown");
    }
  });
});

describe("progress display", () => {
  it("draws a live bar redrawn in place under a pseudo-terminal, ending with the final counts", async () => {
    const phones = [...ids("tty", 5), "tty-f"];
    const input = join(work.path, "tty.ndjson");
    await writeFile(input, ndjson(phones));
    const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
    const command = [
      process.execPath,
      CLI_BIN,
      "export",
      "--input",
      input,
      ...FLAGS,
      "--wait",
      "--poll-interval",
      "300ms",
      "--batch-size",
      "2",
    ]
      .map(quote)
      .join(" ");
    // util-linux `script` gives the CLI a terminal on stdin, stdout and stderr.
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: ROOT,
      env: {
        PATH: process.env["PATH"] ?? "",
        TERM: "xterm",
        NO_COLOR: "1",
        HOME: work.path,
        ...emulatorEnv(emulator),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    transcripts.push(output);
    expect(code).toBe(1);
    expect(output).toContain("\u001b[?25l");
    const frames = output.split("\r\u001b[2K").slice(1);
    expect(frames.length).toBeGreaterThan(3);
    expect(frames[0]).toMatch(/^export \[░+\] 0\/6 · 0 ok · 0 failed · \d+ running/);
    const last = frames.at(-1) ?? "";
    expect(last).toMatch(/^export \[█+\] 6\/6 · 5 ok · 1 failed · 0 running · [\d.]+\/s · \d+/);
    expect(last).toContain("\u001b[?25h");
    // On a terminal the results are a table.
    expect(output).toMatch(/PHONE\s+STATE\s+JOB\s+OBJECT\s+ERROR/);
    expect(output).toMatch(/tty-f\s+failed\s+\S+\s+\S+\s+CPS\.0010/);
  });

  it("writes plain progress lines, without escape sequences, when stderr is not a terminal", async () => {
    const result = await runCli(["export", "--phone-id", "plain-a", ...FLAGS], {
      env: emulatorEnv(emulator),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^export: 0\/1 done, 0 accepted, 0 failed, 0 running$/m);
    expect(result.stderr).toMatch(/^export: 1\/1 done, 1 accepted, 0 failed, 0 running$/m);
    expect(result.stderr).not.toContain("\u001b");
  });
});
