import type { PhoneResult } from "@cph-export/http-client";
import { EXIT } from "../exit-codes.js";
import type { Context } from "../io.js";
import type { ObsFactory, ObsSettings } from "../obs.js";
import { defaultObsFactory } from "../obs.js";
import {
  tallyVerification,
  type VerifyTarget,
  verificationRecords,
  verifyTargets,
} from "../verify-archives.js";

const MAX_LISTED = 5;

/**
 * `export --wait --verify`: the archives of the phones whose jobs succeeded, collected while the
 * run's results stream by; then looked for in OBS in one go (see `proveArchives`).
 */
export class ArchiveProof {
  readonly #targets: VerifyTarget[] = [];
  readonly #runStarted: Date;

  constructor(runStarted: Date) {
    this.#runStarted = runStarted;
  }

  /** Notes a result: only succeeded phones with a location have an archive to prove. */
  add(result: PhoneResult): void {
    if (result.state !== "succeeded" || !result.bucketName || !result.objectPath) return;
    const target: VerifyTarget = {
      phoneId: result.phoneId,
      runState: result.state,
      bucket: result.bucketName,
      key: result.objectPath,
    };
    if (result.jobId) target.jobId = result.jobId;
    // A phone exported now must have an archive written during this run; one resumed from the
    // journal was exported by an earlier run, whose start this run does not know.
    if (!result.fromJournal) target.notBefore = this.#runStarted;
    this.#targets.push(target);
  }

  get size(): number {
    return this.#targets.length;
  }

  /**
   * Looks for every noted archive (prefix listings where they are cheaper than HEADs), records the
   * verdicts in the journal when there is one, prints a summary and the first missing or stale
   * phones, and returns the exit code of the proof: 0 all verified, 1 any missing or stale.
   */
  async prove(
    settings: ObsSettings,
    context: Context,
    options: { journal?: string | undefined; projectId: string; clockSkewMs?: number | undefined },
    factory: ObsFactory = defaultObsFactory,
  ): Promise<number> {
    if (this.#targets.length === 0) {
      context.err.write("verify: no phone succeeded, so there is no archive to look for.\n");
      return EXIT.ok;
    }
    const lookup = await factory(settings);
    let rows: Awaited<ReturnType<typeof verifyTargets>>;
    try {
      rows = await verifyTargets(this.#targets, lookup, new Map(), {
        clockSkewMs: options.clockSkewMs,
        now: context.now,
        signal: context.io.signal,
      });
    } finally {
      lookup.destroy();
    }
    if (options.journal) {
      const { Journal } = await import("@cph-export/http-client");
      const journal = await Journal.open(options.journal, {
        projectId: options.projectId,
        onNote: (note) => context.err.write(`note: ${note}\n`),
      });
      try {
        await journal.verified(verificationRecords(rows));
      } finally {
        await journal.close();
      }
    }
    const tally = tallyVerification(rows);
    context.err.write(
      `verify: ${rows.length} archives: ${tally.verified} verified, ${tally.missing} missing, ${tally.stale} stale\n`,
    );
    const unproven = rows.filter((row) => row.verification !== "verified");
    for (const row of unproven.slice(0, MAX_LISTED))
      context.err.write(`  ${row.verification} ${row.phone_id}: ${row.note ?? ""}\n`);
    if (unproven.length > MAX_LISTED)
      context.err.write(
        `  ... and ${unproven.length - MAX_LISTED} more; "cph-export verify --journal FILE --report FILE.csv" lists them all\n`,
      );
    return unproven.length > 0 ? EXIT.failed : EXIT.ok;
  }
}
