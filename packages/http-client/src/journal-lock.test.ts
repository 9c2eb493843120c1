import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireJournalLock } from "./journal-lock.js";

let dir: string;
let journal: string;
let lock: string;
const notes: string[] = [];
const note = (text: string) => notes.push(text);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "cph-lock-"));
  journal = join(dir, "export.journal");
  lock = `${journal}.lock`;
  notes.length = 0;
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid as number;
}

function holder(pid: number, host = hostname()): string {
  return `${JSON.stringify({ pid, host, time: "2026-01-01T00:00:00.000Z", nonce: "n" })}\n`;
}

describe("journal lock", () => {
  it("is one per file, whatever name the journal is opened by", async () => {
    writeFileSync(journal, "");
    symlinkSync(journal, join(dir, "alias.journal"));
    const first = await acquireJournalLock(journal, note);
    await expect(acquireJournalLock(join(dir, "alias.journal"), note)).rejects.toThrow(
      new RegExp(`alias\\.journal is in use by another run \\(pid ${process.pid} on `),
    );
    await first.release();
    expect(existsSync(lock)).toBe(false);
  });

  it("lets exactly one of several runs take over a stale lock at once", async () => {
    for (let trial = 0; trial < 20; trial++) {
      writeFileSync(lock, holder(deadPid()));
      const outcomes = await Promise.allSettled([1, 2, 3].map(() => acquireJournalLock(journal, note)));
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(won, `trial ${trial}`).toHaveLength(1);
      for (const outcome of outcomes)
        if (outcome.status === "rejected") expect(String(outcome.reason)).toMatch(/is in use by another run/);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      expect(existsSync(lock)).toBe(false);
    }
  });

  it("takes over a lock with this process's pid that this process does not hold (a restarted container)", async () => {
    writeFileSync(lock, holder(process.pid));
    const taken = await acquireJournalLock(journal, note);
    expect(notes).toEqual([
      expect.stringMatching(new RegExp(`pid ${process.pid}, .*no longer running; taken over`)),
    ]);
    await taken.release();
  });

  it("leaves alone, when released, a lock that is no longer this run's", async () => {
    const taken = await acquireJournalLock(journal, note);
    // Someone deleted it while the run went on, and another run took it.
    rmSync(lock);
    writeFileSync(lock, holder(12345, "other-host"));
    await taken.release();
    expect(readFileSync(lock, "utf8")).toBe(holder(12345, "other-host"));
  });

  it("says why it cannot lock a journal in a directory it cannot write", async () => {
    await expect(acquireJournalLock(join(dir, "missing", "export.journal"), note)).rejects.toThrow(
      /cannot create its lock file .*missing\/export\.journal\.lock/,
    );
  });
});
