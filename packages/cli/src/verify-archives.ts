import { type ArchiveVerdict, classifyArchive, describeVerdict, type Job, jobState } from "@cph-export/core";
import type { CphClient } from "@cph-export/http-client";

// Proof of archive: for each phone of a run, look for its archive in OBS (and, for phones whose
// jobs may still run or whose answer was lost, at their jobs first), and say what was found.

/** What OBS says about one object (the shape of `@cph-export/obs`'s `ArchiveHead`). */
export interface ArchiveHead {
  exists: boolean;
  size?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
}

/** The part of `@cph-export/obs`'s reader verification needs. */
export interface ArchiveLookup {
  findArchives(
    wanted: Iterable<{ bucket: string; key: string }>,
    options?: { signal?: AbortSignal },
  ): Promise<Map<string, ArchiveHead>>;
  destroy(): void;
}

/** A phone to verify: where its archive should be and what its run said about it. */
export interface VerifyTarget {
  phoneId: string;
  /** The phone's run state in the journal (`sent`: a request left without its answer recorded). */
  runState?: string | undefined;
  jobId?: string | undefined;
  requestId?: string | undefined;
  errorCode?: string | undefined;
  bucket?: string | undefined;
  key?: string | undefined;
  /** The archive must be written after this (the request left then); the job's begin time wins. */
  notBefore?: Date | undefined;
  /** When the phone's last request left (the journal's `sent` record). */
  sentAt?: Date | undefined;
}

/**
 * `verified`, `missing`, `stale` as core's verdict; `running`: the phone's job has not finished,
 * so there is nothing to prove yet; `not_exported`: the run did not send it (rejected);
 * `no_location`: neither the journal nor the input says where its archive is; `pending`: the
 * answer was lost before CPH's request id was known, so no job can be seen, and the archive is not
 * there yet: its job may still be writing it until `settleMs` after the request left.
 */
export type VerifyOutcome = ArchiveVerdict | "running" | "pending" | "not_exported" | "no_location";

/** One row of `verify` output and of its report. Keys follow the API's snake_case. */
export interface VerifyRow {
  phone_id: string;
  verification: VerifyOutcome;
  run_state?: string | undefined;
  job_id?: string | undefined;
  bucket?: string | undefined;
  key?: string | undefined;
  size?: number | undefined;
  etag?: string | undefined;
  last_modified?: string | undefined;
  verified_at: string;
  /** A phone whose outcome was unknown and whose archive is not there: sending it again is safe. */
  safe_to_resend?: boolean | undefined;
  note?: string | undefined;
}

export interface VerifyOptions {
  clockSkewMs?: number | undefined;
  /**
   * How long after its request left an unknown phone with no visible job may still get its
   * archive (default `DEFAULT_SETTLE_MS`): until then, no archive means `pending`, not missing.
   */
  settleMs?: number | undefined;
  now: () => Date;
  signal?: AbortSignal | undefined;
}

const UNKNOWN_STATES = new Set(["unknown", "sent"]);
const ENDED = new Set(["succeeded", "failed"]);
/** An hour: no export job of a phone's `/data` is expected to run longer. */
export const DEFAULT_SETTLE_MS = 60 * 60 * 1000;
/** ListJobs takes at most 20 request ids a call. */
const REQUEST_IDS_PER_CALL = 20;
const JOBS_PAGE = 100;

/** A job's `begin_time` (`YYYY-MM-DDTHH:MM:SSZ`), or undefined when absent or unreadable. */
function beginTime(job: Job | undefined): Date | undefined {
  if (!job?.begin_time) return undefined;
  const time = new Date(job.begin_time);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/**
 * The jobs of these requests, by phone id (the last one listed wins), with ListJobs (20 request
 * ids a call, every page). The phones whose answer was lost are looked up this way before anything
 * is said about them: a job still running is not a missing archive.
 */
export async function jobsByPhone(
  client: Pick<CphClient, "listJobs">,
  requestIds: Iterable<string>,
  signal?: AbortSignal,
): Promise<Map<string, Job>> {
  const ids = [...new Set(requestIds)];
  const jobs = new Map<string, Job>();
  for (let start = 0; start < ids.length; start += REQUEST_IDS_PER_CALL) {
    const group = ids.slice(start, start + REQUEST_IDS_PER_CALL);
    for (let offset = 0; ; offset += JOBS_PAGE) {
      const page = await client.listJobs({ requestIds: group, offset, limit: JOBS_PAGE }, { signal });
      const listed = page.jobs ?? [];
      for (const job of listed) {
        if (!job.phone_id) continue;
        // By request and phone (what a target asks for), and by phone: a running job wins there.
        if (job.request_id) jobs.set(`${job.request_id}/${job.phone_id}`, job);
        const known = jobs.get(job.phone_id);
        if (!known || jobState(known.status) !== "running") jobs.set(job.phone_id, job);
      }
      if (listed.length < JOBS_PAGE) break;
    }
  }
  return jobs;
}

const whereKey = (bucket: string, key: string) => `${bucket}/${key}`;

/**
 * Verifies every target, in order, with one `findArchives` for all the archives (the reader picks
 * prefix listings or HEADs). `jobs`: what ListJobs said about the phones' requests, if looked up.
 */
export async function verifyTargets(
  targets: readonly VerifyTarget[],
  lookup: ArchiveLookup,
  jobs: ReadonlyMap<string, Job>,
  options: VerifyOptions,
): Promise<VerifyRow[]> {
  // The job of the phone's own (last) request, when ListJobs gave it; else any job listed for it.
  const jobOf = (target: VerifyTarget) =>
    (target.requestId ? jobs.get(`${target.requestId}/${target.phoneId}`) : undefined) ??
    jobs.get(target.phoneId);
  // Only a job seen to end (succeeded, failed) lets its archive be judged; any other status
  // (running, or one CPH does not document) may still write it.
  const unended = (job: Job | undefined) => job !== undefined && !ENDED.has(jobState(job.status));
  const wanted: Array<{ bucket: string; key: string }> = [];
  for (const target of targets) {
    if (target.runState === "rejected" || !target.bucket || !target.key) continue;
    if (unended(jobOf(target))) continue;
    wanted.push({ bucket: target.bucket, key: target.key });
  }
  const found =
    wanted.length > 0
      ? await lookup.findArchives(wanted, options.signal ? { signal: options.signal } : {})
      : new Map<string, ArchiveHead>();
  const verifiedAt = options.now().toISOString();
  return targets.map((target) => {
    const base: VerifyRow = { phone_id: target.phoneId, verification: "missing", verified_at: verifiedAt };
    if (target.runState !== undefined) base.run_state = target.runState;
    const job = jobOf(target);
    const jobId = target.jobId ?? job?.job_id;
    if (jobId) base.job_id = jobId;
    if (target.bucket) base.bucket = target.bucket;
    if (target.key) base.key = target.key;
    if (target.runState === "rejected") {
      return {
        ...base,
        verification: "not_exported",
        note: `the run did not send it${target.errorCode ? ` (${target.errorCode})` : ""}; export it again`,
      };
    }
    if (!target.bucket || !target.key) {
      return {
        ...base,
        verification: "no_location",
        note: "the journal does not say where its archive is (an older journal); pass the run's --input",
      };
    }
    const state = jobState(job?.status);
    if (unended(job)) {
      return {
        ...base,
        verification: "running",
        note: `job ${job?.job_id ?? ""} has not ended (status ${String(job?.status)}); verify again later`,
      };
    }
    const head = found.get(whereKey(target.bucket, target.key)) ?? { exists: false };
    const notBefore = beginTime(job) ?? target.notBefore;
    const classify = { notBefore, clockSkewMs: options.clockSkewMs };
    const verdict = classifyArchive(head, classify);
    const row: VerifyRow = { ...base, verification: verdict };
    if (head.exists) {
      if (head.size !== undefined) row.size = head.size;
      if (head.etag) row.etag = head.etag;
      if (head.lastModified) row.last_modified = head.lastModified.toISOString();
    }
    const unknown = UNKNOWN_STATES.has(target.runState ?? "");
    const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    if (verdict !== "verified" && unknown && !job && (target.sentAt || settleMs > 0)) {
      // No job to ask (the answer that named the request was lost): one may still be writing.
      // Without a send time, only --settle 0s says that none can be.
      const settled = new Date((target.sentAt?.getTime() ?? options.now().getTime()) + settleMs);
      if (!target.sentAt || options.now().getTime() < settled.getTime()) {
        return {
          ...row,
          verification: "pending",
          note: `outcome was unknown and no job can be seen (the answer was lost); ${describeVerdict(verdict, { bucket: target.bucket, key: target.key }, head, classify)}, but a job may still write it: verify again after ${settled.toISOString()} (--settle)`,
        };
      }
    }
    if (verdict === "verified") {
      row.note = unknown
        ? "outcome was unknown: the archive is there, written after the request left; no need to resend"
        : describeVerdict(verdict, { bucket: target.bucket, key: target.key }, head, classify);
      return row;
    }
    const why = describeVerdict(verdict, { bucket: target.bucket, key: target.key }, head, classify);
    if (unknown) {
      row.safe_to_resend = true;
      row.note = `outcome was unknown and ${why}${state === "failed" ? ` (job failed: ${job?.error_code ?? ""})` : ""}; safe to resend (--resend-missing)`;
    } else if (state === "failed" || target.runState === "failed") {
      row.note = `${why}; the job failed${job?.error_code ? ` (${job.error_code})` : target.errorCode ? ` (${target.errorCode})` : ""}`;
    } else {
      row.note = why;
    }
    return row;
  });
}

/**
 * The journal's verify records of these rows: one for each phone whose archive was looked at
 * (verified, missing or stale), none for the others (running, pending, not exported, no location).
 */
export function verificationRecords(rows: readonly VerifyRow[]): Array<{
  phoneId: string;
  state: ArchiveVerdict;
  bucket: string;
  key: string;
  size?: number | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
  time: string;
}> {
  return rows.flatMap((row) =>
    (row.verification === "verified" || row.verification === "missing" || row.verification === "stale") &&
    row.bucket &&
    row.key
      ? [
          {
            phoneId: row.phone_id,
            state: row.verification,
            bucket: row.bucket,
            key: row.key,
            size: row.size,
            etag: row.etag,
            lastModified: row.last_modified,
            time: row.verified_at,
          },
        ]
      : [],
  );
}

/** Counts of a verification, for the summary line and the exit code. */
export function tallyVerification(
  rows: readonly VerifyRow[],
): Record<VerifyOutcome, number> & { resendable: number } {
  const tally = {
    verified: 0,
    missing: 0,
    stale: 0,
    running: 0,
    pending: 0,
    not_exported: 0,
    no_location: 0,
    resendable: 0,
  };
  for (const row of rows) {
    tally[row.verification]++;
    if (row.safe_to_resend) tally.resendable++;
  }
  return tally;
}

/** The report's columns, in order (`--report FILE.csv`). */
export const REPORT_COLUMNS = [
  "phone_id",
  "job_id",
  "run_state",
  "verification",
  "bucket",
  "key",
  "size",
  "etag",
  "last_modified",
  "verified_at",
  "safe_to_resend",
  "note",
] as const satisfies ReadonlyArray<keyof VerifyRow>;

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = String(value);
  // Quote what a CSV reader would split on; neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The report as CSV (a header, then one row a phone) or as a JSON array. */
export function renderReport(rows: readonly VerifyRow[], format: "csv" | "json"): string {
  if (format === "json") {
    return `${JSON.stringify(
      rows.map((row) => Object.fromEntries(REPORT_COLUMNS.map((column) => [column, row[column] ?? null]))),
      null,
      2,
    )}\n`;
  }
  const lines = [REPORT_COLUMNS.join(",")];
  for (const row of rows) lines.push(REPORT_COLUMNS.map((column) => csvCell(row[column])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
