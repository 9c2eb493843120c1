import { randomUUID } from "node:crypto";
import { link, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
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

interface Holder {
  pid: number;
  host: string;
  time: string;
}

/**
 * Locks this process holds now. A lock that names this process's pid but is not in here was left
 * by an earlier process that had the same pid: a restarted container, whose CLI is pid 1 again.
 */
const held = new Set<string>();

/** Whether a process of this host is running (one of another user counts). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (Number.isSafeInteger(value.pid) && typeof value.host === "string" && typeof value.time === "string")
      return value as Holder;
  } catch {
    // Unreadable: treated as held, and named in the error.
  }
  return undefined;
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

/** Creates the lock with `content`, whole or not at all; false when there is one already. */
async function create(lock: string, content: string): Promise<boolean> {
  const draft = `${lock}.${process.pid}.${randomUUID().slice(0, 8)}`;
  try {
    await writeFile(draft, content, { flag: "wx" });
    try {
      await link(draft, lock);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      // A file system without hard links (FAT, some network shares): created exclusively instead.
      await writeFile(lock, content, { flag: "wx" });
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await rm(draft, { force: true });
  }
}

/** A takeover guard older than this was left by a run that died while taking over: removed. */
const GUARD_STALE_MS = 10_000;

/**
 * Removes a stale lock, if it is still the one judged stale (`text`), under a guard file
 * (`<lock>.takeover`, created exclusively) that only one run holds at a time: so a lock is only
 * ever removed by the one run that checked it under the guard, never a fresh lock that replaced it.
 * False when another run holds the guard (after a short pause), or the lock changed.
 */
async function takeOver(lock: string, text: string, content: string): Promise<boolean> {
  const guard = `${lock}.takeover`;
  if (!(await create(guard, content))) {
    const since = await stat(guard).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (since > GUARD_STALE_MS) await rm(guard, { force: true });
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.floor(Math.random() * 40)));
    return false;
  }
  try {
    if ((await readText(lock)) !== text) return false;
    await rm(lock, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Locks a journal for this run: `<journal>.lock` holds the pid, host, start time and a nonce. A
 * lock left by a run of this host that is no longer running (killed, crashed) is taken over, with a
 * note; a lock held by a running process, by another host (which cannot be checked from here), or
 * that cannot be read, is refused: two runs on one journal would each send the phones the other
 * sent. The journal's directory must be writable.
 */
export async function acquireJournalLock(
  journalPath: string,
  onNote: (note: string) => void,
): Promise<JournalLock> {
  const lock = `${await resolvedPath(journalPath)}.lock`;
  const host = hostname();
  const mine = `${JSON.stringify({ pid: process.pid, host, time: new Date().toISOString(), nonce: randomUUID() })}\n`;
  const fail = (message: string, cause?: unknown) =>
    new CphError("ERR_CPH_VALIDATION", `journal ${journalPath}: ${message}`, { cause });
  for (let attempt = 1; attempt <= 20; attempt++) {
    let text: string | undefined;
    try {
      if (await create(lock, mine)) {
        held.add(lock);
        return {
          path: lock,
          async release() {
            held.delete(lock);
            if ((await readText(lock).catch(() => undefined)) === mine) await rm(lock, { force: true });
          },
        };
      }
      text = await readText(lock);
    } catch (cause) {
      throw fail(`cannot create its lock file ${lock} (${(cause as Error).message})`, cause);
    }
    if (text === undefined) continue;
    const holder = parseHolder(text);
    const stale =
      holder !== undefined &&
      holder.host === host &&
      (holder.pid === process.pid ? !held.has(lock) : !isRunning(holder.pid));
    if (!stale) {
      const who = holder
        ? `another run (pid ${holder.pid} on ${holder.host}, since ${holder.time})`
        : "another run";
      throw new CphError(
        "ERR_CPH_VALIDATION",
        `journal ${journalPath} is in use by ${who}: two runs on one journal could export phones twice. Wait for that run to end; if no run is using the journal, delete ${lock}`,
      );
    }
    let taken: boolean;
    try {
      taken = await takeOver(lock, text, mine);
    } catch (cause) {
      throw fail(`cannot remove the stale lock ${lock} (${(cause as Error).message})`, cause);
    }
    if (taken) {
      onNote(
        `the lock of journal ${journalPath} was left by a run (pid ${holder!.pid}, ${holder!.time}) that is no longer running; taken over`,
      );
    }
  }
  throw fail(`its lock file ${lock} kept changing; try again`);
}
