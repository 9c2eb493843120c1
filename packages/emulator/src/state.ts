import type { RestoreInfo, StorageInfo } from "@cph-export/core";
import { androidVersionOf } from "./android.js";
import { archivePath, writePhoneArchive } from "./archive.js";
import type { FaultSettings, ResolvedEmulatorConfig } from "./config.js";
import { ERROR_CODES, RESTORE_ERROR_CODES } from "./errors.js";
import { notExportableReason } from "./inventory.js";
import { PhoneFileStore } from "./phone-files.js";
import { createRandom, hashString, randomId, stableId } from "./random.js";
import { RestoreError, readPhoneArchive, restorePhoneFiles } from "./restore.js";

/** One accepted export (`GET /__emulator/ledger`) or restore (`GET /__emulator/restore-ledger`). */
export interface LedgerEntry {
  phone_id: string;
  job_id: string;
  request_id: string;
  bucket_name: string;
  object_path: string;
  /** When the job was created (ISO 8601). */
  time: string;
  outcome: "running" | "succeeded" | "failed";
  /** Present when the answer of the request that created the job was never sent (a `dropRate` fault). */
  dropped?: true;
}

/** Counters since start or the last reset, as `GET /__emulator/stats` gives them. */
export interface EmulatorStats {
  /** CPH and IAM requests received (control routes excluded). */
  requests: number;
  /** Requests answered 429 by the `throttleRps` fault. */
  throttled: number;
  /** batch-storage requests answered 503 by the `errorRate` fault. */
  errors: number;
  /** batch-storage requests whose connection was cut after their jobs were created. */
  drops: number;
  /** Phones in those requests (every storage info, with or without a job). */
  droppedPhones: number;
  /** ListCloudPhones requests received (each page is one). */
  listPhones: number;
  /** ListCloudPhoneServers requests received. */
  listServers: number;
}

export interface JobRecord {
  jobId: string;
  phoneId: string;
  serverId: string;
  requestId: string;
  projectId: string;
  begin: Date;
  end: Date | null;
  status: 1 | 2 | -1;
  errorCode: string | null;
  errorMsg: string | null;
  executeMsg: string | null;
  operation: "export" | "restore";
  /** A storage info for an export, a restore info for a restore. */
  info: StorageInfo | RestoreInfo;
  ledger: LedgerEntry;
}

/** One element of the batch-storage answer's `jobs`. */
export type PhoneJobAnswer =
  | { phone_id: string; job_id: string }
  | { phone_id: string; error_code: string; error_msg: string };

/** A sliding one-second window of accepted requests per API. */
export class Throttle {
  readonly #hits = new Map<string, number[]>();

  /** Records a request unless `limit` were already accepted in the last second; else how long to wait. */
  take(api: string, limit: number, nowMs: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    let hits = this.#hits.get(api);
    if (!hits) {
      hits = [];
      this.#hits.set(api, hits);
    }
    while (hits.length > 0 && hits[0]! <= nowMs - 1000) hits.shift();
    if (hits.length >= limit) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((hits[0]! + 1000 - nowMs) / 1000)) };
    }
    hits.push(nowMs);
    return { ok: true };
  }

  clear(): void {
    this.#hits.clear();
  }
}

/** Runs at most `max` tasks at once, the others in arrival order. */
class Limiter {
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((wake) => this.#waiting.push(wake));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

function emptyStats(): EmulatorStats {
  return { requests: 0, throttled: 0, errors: 0, drops: 0, droppedPhones: 0, listPhones: 0, listServers: 0 };
}

export interface StateOptions {
  config: ResolvedEmulatorConfig;
  dataDir: string;
  clock: () => Date;
  log: ((line: string) => void) | undefined;
}

/** The error code of the jobs failed by `faults.phoneFailRate`. */
export const PHONE_FAIL_CODE = "CPS.0010";

/** The emulator's memory: jobs, ledger, counters and faults. */
export class EmulatorState {
  readonly config: ResolvedEmulatorConfig;
  readonly throttle = new Throttle();
  stats: EmulatorStats = emptyStats();
  ledger: LedgerEntry[] = [];
  /** One entry per restore job created, in order. */
  restoreLedger: LedgerEntry[] = [];
  /** The phones' current files: what exports read and restores replace. */
  readonly files = new PhoneFileStore();
  #faults: FaultSettings;
  #random: () => number;
  #jobs = new Map<string, JobRecord>();
  #jobsByRequest = new Map<string, JobRecord[]>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #writes = new Set<Promise<void>>();
  readonly #limiter: Limiter;
  readonly #options: StateOptions;
  #closed = false;

  constructor(options: StateOptions) {
    this.#options = options;
    this.config = options.config;
    this.#faults = { ...options.config.faults };
    this.#random = createRandom(this.#faults.seed ?? 1);
    this.#limiter = new Limiter(options.config.archiveConcurrency);
  }

  get faults(): FaultSettings {
    return this.#faults;
  }

  /** Replaces the faults; a new seed restarts the generator. */
  setFaults(faults: FaultSettings): void {
    this.#faults = { ...faults };
    if (faults.seed !== undefined) this.#random = createRandom(faults.seed);
    this.throttle.clear();
  }

  /** The error code of a phone picked by `faults.phoneFailRate`: from the seed and the phone id, so every run picks the same. */
  #failingByRate(phoneId: string): string | undefined {
    const rate = this.#faults.phoneFailRate;
    if (!rate) return undefined;
    const picked = hashString(`${this.#faults.seed ?? 1}:${phoneId}`) / 4294967296 < rate;
    return picked ? PHONE_FAIL_CODE : undefined;
  }

  /** Whether an event of this probability happens now (seeded, so runs repeat). */
  chance(rate: number | undefined): boolean {
    if (!rate) return false;
    return this.#random() < rate;
  }

  /**
   * Accepts the storage infos of one validated request: missing and unavailable phones get a
   * per-phone error, the others a job and a ledger entry; the jobs end after `jobDurationMs`.
   */
  acceptExport(
    projectId: string,
    requestId: string,
    infos: readonly StorageInfo[],
    dropped: boolean,
  ): PhoneJobAnswer[] {
    return this.#accept("export", projectId, requestId, infos, dropped);
  }

  /**
   * Accepts the restore infos of one validated request, refusing phones per phone as an export
   * does; the object is read when the job runs, so a missing, corrupt or too new archive fails the
   * job rather than the request (as CPH reads it asynchronously).
   */
  acceptRestore(
    projectId: string,
    requestId: string,
    infos: readonly RestoreInfo[],
    dropped: boolean,
  ): PhoneJobAnswer[] {
    return this.#accept("restore", projectId, requestId, infos, dropped);
  }

  #accept(
    operation: "export" | "restore",
    projectId: string,
    requestId: string,
    infos: readonly (StorageInfo | RestoreInfo)[],
    dropped: boolean,
  ): PhoneJobAnswer[] {
    const { phones, inventory } = this.config;
    const now = this.#options.clock();
    const time = now.toISOString();
    const created: JobRecord[] = [];
    const answers = infos.map((info): PhoneJobAnswer => {
      if (phones.missing.has(info.phone_id)) {
        return { phone_id: info.phone_id, ...ERROR_CODES.phoneNotFound.body(info.phone_id) };
      }
      if (phones.unavailable.has(info.phone_id)) {
        return { phone_id: info.phone_id, ...ERROR_CODES.phoneUnavailable.body(info.phone_id) };
      }
      const listed = inventory.phone(info.phone_id);
      if (!listed && inventory.strict) {
        return { phone_id: info.phone_id, ...ERROR_CODES.phoneNotFound.body(info.phone_id) };
      }
      const notRunning = listed && notExportableReason(listed);
      if (notRunning) {
        return {
          phone_id: info.phone_id,
          error_code: ERROR_CODES.phoneNotRunning.code,
          error_msg: operation === "export" ? notRunning : notRunning.replace("export data", "restore data"),
        };
      }
      const jobId = randomId();
      const ledger: LedgerEntry = {
        phone_id: info.phone_id,
        job_id: jobId,
        request_id: requestId,
        bucket_name: info.bucket_name,
        object_path: info.object_path,
        time,
        outcome: "running",
      };
      if (dropped) ledger.dropped = true;
      const job: JobRecord = {
        jobId,
        phoneId: info.phone_id,
        serverId: listed?.server_id ?? stableId(`server:${info.phone_id}`),
        requestId,
        projectId,
        begin: now,
        end: null,
        status: 1,
        errorCode: null,
        errorMsg: null,
        executeMsg: null,
        operation,
        info,
        ledger,
      };
      this.#jobs.set(jobId, job);
      (operation === "export" ? this.ledger : this.restoreLedger).push(ledger);
      created.push(job);
      return { phone_id: info.phone_id, job_id: jobId };
    });
    if (created.length > 0) {
      this.#jobsByRequest.set(requestId, created);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        for (const job of created) this.#finish(job);
      }, this.config.jobDurationMs);
      // In-process users may forget close(); a pending job must not keep their process alive.
      timer.unref();
      this.#timers.add(timer);
    }
    return answers;
  }

  #finish(job: JobRecord): void {
    const failing = this.config.phones.failing.get(job.phoneId) ?? this.#failingByRate(job.phoneId);
    if (failing !== undefined) {
      this.#complete(
        job,
        -1,
        failing,
        `the ${job.operation} of phone ${job.phoneId} failed (emulated failure ${failing})`,
      );
      return;
    }
    if (job.operation === "restore") {
      this.#track(this.#limiter.run(() => this.#restore(job)));
      return;
    }
    const write = this.#limiter
      .run(async () => {
        if (this.#closed) return;
        const info = job.info as StorageInfo;
        try {
          const result = await writePhoneArchive({
            dataDir: this.#options.dataDir,
            phoneId: job.phoneId,
            include: info.include_files,
            exclude: info.exclude_files,
            bucket: info.bucket_name,
            objectPath: info.object_path,
            files: this.files,
            manifest: {
              phoneId: job.phoneId,
              androidVersion: androidVersionOf(this.config, job.phoneId),
              include: info.include_files,
              exclude: info.exclude_files ?? [],
            },
          });
          this.#complete(
            job,
            2,
            null,
            null,
            `exported ${result.members} files (${result.bytes} bytes) to ${info.bucket_name}/${info.object_path}`,
          );
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          this.#complete(
            job,
            -1,
            ERROR_CODES.archiveFailed.code,
            `the archive ${info.bucket_name}/${info.object_path} could not be written: ${reason}`,
          );
          this.#options.log?.(
            JSON.stringify({
              time: new Date().toISOString(),
              event: "archive_failed",
              job_id: job.jobId,
              phone_id: job.phoneId,
              reason,
            }),
          );
        }
      })
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  #track(write: Promise<void>): void {
    const tracked = write.finally(() => this.#writes.delete(tracked));
    this.#writes.add(tracked);
  }

  /** Runs one restore job: reads the whole archive, checks it, then replaces the phone's files. */
  async #restore(job: JobRecord): Promise<void> {
    if (this.#closed) return;
    const { bucket_name: bucket, object_path: objectPath } = job.info;
    const label = `${bucket}/${objectPath}`;
    try {
      const path = archivePath(this.#options.dataDir, bucket, objectPath);
      if (!path) throw new RestoreError("object_missing", `the object ${label} does not exist`);
      const archive = await readPhoneArchive(path, label);
      const target = androidVersionOf(this.config, job.phoneId);
      const made = archive.manifest?.androidVersion;
      if (made !== undefined && made > target) {
        throw new RestoreError(
          "android_version",
          `the archive ${label} was made on Android ${made}; phone ${job.phoneId} runs Android ${target}, and data from a newer Android version cannot be restored onto an older one`,
        );
      }
      if (this.#closed) return;
      const { removed, written } = restorePhoneFiles(this.files, job.phoneId, archive);
      this.#complete(
        job,
        2,
        null,
        null,
        `restored ${written} files (${archive.bytes} bytes) from ${label}; ${removed} files replaced`,
      );
    } catch (error) {
      const refusal = error instanceof RestoreError ? error.refusal : undefined;
      const code = refusal ? RESTORE_ERROR_CODES[refusal] : ERROR_CODES.archiveFailed.code;
      const reason = error instanceof Error ? error.message : String(error);
      this.#complete(job, -1, code, refusal ? reason : `the restore from ${label} failed: ${reason}`);
    }
  }

  #complete(
    job: JobRecord,
    status: 2 | -1,
    errorCode: string | null,
    errorMsg: string | null,
    executeMsg: string | null = null,
  ): void {
    job.status = status;
    job.end = this.#options.clock();
    job.errorCode = errorCode;
    job.errorMsg = errorMsg;
    job.executeMsg = executeMsg;
    job.ledger.outcome = status === 2 ? "succeeded" : "failed";
  }

  job(projectId: string, jobId: string): JobRecord | undefined {
    const job = this.#jobs.get(jobId);
    return job && job.projectId === projectId ? job : undefined;
  }

  /** The jobs of these requests, in the order of the ids, then of creation. */
  jobsOfRequests(projectId: string, requestIds: readonly string[]): JobRecord[] {
    const out: JobRecord[] = [];
    for (const requestId of new Set(requestIds)) {
      for (const job of this.#jobsByRequest.get(requestId) ?? [])
        if (job.projectId === projectId) out.push(job);
    }
    return out;
  }

  /** Forgets jobs, ledger, counters and throttling; faults go back to the config's. Tokens stay. */
  reset(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#jobs = new Map();
    this.#jobsByRequest = new Map();
    this.ledger = [];
    this.restoreLedger = [];
    this.files.reset();
    this.stats = emptyStats();
    this.throttle.clear();
    this.#faults = { ...this.config.faults };
    this.#random = createRandom(this.#faults.seed ?? 1);
  }

  /** Stops pending jobs (they stay running) and waits for the archives being written. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#writes]);
  }
}
