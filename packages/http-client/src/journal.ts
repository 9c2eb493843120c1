import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { type ArchiveVerdict, ARCHIVE_VERDICTS, CphError } from "@cph-export/core";
import { acquireJournalLock, type JournalLock } from "./journal-lock.js";
import type { PhoneResult, PhoneState } from "./types.js";

/**
 * The journal is append-only NDJSON, one record a line:
 * - `{"type":"run","version":1,"run":ID,"projectId":P,"operation":O,"time":T}` when a run opens it
 *   (`O`: export or restore; a journal without it is an export's);
 * - `{"type":"sent","batch":B,"phones":[ids],"time":T}` written and synced BEFORE a request is sent;
 * - `{"type":"result","batch":B,"phone":ID,"state":S,...}` per phone once its state is known;
 * - `{"type":"unsent","batch":B,"phones":[ids]}` when a batch recorded as sent was in the end not sent;
 * - `{"type":"repair","note":TEXT}` after a line cut short by a crash;
 * - `{"type":"verify","phone":ID,"state":V,"bucket":B,"key":K,"size":N,"etag":E,"lastModified":T,"time":T}`
 *   when the phone's archive was looked for in OBS (`V`: verified, missing or stale).
 * The state of a phone is its last result (or sent) record; a verify record never changes it, it is
 * kept beside it as the phone's last verification.
 */
export const JOURNAL_VERSION = 1;

/** What the journal says about one phone. `sent` means a request left without its answer recorded. */
export interface JournalEntry {
  state: PhoneState | "sent";
  jobId?: string | undefined;
  requestId?: string | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** Where the phone's archive was asked to go (export) or come from (restore). */
  bucketName?: string | undefined;
  objectPath?: string | undefined;
  /** When the request that carries the phone was recorded as about to leave (ISO time). */
  sentAt?: string | undefined;
  /** The last verification of the phone's archive, if any. */
  verification?: JournalVerification | undefined;
}

/** The last look for a phone's archive in OBS: a second dimension beside the run state. */
export interface JournalVerification {
  state: ArchiveVerdict;
  bucket: string;
  key: string;
  size?: number | undefined;
  etag?: string | undefined;
  /** ISO time the object was last written, when it exists. */
  lastModified?: string | undefined;
  /** ISO time of the verification. */
  time: string;
}

interface VerifyRecord extends JournalVerification {
  type: "verify";
  phone: string;
}

interface SentRecord {
  type: "sent" | "unsent";
  batch: string;
  phones: string[];
  time?: string;
}

interface ResultRecord {
  type: "result";
  batch?: string;
  phone: string;
  state: PhoneState;
  jobId?: string;
  requestId?: string;
  errorCode?: string;
  errorMessage?: string;
  bucket?: string;
  objectPath?: string;
}

interface RunRecord {
  type: "run";
  projectId?: string;
  operation?: string;
}

/** What a journal records the runs of: one operation, export or restore, never both. */
export type JournalOperation = "export" | "restore";

type JournalRecord = SentRecord | ResultRecord | RunRecord | VerifyRecord | { type: "repair" };

const STATES = new Set<string>(["accepted", "rejected", "succeeded", "failed", "unknown"]);
const VERIFICATION_STATES = new Set<string>(ARCHIVE_VERDICTS);

function isRecord(value: unknown): value is JournalRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  switch (record["type"]) {
    case "sent":
    case "unsent":
      return (
        typeof record["batch"] === "string" &&
        Array.isArray(record["phones"]) &&
        record["phones"].every((p) => typeof p === "string")
      );
    case "result":
      return (
        typeof record["phone"] === "string" &&
        typeof record["state"] === "string" &&
        STATES.has(record["state"])
      );
    case "verify":
      return (
        typeof record["phone"] === "string" &&
        typeof record["state"] === "string" &&
        VERIFICATION_STATES.has(record["state"]) &&
        typeof record["bucket"] === "string" &&
        typeof record["key"] === "string" &&
        typeof record["time"] === "string"
      );
    case "run":
    case "repair":
      return true;
    default:
      return false;
  }
}

function journalError(path: string, message: string): CphError {
  return new CphError("ERR_CPH_VALIDATION", `journal ${path}: ${message}`);
}

/** Reads a journal into its index (phone id -> last state) without loading the file at once. */
async function readIndex(
  path: string,
  projectId: string,
  operation: JournalOperation,
  onNote: (note: string) => void,
): Promise<{ index: Map<string, JournalEntry>; lines: number }> {
  const index = new Map<string, JournalEntry>();
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  let broken: number | undefined;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    if (!isRecord(record)) {
      if (broken !== undefined)
        throw journalError(path, `line ${broken} is not a journal record; repair or remove the journal`);
      broken = lineNumber;
      continue;
    }
    if (broken !== undefined) {
      // Only a line cut short by a crash may be broken, and the next run marks it with a repair record.
      if (record.type !== "repair")
        throw journalError(path, `line ${broken} is not a journal record; repair or remove the journal`);
      broken = undefined;
    }
    switch (record.type) {
      case "run":
        if (record.projectId && record.projectId !== projectId) {
          throw journalError(
            path,
            `it was written for project ${record.projectId}, not ${projectId}; use another journal file`,
          );
        }
        if ((record.operation ?? "export") !== operation) {
          throw journalError(
            path,
            `it is the journal of ${record.operation ?? "export"} runs, not of a ${operation}; use another journal file${operation === "restore" ? " (--from-journal reads an export's journal)" : ""}`,
          );
        }
        break;
      case "sent":
        for (const phone of record.phones) {
          const entry: JournalEntry = { state: "sent" };
          if (typeof record.time === "string") entry.sentAt = record.time;
          index.set(phone, entry);
        }
        break;
      case "unsent":
        for (const phone of record.phones) index.delete(phone);
        break;
      case "result": {
        const entry: JournalEntry = { state: record.state };
        const before = index.get(record.phone);
        // Rejected phones are sent again, so their details need no memory.
        if (record.state !== "rejected") {
          if (before?.sentAt) entry.sentAt = before.sentAt;
          // A job's later record may omit where the archive goes; the earlier record said it.
          const bucketName = typeof record.bucket === "string" ? record.bucket : before?.bucketName;
          const objectPath = typeof record.objectPath === "string" ? record.objectPath : before?.objectPath;
          if (bucketName) entry.bucketName = bucketName;
          if (objectPath) entry.objectPath = objectPath;
          if (record.jobId) entry.jobId = record.jobId;
          if (record.requestId) entry.requestId = record.requestId;
          if (record.state !== "accepted" && record.state !== "succeeded") {
            if (record.errorCode) entry.errorCode = record.errorCode;
            if (record.errorMessage) entry.errorMessage = record.errorMessage;
          }
        }
        index.set(record.phone, entry);
        break;
      }
      case "verify": {
        const entry = index.get(record.phone);
        if (entry) {
          const { type: _type, phone: _phone, ...verification } = record;
          entry.verification = verification;
        }
        break;
      }
      default:
        break;
    }
  }
  if (broken !== undefined) {
    onNote(
      `journal ${path}: line ${broken} was cut short (the previous run stopped while writing it) and was ignored; its phones keep their earlier state`,
    );
  }
  return { index, lines: lineNumber };
}

/** The append-only journal of one `exportMany` run. Writes are serialised and synced to disk. */
export class Journal {
  readonly path: string;
  readonly runId: string;
  readonly index: Map<string, JournalEntry>;
  readonly #handle: FileHandle;
  readonly #lock: JournalLock;
  #pending: Array<{ text: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  #flushing: Promise<void> | undefined;
  #batches = 0;

  private constructor(path: string, handle: FileHandle, lock: JournalLock, index: Map<string, JournalEntry>) {
    this.path = path;
    this.#handle = handle;
    this.#lock = lock;
    this.index = index;
    this.runId = randomUUID().slice(0, 8);
  }

  /**
   * Opens (or creates) a journal, reads its index, and repairs a last line cut short by a crash.
   * Takes the journal's lock file first (`<path>.lock`): a journal another run is using is refused.
   */
  static async open(
    path: string,
    options: { projectId: string; operation?: JournalOperation | undefined; onNote: (note: string) => void },
  ): Promise<Journal> {
    const operation = options.operation ?? "export";
    const lock = await acquireJournalLock(path, options.onNote);
    let handle: FileHandle;
    try {
      handle = await open(path, "a+");
    } catch (cause) {
      await lock.release();
      throw new CphError(
        "ERR_CPH_VALIDATION",
        `journal ${path}: cannot open it for appending (${(cause as Error).message})`,
        { cause },
      );
    }
    try {
      const { size } = await handle.stat();
      let index = new Map<string, JournalEntry>();
      let repair: string | undefined;
      if (size > 0) {
        ({ index } = await readIndex(path, options.projectId, operation, options.onNote));
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a)
          repair = "the previous run stopped in the middle of writing the line above; it is ignored";
      }
      const journal = new Journal(path, handle, lock, index);
      const head = repair === undefined ? "" : `\n${JSON.stringify({ type: "repair", note: repair })}\n`;
      await journal.#append(
        `${head}${JSON.stringify({ type: "run", version: JOURNAL_VERSION, run: journal.runId, projectId: options.projectId, operation, time: new Date().toISOString() })}\n`,
      );
      return journal;
    } catch (error) {
      await handle.close();
      await lock.release();
      throw error;
    }
  }

  /**
   * Reads a journal another run wrote (an export's, for a restore from it) without locking or
   * writing it: its index, phone id -> last state, bucket and object path.
   */
  static async read(
    path: string,
    options: { projectId: string; operation?: JournalOperation | undefined; onNote: (note: string) => void },
  ): Promise<Map<string, JournalEntry>> {
    try {
      await (await open(path, "r")).close();
    } catch (cause) {
      throw new CphError(
        "ERR_CPH_VALIDATION",
        `journal ${path}: cannot read it (${(cause as Error).message})`,
        {
          cause,
        },
      );
    }
    return (await readIndex(path, options.projectId, options.operation ?? "export", options.onNote)).index;
  }

  /** A new batch id, unique within the journal. */
  nextBatchId(): string {
    return `${this.runId}-${++this.#batches}`;
  }

  /** Records that these phones are about to be sent; resolves once it is on disk. */
  sent(batch: string, phones: readonly string[]): Promise<void> {
    return this.#append(
      `${JSON.stringify({ type: "sent", batch, phones, time: new Date().toISOString() })}\n`,
    );
  }

  /** Records that a batch recorded as sent never left (stopped while waiting to retry a throttled request). */
  unsent(batch: string, phones: readonly string[]): Promise<void> {
    return this.#append(
      `${JSON.stringify({ type: "unsent", batch, phones, time: new Date().toISOString() })}\n`,
    );
  }

  /** Records the state of each phone. */
  results(batch: string | undefined, results: readonly PhoneResult[]): Promise<void> {
    if (results.length === 0) return Promise.resolve();
    let text = "";
    for (const result of results) {
      const record: ResultRecord = { type: "result", phone: result.phoneId, state: result.state };
      if (batch !== undefined) record.batch = batch;
      if (result.jobId) record.jobId = result.jobId;
      if (result.requestId) record.requestId = result.requestId;
      if (result.errorCode) record.errorCode = result.errorCode;
      if (result.errorMessage) record.errorMessage = result.errorMessage;
      if (result.bucketName) record.bucket = result.bucketName;
      if (result.objectPath) record.objectPath = result.objectPath;
      text += `${JSON.stringify(record)}\n`;
    }
    return this.#append(text);
  }

  /**
   * Records verifications of phones' archives and keeps each as the phone's last verification in
   * the index. The run state of a phone is not changed by it.
   */
  verified(verifications: ReadonlyArray<{ phoneId: string } & JournalVerification>): Promise<void> {
    if (verifications.length === 0) return Promise.resolve();
    let text = "";
    for (const { phoneId, ...verification } of verifications) {
      const record: VerifyRecord = { type: "verify", phone: phoneId, ...verification };
      text += `${JSON.stringify(record)}\n`;
      const entry = this.index.get(phoneId);
      if (entry) entry.verification = verification;
    }
    return this.#append(text);
  }

  /**
   * Appends and syncs. Appends that arrive while a sync is under way are written together with
   * one more sync (group commit); each caller resolves only once its own text is on disk.
   */
  #append(text: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ text, resolve, reject });
      if (!this.#flushing) this.#flushing = this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      try {
        await this.#handle.appendFile(
          group.length === 1 ? group[0]!.text : group.map((entry) => entry.text).join(""),
          "utf8",
        );
        await this.#handle.datasync();
        for (const entry of group) entry.resolve();
      } catch (error) {
        for (const entry of group) entry.reject(error);
      }
    }
    this.#flushing = undefined;
  }

  /** Waits for pending writes, closes the file and releases the lock. */
  async close(): Promise<void> {
    try {
      while (this.#flushing) await this.#flushing;
      await this.#handle.close();
    } finally {
      await this.#lock.release();
    }
  }
}
