import { formatMaxErrors, isTransientErrorCode } from "@cph-export/core";
import type {
  CphClient,
  ExportManyOptions,
  ExportProgress,
  PhoneResult,
  SkippedPhone,
} from "@cph-export/http-client";
import { type ClientFactory, openClient } from "../client.js";
import { colorEnabled, type ResolvedConfig } from "../config.js";
import { formatDuration } from "../duration.js";
import { CliError, isAbortError, isAuthErrorCode, usageError } from "../errors.js";
import { EXIT, worstExit } from "../exit-codes.js";
import { type Context, terminalWidth } from "../io.js";
import type { ObsFactory, ObsSettings } from "../obs.js";
import type { ExportOptions, OutputFormat } from "../options.js";
import { type ProgressSnapshot, ProgressDisplay } from "../output/progress.js";
import { type PhoneRow, phoneColumns, ResultWriter } from "../output/results.js";
import type { PhoneSource, SourceRecord } from "../phones.js";
import { type RowDefaults, RowPreparer } from "../rows.js";
import { ArchiveProof } from "./export-proof.js";

// The sending half of `export` and `restore`: one run of phones through the client's engine
// (exportMany or restoreMany), with the progress line, the results as they come, every phone
// reported (those never sent too), the summary and the exit code.

/** The flags of a run that `export` and `restore` share. */
export type RunOptions = Pick<
  ExportOptions,
  | "wait"
  | "timeout"
  | "pollInterval"
  | "concurrency"
  | "batchSize"
  | "journal"
  | "retryUnknown"
  | "maxErrors"
  | "rate"
  | "retries"
  | "clockSkew"
>;

/** What differs between an export run and a restore run. */
export interface BatchRunSpec<T> {
  operation: "export" | "restore";
  /** The second pass over the source: the entries to send, recording where each came from. */
  items(meta: Meta[], signal: AbortSignal | undefined): AsyncIterable<T | SkippedPhone>;
  start(
    client: CphClient,
    items: AsyncIterable<T | SkippedPhone>,
    options: ExportManyOptions,
  ): AsyncIterable<PhoneResult>;
}

export interface BatchRunDependencies {
  createClient?: ClientFactory | undefined;
  createObsReader?: ObsFactory | undefined;
}

/** How the phones of a selection that are not sent reach `exportMany`: as `SkippedPhone`s. */
export interface Skips {
  /** `not_exportable`. */
  code: string;
  make(init: ConstructorParameters<typeof SkippedPhone>[0]): SkippedPhone;
}

export interface Meta {
  line: number;
  bucket: string;
  objectPath: string;
}

/** The run flags that only make sense together: --timeout and --poll-interval with --wait, --retry-unknown with --journal. */
export function checkRunFlags(options: RunOptions, command: "export" | "restore"): void {
  if (options.timeout !== undefined && !options.wait)
    throw usageError(`${command}: --timeout only applies with --wait.`);
  if (options.pollInterval !== undefined && !options.wait)
    throw usageError(`${command}: --poll-interval only applies with --wait.`);
  if (options.retryUnknown && options.journal === undefined) {
    throw usageError(
      `${command}: --retry-unknown needs --journal FILE: only the journal knows which phones were left unknown.`,
    );
  }
}

/**
 * The second pass over a validated source: the entries to send (storage infos, or restore infos
 * when `defaults.operation` is restore: `T` follows it), in source order, recording where each came
 * from; the phones the source marks skipped as `SkippedPhone`s.
 */
export async function* preparedEntries<T>(
  source: PhoneSource,
  defaults: RowDefaults,
  meta: Meta[],
  signal: AbortSignal | undefined,
  skips: Skips | undefined,
): AsyncGenerator<T | SkippedPhone> {
  const preparer = new RowPreparer(defaults);
  for await (const record of source.records(signal)) {
    const row = preparer.prepare(record);
    if (row.index < 0) continue;
    if (record.skip && skips) {
      // Reported where it was listed, with no object: nothing is written for it.
      meta[row.index] = { line: row.line, bucket: "", objectPath: "" };
      yield skips.make({ phoneId: recordPhoneId(record), ...record.skip });
      continue;
    }
    if (!row.info) {
      throw new CliError(
        `${source.name} changed while it was being read (${source.where(row.line)} is now invalid); the phones before it may have been sent: rerun with the same --journal.`,
        EXIT.usage,
      );
    }
    meta[row.index] = { line: row.line, bucket: row.info.bucket_name, objectPath: row.info.object_path };
    yield row.info as T;
  }
}

export function recordPhoneId(record: SourceRecord): string {
  const value = record.value as { phone_id?: unknown } | undefined;
  return typeof value?.phone_id === "string" ? value.phone_id : "";
}

interface Tally {
  accepted: number;
  rejected: number;
  succeeded: number;
  failed: number;
  unknown: number;
  auth: number;
  /** Rejected because the service could not be reached or was overloaded, not for the phone itself. */
  upstream: number;
  resumed: number;
  /** Listed by a selection but not exportable (`not_exportable`): rejected, but not a failure of the run. */
  skipped: number;
  /** Not sent because the run stopped once `--max-errors` was exceeded. */
  stopped: number;
}

/** Phones refused for a reason outside the phone (not sent, throttled, unavailable): nothing wrong with the input. */
function refusedUpstream(errorCode: string): boolean {
  return errorCode === "not_sent" || isTransientErrorCode(errorCode);
}

/** Sends the phones of `source` (validated by the first pass) and reports each; the exit code. */
export async function runBatches<T>(
  spec: BatchRunSpec<T>,
  options: RunOptions,
  config: ResolvedConfig,
  source: PhoneSource,
  defaults: RowDefaults,
  total: number,
  format: OutputFormat,
  context: Context,
  dependencies: BatchRunDependencies,
  obs: ObsSettings | undefined,
  selected: { client: CphClient | undefined; skips: Skips | undefined },
): Promise<number> {
  const { io } = context;
  const skips = selected.skips;
  const client =
    selected.client ??
    (await openClient(config, context, {
      retries: options.retries,
      factory: dependencies.createClient,
      phonesPerRequest: options.batchSize,
    }));
  const meta: Meta[] = [];
  const tally: Tally = {
    accepted: 0,
    rejected: 0,
    succeeded: 0,
    failed: 0,
    unknown: 0,
    auth: 0,
    upstream: 0,
    resumed: 0,
    skipped: 0,
    stopped: 0,
  };
  const failures: PhoneRow[] = [];
  const writer = new ResultWriter<PhoneRow>(
    context.out,
    format,
    phoneColumns(colorEnabled(io.env, io.stdoutIsTTY)),
    {
      sortKey: (row) => row.line ?? Number.MAX_SAFE_INTEGER,
      width: io.stdoutIsTTY ? terminalWidth(io) : undefined,
    },
  );
  const progress = new ProgressDisplay(context.err, {
    label: spec.operation,
    tty: io.stderrIsTTY,
    columns: io.columns,
    now: () => context.now().getTime(),
  });
  let latest: ExportProgress | undefined;
  const snapshot = (): ProgressSnapshot => {
    const p = latest;
    const concurrency = p ? { limit: p.concurrency, max: options.concurrency } : undefined;
    const rejected = Math.max(tally.rejected + tally.skipped, p?.rejected ?? 0);
    const failed = Math.max(tally.failed, p?.failed ?? 0);
    const unknown = Math.max(tally.unknown, p?.unknown ?? 0);
    const accepted = Math.max(tally.accepted, p?.accepted ?? 0);
    if (!options.wait) {
      const done = Math.min(total, accepted + rejected + unknown);
      return { done, total, succeeded: 0, accepted, failed, rejected, running: 0, unknown, concurrency };
    }
    const succeeded = Math.max(tally.succeeded, p?.succeeded ?? 0);
    const done = Math.min(total, rejected + succeeded + failed + unknown);
    // While jobs are followed, the client counts as accepted the phones whose job still runs.
    const running = Math.max(0, Math.min(total - done, p?.accepted ?? 0));
    return { done, total, succeeded, failed, rejected, running, unknown, concurrency };
  };
  progress.update(snapshot());

  let thrown: unknown;
  const reported = new Set<string>();
  const proof = obs ? new ArchiveProof(defaults.date) : undefined;
  try {
    const results = spec.start(client, spec.items(meta, io.signal), {
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      journal: options.journal,
      wait: options.wait ? waitOptions(options) : false,
      retryUnknown: options.retryUnknown,
      maxErrors: options.maxErrors,
      rate: options.rate,
      signal: io.signal,
      onProgress: (value) => {
        latest = value;
        progress.update(snapshot());
      },
    });
    for await (const result of results) {
      reported.add(result.phoneId);
      const row = toRow(result, meta);
      count(tally, result, skips, latest?.stoppedReason === "max_errors");
      proof?.add(result);
      if (
        (result.state === "rejected" || result.state === "failed" || result.state === "unknown") &&
        !isSkip(result, skips) &&
        failures.length < 5
      ) {
        failures.push(row);
      }
      await writer.add(row);
      progress.update(snapshot());
    }
  } catch (error) {
    thrown = error;
  } finally {
    progress.finish();
    await client.close().catch(() => {});
  }
  const interrupted = io.signal?.aborted === true || (thrown !== undefined && isAbortError(thrown));
  let unsent = 0;
  if (thrown !== undefined || interrupted) {
    const reason = interrupted
      ? "not sent: the run was interrupted first; rerun to send it"
      : "not sent: the run stopped at the error above first; rerun to send it";
    unsent = await reportUnsent(source, defaults, reported, reason, async (row) => {
      count(tally, { phoneId: row.phone_id, state: "rejected", errorCode: row.error_code }, skips);
      await writer.add(row);
    });
  }
  await writer.end();

  const elapsed = context.now().getTime() - defaults.date.getTime();
  summarize(
    context,
    tally,
    writer.count,
    total,
    elapsed,
    failures,
    options,
    thrown !== undefined,
    format === "table",
    spec.operation,
  );
  if (writer.count < total) context.err.write(`${total - writer.count} of ${total} phones have no result.\n`);
  if (latest?.stoppedReason === "max_errors" && options.maxErrors) {
    const rerun = options.journal
      ? "rerun the same command to send them (the journal skips the phones already exported)"
      : "they are in the output; --journal FILE lets a rerun send only them";
    context.err.write(
      `stopped: max errors exceeded (--max-errors ${formatMaxErrors(options.maxErrors)}, ${latest.errors} errors); ${tally.stopped} of ${total} phones were not sent (state rejected, not_sent): ${rerun}.\n`,
    );
  }
  if (interrupted) {
    const resume = options.journal
      ? `the journal ${options.journal} is saved: rerun the same command to resume without exporting any phone twice`
      : "rerun with --journal FILE next time to be able to resume";
    const sent =
      unsent > 0
        ? `${unsent} of ${total} phones were not sent (state rejected, not_sent)`
        : `all ${total} phones have a result`;
    context.err.write(`interrupted: ${sent}; ${resume}.\n`);
    return EXIT.interrupted;
  }
  if (thrown !== undefined) {
    if (unsent > 0)
      context.err.write(`${unsent} of ${total} phones were not sent (state rejected, not_sent).\n`);
    throw thrown;
  }
  const exit = exitFor(tally);
  if (!proof || !obs) return exit;
  const proved = await proof.prove(
    obs,
    context,
    { journal: options.journal, projectId: config.projectId ?? "", clockSkewMs: options.clockSkew },
    dependencies.createObsReader,
  );
  return worstExit(exit, proved);
}

/**
 * After a run stopped early, reads the input again and reports every phone that got no result as
 * `rejected` with `not_sent`, so that each phone of a run ends in a reported state. Such phones
 * are not in the journal, so a rerun sends them.
 */
async function reportUnsent(
  source: PhoneSource,
  defaults: RowDefaults,
  reported: ReadonlySet<string>,
  reason: string,
  report: (row: PhoneRow) => Promise<void>,
): Promise<number> {
  const preparer = new RowPreparer(defaults);
  let unsent = 0;
  try {
    for await (const record of source.records(undefined)) {
      const row = preparer.prepare(record);
      if (record.skip) {
        // Never to be sent: reported with its reason, not as unsent.
        const phoneId = recordPhoneId(record);
        if (row.index < 0 || reported.has(phoneId)) continue;
        await report({
          phone_id: phoneId,
          state: "rejected",
          error_code: record.skip.errorCode,
          error_msg: record.skip.errorMessage,
          line: row.line,
        });
        continue;
      }
      if (row.index < 0 || !row.info || reported.has(row.info.phone_id)) continue;
      unsent++;
      await report({
        phone_id: row.info.phone_id,
        state: "rejected",
        error_code: "not_sent",
        error_msg: reason,
        bucket_name: row.info.bucket_name,
        object_path: row.info.object_path,
        line: row.line,
      });
    }
  } catch {
    // The input changed or vanished since the first pass: the phones left are said to have no result.
  }
  return unsent;
}

function waitOptions(options: RunOptions): { timeoutMs?: number; intervalMs?: number } {
  const wait: { timeoutMs?: number; intervalMs?: number } = {};
  if (options.timeout !== undefined) wait.timeoutMs = options.timeout;
  if (options.pollInterval !== undefined) wait.intervalMs = options.pollInterval;
  return wait;
}

function toRow(result: PhoneResult, meta: readonly Meta[]): PhoneRow {
  const known = result.index !== undefined ? meta[result.index] : undefined;
  const row: PhoneRow = { phone_id: result.phoneId, state: result.state };
  if (result.jobId) row.job_id = result.jobId;
  if (result.requestId) row.request_id = result.requestId;
  if (result.errorCode) row.error_code = result.errorCode;
  if (result.errorMessage) row.error_msg = result.errorMessage;
  const bucket = result.bucketName ?? known?.bucket;
  const objectPath = result.objectPath ?? known?.objectPath;
  if (bucket) row.bucket_name = bucket;
  if (objectPath) row.object_path = objectPath;
  if (known) row.line = known.line;
  if (result.fromJournal) row.from_journal = true;
  return row;
}

/** A phone of a selection that was not sent because of its status. */
function isSkip(result: Pick<PhoneResult, "state" | "errorCode">, skips: Skips | undefined): boolean {
  return skips !== undefined && result.state === "rejected" && result.errorCode === skips.code;
}

/** `stopped`: the run had stopped sending on max errors when the result came (its not_sent phones are no upstream failure). */
function count(tally: Tally, result: PhoneResult, skips: Skips | undefined, stopped = false): void {
  if (isSkip(result, skips)) {
    tally.skipped++;
    if (result.fromJournal) tally.resumed++;
    return;
  }
  tally[result.state]++;
  if (result.fromJournal) tally.resumed++;
  if (result.state === "rejected" && isAuthErrorCode(result.errorCode)) tally.auth++;
  if (stopped && result.state === "rejected" && result.errorCode === "not_sent") tally.stopped++;
  else if (result.state === "rejected" && result.errorCode !== undefined && refusedUpstream(result.errorCode))
    tally.upstream++;
}

/**
 * Phones a selection skipped (`not_exportable`) do not fail a run: the operator asked for the
 * fleet, and a phone that is off is reported, not an error. A selection with nothing exportable at
 * all is refused before anything is sent (exit 2).
 */
function exitFor(tally: Tally): number {
  let code: number = EXIT.ok;
  if (tally.rejected > 0 || tally.failed > 0) code = worstExit(code, EXIT.failed);
  if (tally.unknown > 0 || tally.upstream > 0) code = worstExit(code, EXIT.upstream);
  if (tally.auth > 0) code = worstExit(code, EXIT.auth);
  return code;
}

function summarize(
  context: Context,
  tally: Tally,
  results: number,
  total: number,
  elapsedMs: number,
  failures: readonly PhoneRow[],
  options: RunOptions,
  threw: boolean,
  table: boolean,
  operation: "export" | "restore",
): void {
  const parts: string[] = [];
  if (tally.succeeded > 0 || options.wait) parts.push(`${tally.succeeded} succeeded`);
  if (tally.accepted > 0 || !options.wait) parts.push(`${tally.accepted} accepted`);
  if (tally.failed > 0) parts.push(`${tally.failed} failed`);
  if (tally.rejected > 0) parts.push(`${tally.rejected} rejected`);
  if (tally.unknown > 0) parts.push(`${tally.unknown} unknown`);
  if (tally.skipped > 0)
    parts.push(`${tally.skipped} skipped (${operation === "export" ? "not exportable" : "not in the map"})`);
  const of = results < total ? `${results} of ${total}` : `${total}`;
  const resumed = tally.resumed > 0 ? ` (${tally.resumed} from the journal${table ? ", marked *" : ""})` : "";
  context.err.write(
    `${operation}: ${of} ${total === 1 ? "phone" : "phones"} in ${formatDuration(elapsedMs)}: ${parts.join(", ")}${resumed}\n`,
  );
  for (const row of failures) {
    const why = row.error_code
      ? `${row.error_code}: ${row.error_msg ?? ""}`.trim()
      : (row.error_msg ?? "no reason given");
    context.err.write(`  ${row.state} ${row.phone_id}: ${why}\n`);
  }
  const more = tally.rejected + tally.failed + tally.unknown - failures.length;
  if (more > 0) context.err.write(`  ... and ${more} more; see the output\n`);
  if (tally.unknown > 0 && operation === "restore") {
    context.err.write(
      `${tally.unknown} phones are unknown (their request may have reached CPH): look at their jobs ("cph-export jobs list --request-id ...") before restoring them again${options.journal ? "; a rerun with the same journal keeps them unknown, --retry-unknown resends them" : ""}.\n`,
    );
  } else if (tally.unknown > 0) {
    context.err.write(
      options.journal
        ? `${tally.unknown} phones are unknown (their request may have reached CPH): "cph-export verify --journal ${options.journal}" finds out by looking at their jobs and archives, and resends only the ones proven missing with --resend-missing; --retry-unknown resends every one of them without checking.\n`
        : `${tally.unknown} phones are unknown (their request may have reached CPH): check them with "cph-export jobs list --request-id ..." before exporting them again.\n`,
    );
  }
  // A thrown auth error gets its own sentence from the caller.
  if (tally.auth > 0 && !threw) {
    context.err.write(
      "authentication or permission failure: check the credentials and that they may call CPH in this project.\n",
    );
  }
}
