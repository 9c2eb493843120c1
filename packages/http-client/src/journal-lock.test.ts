import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
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

const read = (fn: () => string) => {
  try {
    return fn().trim();
  } catch {
    return null;
  }
};
/** This machine's boot and pid namespace, as the lock records them (null off Linux). */
const BOOT = read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"));
const PIDNS = read(() => readlinkSync("/proc/self/ns/pid"));
const START = Math.round(Date.now() - process.uptime() * 1000);

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid as number;
}

function holder(fields: Partial<{ pid: number; host: string; start: number; pidns: string | null }>): string {
  return `${JSON.stringify({ pid: deadPid(), host: hostname(), start: 0, boot: BOOT, pidns: PIDNS, time: "2026-01-01T00:00:00.000Z", nonce: "n", ...fields })}\n`;
}

const DIST = pathToFileURL(join(import.meta.dirname, "../dist/journal-lock.js")).href;

describe("journal lock", () => {
  it("is one per file, whatever name the journal is opened by", async () => {
    writeFileSync(journal, "");
    symlinkSync(journal, join(dir, "alias.journal"));
    const first = await acquireJournalLock(journal, note);
    await expect(acquireJournalLock(join(dir, "alias.journal"), note)).rejects.toThrow(
      new RegExp(`alias\\.journal is in use by another run of this process \\(pid ${process.pid}\\)`),
    );
    await first.release();
    expect(existsSync(lock)).toBe(false);
    await (await acquireJournalLock(join(dir, "alias.journal"), note)).release();
  });

  it("lets exactly one of several processes take over a stale lock at once", async () => {
    const script = `
      const { acquireJournalLock } = await import(${JSON.stringify(DIST)});
      try {
        const taken = await acquireJournalLock(process.argv[1], () => {});
        process.stdout.write("won");
        await new Promise((resolve) => setTimeout(resolve, 300));
        await taken.release();
      } catch (error) { process.stdout.write("refused " + error.message); }`;
    const run = () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script, journal]);
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
        });
        child.on("close", () => resolve(out));
      });
    for (let trial = 0; trial < 8; trial++) {
      writeFileSync(lock, holder({}));
      const outcomes = await Promise.all([run(), run(), run()]);
      expect(
        outcomes.filter((out) => out === "won"),
        `trial ${trial}: ${outcomes.join(" | ")}`,
      ).toHaveLength(1);
      for (const out of outcomes)
        if (out !== "won") expect(out).toMatch(/^refused .*is in use by another run/);
      expect(existsSync(lock)).toBe(false);
      expect(existsSync(`${lock}.takeover`)).toBe(false);
    }
  });

  it("never takes over a live lock held by another copy of the module in this process (a worker thread)", async () => {
    const taken = await acquireJournalLock(journal, note);
    const other = (await import(DIST)) as typeof import("./journal-lock.js");
    await expect(other.acquireJournalLock(journal, note)).rejects.toThrow(
      new RegExp(`is in use by another run \\(pid ${process.pid} on `),
    );
    expect(notes).toEqual([]);
    await taken.release();
  });

  it("takes over a lock with this pid from an earlier process (a restarted container), but not one it cannot check", async () => {
    writeFileSync(lock, holder({ pid: process.pid, start: START - 60_000 }));
    const taken = await acquireJournalLock(journal, note);
    expect(notes).toEqual([
      expect.stringMatching(new RegExp(`pid ${process.pid}, .*no longer running; taken over`)),
    ]);
    await taken.release();
    for (const [fields, who] of [
      [{ host: "build-box-7" }, "on build-box-7"],
      [{ pidns: "pid:[1]" }, `on ${hostname()}`],
    ] as const) {
      writeFileSync(lock, holder(fields));
      await expect(acquireJournalLock(journal, note)).rejects.toThrow(
        new RegExp(
          `in use by another run \\(pid \\d+ ${who}, since 2026-01-01.*delete .*export\\.journal\\.lock`,
        ),
      );
    }
    writeFileSync(lock, "garbage");
    await expect(acquireJournalLock(journal, note)).rejects.toThrow(/in use by another run:/);
    expect(readFileSync(lock, "utf8")).toBe("garbage");
  });

  it("names the guard of a run that died while taking over, and removes neither file", async () => {
    writeFileSync(lock, holder({}));
    writeFileSync(`${lock}.takeover`, holder({}));
    await expect(acquireJournalLock(journal, note)).rejects.toThrow(
      /died while taking over its stale lock; if no run is using the journal, delete .*\.lock\.takeover and .*\.lock/,
    );
    expect(existsSync(lock) && existsSync(`${lock}.takeover`)).toBe(true);
  });

  it("leaves alone, when released, a lock that is no longer this run's", async () => {
    const taken = await acquireJournalLock(journal, note);
    // Someone deleted it while the run went on, and another run took it.
    rmSync(lock);
    writeFileSync(lock, holder({ pid: 12345, host: "other-host" }));
    const theirs = readFileSync(lock, "utf8");
    await taken.release();
    expect(readFileSync(lock, "utf8")).toBe(theirs);
  });

  it("says why it cannot lock a journal whose directory does not exist", async () => {
    await expect(acquireJournalLock(join(dir, "missing", "export.journal"), note)).rejects.toThrow(
      /cannot create its lock file .*missing\/export\.journal\.lock/,
    );
  });
});
