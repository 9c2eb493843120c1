import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { link, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { CphError } from "@cph-export/core";

/** The lock of a journal a run holds from open to close. */
export interface JournalLock {
  /** `<journal, symlinks resolved>.lock` */
  readonly path: string;
  /** Removes the lock, if it is still this run's. */
  release(): Promise<void>;
}

/** Who holds a lock (or a takeover guard), as written in it. */
interface Identity {
  pid: number;
  host: string;
  /** When the process started, in ms since the epoch (`Date.now() - process.uptime()`). */
  start: number;
  /** Linux: the boot id and the pid namespace. A pid is only checkable where both are the same. */
  boot: string | null;
  pidns: string | null;
}

function readOr(read: () => string): string | null {
  try {
    return read().trim() || null;
  } catch {
    return null;
  }
}

let me: Identity | undefined;

function identity(): Identity {
  me ??= {
    pid: process.pid,
    host: hostname(),
    start: Math.round(Date.now() - process.uptime() * 1000),
    boot: readOr(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8")),
    pidns: readOr(() => readlinkSync("/proc/self/ns/pid")),
  };
  return me;
}

/** Locks this process holds, or is acquiring: a second run in the same process is refused at once. */
const held = new Set<string>();

/** Whether a process of this pid namespace is running (one of another user counts). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseHolder(text: string): (Identity & { time?: string }) | undefined {
  try {
    const value = JSON.parse(text) as Partial<Identity & { time: string }>;
    if (Number.isSafeInteger(value.pid) && typeof value.host === "string") {
      return {
        pid: value.pid as number,
        host: value.host,
        start: typeof value.start === "number" ? value.start : Number.NaN,
        boot: typeof value.boot === "string" ? value.boot : null,
        pidns: typeof value.pidns === "string" ? value.pidns : null,
        ...(typeof value.time === "string" ? { time: value.time } : {}),
      };
    }
  } catch {
    // Unreadable: treated as held, and named in the error.
  }
  return undefined;
}

/**
 * Whether the holder is certainly gone: a process of this machine, this boot and this pid
 * namespace that is not running; or one that had this process's pid before it (another start
 * time). Anything that cannot be checked from here (another host, another container, an older
 * lock) is not: it is refused, for a person to look at.
 */
function provablyGone(holder: Identity): boolean {
  const self = identity();
  if (holder.host !== self.host || holder.boot !== self.boot || holder.pidns !== self.pidns) return false;
  if (holder.pid === self.pid) return Math.abs(holder.start - self.start) > 2000;
  return !isRunning(holder.pid);
}

function describe(holder: (Identity & { time?: string }) | undefined): string {
  if (!holder) return "another run";
  return `another run (pid ${holder.pid} on ${holder.host}${holder.time ? `, since ${holder.time}` : ""})`;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The journal's path with symlinks resolved, so that every name of one file has one lock. */
async function resolvedPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    try {
      return join(await realpath(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** Creates `path` with `content`, whole or not at all; false when it exists already. */
async function create(path: string, content: string): Promise<boolean> {
  const draft = `${path}.${process.pid}.${randomUUID().slice(0, 8)}`;
  try {
    await writeFile(draft, content, { flag: "wx" });
    try {
      await link(draft, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      // A file system without hard links (FAT, some network shares): created exclusively instead.
      await writeFile(path, content, { flag: "wx" });
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await rm(draft, { force: true }).catch(() => {});
  }
}

/** Removes `path` if it still holds `content` (the check and the removal are not one step: see `takeOver`). */
async function removeIfStill(path: string, content: string): Promise<void> {
  if ((await readText(path).catch(() => undefined)) === content) await rm(path, { force: true });
}

const GUARD_WAIT_MS = 5000;

/**
 * Removes a lock judged stale (`text`) under a guard file, `<lock>.takeover`, that one run holds
 * at a time and that only its holder removes: so a lock is only ever removed by the run that found
 * it still stale while holding the guard, never a fresh one that replaced it. A guard left by a run
 * that died while taking over (a window of milliseconds) is not removed automatically: it is named
 * in the error. False when the lock changed meanwhile.
 */
async function takeOver(journalPath: string, lock: string, text: string, mine: string): Promise<boolean> {
  const guard = `${lock}.takeover`;
  const deadline = Date.now() + GUARD_WAIT_MS;
  while (!(await create(guard, mine))) {
    const holder = parseHolder((await readText(guard)) ?? "");
    if (holder && provablyGone(holder)) {
      throw new CphError(
        "ERR_CPH_VALIDATION",
        `journal ${journalPath}: a run (pid ${holder.pid}) died while taking over its stale lock; if no run is using the journal, delete ${guard} and ${lock}`,
      );
    }
    if (Date.now() > deadline) {
      throw new CphError(
        "ERR_CPH_VALIDATION",
        `journal ${journalPath}: ${describe(holder)} has been taking over its stale lock for ${GUARD_WAIT_MS / 1000} s; if no run is using the journal, delete ${guard} and ${lock}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 30)));
  }
  try {
    if ((await readText(lock)) !== text) return false;
    await rm(lock, { force: true });
    return true;
  } finally {
    await removeIfStill(guard, mine);
  }
}

/**
 * Locks a journal for this run: `<journal>.lock` holds the pid, host, start time, boot id, pid
 * namespace and a nonce. A lock whose run is provably gone (see `provablyGone`: killed or crashed
 * on this machine) is taken over, with a note; any other lock is refused, naming the file to
 * delete: two runs on one journal would each send the phones the other sent. The journal's
 * directory must be writable.
 */
export async function acquireJournalLock(
  journalPath: string,
  onNote: (note: string) => void,
): Promise<JournalLock> {
  const lock = `${await resolvedPath(journalPath)}.lock`;
  const refuse = (who: string) =>
    new CphError(
      "ERR_CPH_VALIDATION",
      `journal ${journalPath} is in use by ${who}: two runs on one journal could export phones twice. Wait for that run to end; if no run is using the journal, delete ${lock}`,
    );
  // Checked and taken in one step (no await between): JavaScript runs one thing at a time.
  if (held.has(lock)) throw refuse(`another run of this process (pid ${process.pid})`);
  held.add(lock);
  const mine = `${JSON.stringify({ ...identity(), time: new Date().toISOString(), nonce: randomUUID() })}\n`;
  try {
    for (let attempt = 1; attempt <= 5; attempt++) {
      let text: string | undefined;
      try {
        if (await create(lock, mine)) {
          return {
            path: lock,
            async release() {
              try {
                await removeIfStill(lock, mine);
              } finally {
                held.delete(lock);
              }
            },
          };
        }
        text = await readText(lock);
      } catch (cause) {
        throw new CphError(
          "ERR_CPH_VALIDATION",
          `journal ${journalPath}: cannot create its lock file ${lock} (${(cause as Error).message})`,
          { cause },
        );
      }
      if (text === undefined) continue;
      const holder = parseHolder(text);
      if (!holder || !provablyGone(holder)) throw refuse(describe(holder));
      if (await takeOver(journalPath, lock, text, mine)) {
        onNote(
          `the lock of journal ${journalPath} was left by a run (pid ${holder.pid}${holder.time ? `, ${holder.time}` : ""}) that is no longer running; taken over`,
        );
      }
    }
    throw new CphError(
      "ERR_CPH_VALIDATION",
      `journal ${journalPath}: its lock file ${lock} kept changing; try again`,
    );
  } catch (error) {
    held.delete(lock);
    throw error;
  }
}
