// Proof of archive: what a look in OBS says about the archive a job was to write. Pure.

/** The verdict on one archive: a second dimension beside a phone's run state, never instead of it. */
export type ArchiveVerdict = "verified" | "missing" | "stale";

export const ARCHIVE_VERDICTS: readonly ArchiveVerdict[] = ["verified", "missing", "stale"];

/** What OBS says about an object (a HEAD, or an entry of a listing). */
export interface ArchiveFacts {
  exists: boolean;
  size?: number | undefined;
  lastModified?: Date | undefined;
}

export interface ClassifyArchiveOptions {
  /**
   * The archive must have been written at or after this time (when the job began, or when the
   * request that started it left). Without it, the time is not checked.
   */
  notBefore?: Date | undefined;
  /**
   * How far the object's time may lag `notBefore` and still count: OBS gives times to the second
   * and its clock is not the one `notBefore` was read from. Default 60 s.
   */
  clockSkewMs?: number | undefined;
}

export const DEFAULT_CLOCK_SKEW_MS = 60_000;

/**
 * `verified`: the object exists, is not empty, and was written after `notBefore` (less the clock
 * skew); `missing`: there is no object; `stale`: there is one, but empty or older than the job, so
 * it is not proof that this job wrote it.
 */
export function classifyArchive(facts: ArchiveFacts, options: ClassifyArchiveOptions = {}): ArchiveVerdict {
  if (!facts.exists) return "missing";
  if (facts.size === undefined || !(facts.size > 0)) return "stale";
  const { notBefore } = options;
  if (notBefore === undefined) return "verified";
  const modified = facts.lastModified?.getTime();
  if (modified === undefined || Number.isNaN(modified)) return "stale";
  const skew = Math.max(0, options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS);
  return modified >= notBefore.getTime() - skew ? "verified" : "stale";
}

/** Why a verdict is what it is, in one clause for a report (`missing: no object at b/k`). */
export function describeVerdict(
  verdict: ArchiveVerdict,
  where: { bucket: string; key: string },
  facts: ArchiveFacts,
  options: ClassifyArchiveOptions = {},
): string {
  const at = `${where.bucket}/${where.key}`;
  switch (verdict) {
    case "missing":
      return `no object at ${at}`;
    case "verified":
      return `${at}: ${facts.size} bytes${facts.lastModified ? `, written ${facts.lastModified.toISOString()}` : ""}`;
    case "stale":
      if (!(facts.size !== undefined && facts.size > 0)) return `${at} is empty`;
      return `${at} was written ${facts.lastModified?.toISOString() ?? "at an unknown time"}, before the job began (${options.notBefore?.toISOString()})`;
  }
}
