import { writeFile } from "node:fs/promises";
import { extname } from "node:path";
import type { Job, StorageInfo } from "@cph-export/core";
import type { CphClient, Journal, JournalEntry, PhoneResult } from "@cph-export/http-client";
import { type ClientFactory, openClient } from "../client.js";
import { colorEnabled, requireTarget, resolveConfig } from "../config.js";
import { CliError, usageError } from "../errors.js";
import { EXIT, worstExit } from "../exit-codes.js";
import { type Context, terminalWidth } from "../io.js";
import { defaultObsFactory, type ObsFactory, obsSettings } from "../obs.js";
import { parseOptions, type VerifyOptions, verifyOptionsSchema } from "../options.js";
import { ResultWriter } from "../output/results.js";
import { type Column, paint } from "../output/table.js";
import { formatIssue, openPhones } from "../phones.js";
import { type RowDefaults, RowPreparer } from "../rows.js";
import { parseObjectPathTemplate } from "../template.js";
import {
  jobsByPhone,
  renderReport,
  tallyVerification,
  verificationRecords,
  type VerifyRow,
  type VerifyTarget,
  verifyTargets,
} from "../verify-archives.js";

export interface VerifyDependencies {
  createClient?: ClientFactory | undefined;
  createObsReader?: ObsFactory | undefined;
}

const MAX_PRINTED_ISSUES = 20;

const OUTCOME_COLORS = {
  verified: "green",
  missing: "red",
  stale: "red",
  not_exported: "red",
  no_location: "yellow",
  running: "cyan",
  pending: "cyan",
} as const;

function columns(color: boolean): Column<VerifyRow>[] {
  return [
    { header: "PHONE", value: (row) => row.phone_id },
    {
      header: "VERIFICATION",
      value: (row) => row.verification,
      ...(color
        ? { style: (text: string, row: VerifyRow) => paint(text, OUTCOME_COLORS[row.verification]) }
        : {}),
    },
    { header: "RUN", value: (row) => row.run_state },
    {
      header: "OBJECT",
      value: (row) => (row.bucket ? `${row.bucket}/${row.key ?? ""}` : undefined),
      shrink: "start",
    },
    { header: "SIZE", value: (row) => (row.size === undefined ? undefined : String(row.size)) },
    { header: "NOTE", value: (row) => row.note, maxWidth: 60, shrink: "end" },
  ];
}

/** The states whose request left: their archive is looked for. */
const SENT_STATES = new Set(["accepted", "succeeded", "failed", "unknown", "sent"]);

/**
 * `cph-export verify`: for every phone of a journal (or an input), look for its archive in OBS and
 * say `verified`, `missing` or `stale`; phones the journal holds as `unknown` are looked up (their
 * jobs, their archives) before anything is said, and are resent only with `--resend-missing`.
 */
export async function verifyCommand(
  raw: unknown,
  context: Context,
  dependencies: VerifyDependencies = {},
): Promise<number> {
  const options = parseOptions(verifyOptionsSchema, raw, "verify");
  const fromInput = options.input !== undefined || options.phoneId.length > 0;
  if (!options.journal && !fromInput) {
    throw usageError(
      "verify needs --journal FILE (the export's journal), or --input FILE / --phone-id with --bucket and --object-path.",
    );
  }
  if (options.input !== undefined && options.phoneId.length > 0)
    throw usageError("give --input or --phone-id, not both");
  if (options.resendMissing && !options.journal)
    throw usageError(
      "--resend-missing needs the export's --journal: only the phones it left unknown are resent.",
    );
  const reportFormat = options.report === undefined ? undefined : reportFormatOf(options.report);

  const config = await resolveConfig(options, context.io.env);
  context.out.addSecrets(config.secrets);
  context.err.addSecrets(config.secrets);
  for (const warning of config.warnings) context.err.write(`warning: ${warning}\n`);
  requireTarget(config, { credentials: true });
  const settings = obsSettings(config, options, context.io.env);

  const started = context.now();
  const defaults: RowDefaults = {
    bucket: options.bucket,
    include: options.include,
    exclude: options.exclude,
    template: options.objectPath !== undefined ? parseObjectPathTemplate(options.objectPath) : undefined,
    date: started,
  };
  const fromRows = fromInput ? await readLocations(options, defaults, context) : undefined;

  let journal: Journal | undefined;
  let client: CphClient | undefined;
  let lookup: Awaited<ReturnType<ObsFactory>> | undefined;
  let rows: VerifyRow[];
  let resend: StorageInfo[] = [];
  try {
    if (options.journal) {
      const { Journal } = await import("@cph-export/http-client");
      journal = await Journal.open(options.journal, {
        projectId: config.projectId!,
        onNote: (note) => context.err.write(`note: ${note}\n`),
      });
    }
    const targets = buildTargets(journal, fromRows, options.since);
    if (targets.length === 0)
      throw usageError(
        `${options.journal ?? options.input ?? "the input"} holds no phones; nothing to verify.`,
      );

    // Phones whose jobs may still run, or whose answer was lost, are asked about first.
    const requestIds = targets
      .filter(
        (target) =>
          target.requestId &&
          (target.runState === "accepted" || target.runState === "unknown" || target.runState === "sent"),
      )
      .map((target) => target.requestId!);
    client = await openClient(config, context, {
      retries: options.retries,
      factory: dependencies.createClient,
    });
    const jobs: Map<string, Job> =
      requestIds.length > 0 ? await jobsByPhone(client, requestIds, context.io.signal) : new Map();

    lookup = await (dependencies.createObsReader ?? defaultObsFactory)(settings);
    rows = await verifyTargets(targets, lookup, jobs, {
      clockSkewMs: options.clockSkew,
      settleMs: options.settle,
      now: context.now,
      signal: context.io.signal,
    });
    if (journal) {
      await journal.verified(verificationRecords(rows));
    }
    if (options.resendMissing) resend = resendInfos(rows, fromRows, defaults, context);
  } finally {
    lookup?.destroy();
    await journal?.close();
  }

  try {
    const writer = new ResultWriter<VerifyRow>(
      context.out,
      options.output ?? (context.io.stdoutIsTTY ? "table" : "json"),
      columns(colorEnabled(context.io.env, context.io.stdoutIsTTY)),
      { width: context.io.stdoutIsTTY ? terminalWidth(context.io) : undefined },
    );
    for (const row of rows) await writer.add(row);
    await writer.end();
    if (options.report && reportFormat) {
      try {
        await writeFile(options.report, renderReport(rows, reportFormat), "utf8");
      } catch (cause) {
        throw new CliError(
          `--report ${options.report}: cannot write it (${(cause as Error).message})`,
          EXIT.failed,
          { cause },
        );
      }
    }
    const tally = tallyVerification(rows);
    const parts = [`${tally.verified} verified`, `${tally.missing} missing`, `${tally.stale} stale`];
    if (tally.running) parts.push(`${tally.running} still running`);
    if (tally.pending) parts.push(`${tally.pending} pending (no job visible yet)`);
    if (tally.not_exported) parts.push(`${tally.not_exported} not exported`);
    if (tally.no_location) parts.push(`${tally.no_location} without a location`);
    context.err.write(`verify: ${rows.length} phones: ${parts.join(", ")}\n`);
    if (tally.resendable > 0 && !options.resendMissing) {
      context.err.write(
        `verify: ${tally.resendable} phones left unknown have no archive and are safe to resend: rerun with --resend-missing\n`,
      );
    }
    if (options.report) context.err.write(`verify: report written to ${options.report}\n`);

    let exit: number = EXIT.ok;
    const unproven = tally.missing + tally.stale + tally.not_exported + tally.no_location;
    if (unproven - (options.resendMissing ? tally.resendable : 0) > 0) exit = EXIT.failed;
    if (tally.running + tally.pending > 0) exit = worstExit(exit, EXIT.upstream);
    if (resend.length > 0) exit = worstExit(exit, await resendPhones(resend, client!, options, context));
    return exit;
  } finally {
    await client?.close().catch(() => {});
  }
}

function reportFormatOf(path: string): "csv" | "json" {
  const extension = extname(path).toLowerCase();
  if (extension === ".csv") return "csv";
  if (extension === ".json") return "json";
  throw usageError(`--report must name a .json or .csv file, not "${path}"`);
}

interface Location {
  phoneId: string;
  info: StorageInfo;
}

/** The phones of `--input` / `--phone-id`, with where their archives are; every issue listed. */
async function readLocations(
  options: VerifyOptions,
  defaults: RowDefaults,
  context: Context,
): Promise<Location[]> {
  const source = await openPhones(options, context.io);
  try {
    const preparer = new RowPreparer(defaults);
    const locations: Location[] = [];
    let errors = 0;
    for await (const record of source.records(context.io.signal)) {
      const row = preparer.prepare(record);
      for (const issue of row.issues) {
        if (issue.severity !== "error") continue;
        if (++errors <= MAX_PRINTED_ISSUES) context.err.write(`${formatIssue(issue, source)}\n`);
      }
      // An export preparer: its rows are storage infos.
      if (row.info) locations.push({ phoneId: row.info.phone_id, info: row.info as StorageInfo });
    }
    if (errors > MAX_PRINTED_ISSUES)
      context.err.write(`... and ${errors - MAX_PRINTED_ISSUES} more issues\n`);
    if (errors > 0)
      throw usageError(
        `${source.name} has ${errors} ${errors === 1 ? "error" : "errors"}; nothing was verified.`,
      );
    return locations;
  } finally {
    await source.close();
  }
}

function target(phoneId: string, entry: JournalEntry | undefined, since: Date | undefined): VerifyTarget {
  const result: VerifyTarget = { phoneId };
  if (!entry) {
    if (since) result.notBefore = since;
    return result;
  }
  result.runState = entry.state;
  if (entry.jobId) result.jobId = entry.jobId;
  if (entry.requestId) result.requestId = entry.requestId;
  if (entry.errorCode) result.errorCode = entry.errorCode;
  if (entry.bucketName) result.bucket = entry.bucketName;
  if (entry.objectPath) result.key = entry.objectPath;
  const sentAt = entry.sentAt ? new Date(entry.sentAt) : undefined;
  if (sentAt && !Number.isNaN(sentAt.getTime())) result.sentAt = sentAt;
  result.notBefore = since ?? result.sentAt;
  return result;
}

/**
 * The phones to verify: those of the input when one is given (their locations from it, their
 * states from the journal), else every phone the journal knows whose request left or was refused.
 */
function buildTargets(
  journal: Journal | undefined,
  locations: readonly Location[] | undefined,
  since: Date | undefined,
): VerifyTarget[] {
  if (locations) {
    return locations.map(({ phoneId, info }) => {
      const result = target(phoneId, journal?.index.get(phoneId), since);
      result.bucket = info.bucket_name;
      result.key = info.object_path;
      return result;
    });
  }
  const targets: VerifyTarget[] = [];
  for (const [phoneId, entry] of journal?.index ?? []) {
    if (SENT_STATES.has(entry.state) || entry.state === "rejected")
      targets.push(target(phoneId, entry, since));
  }
  return targets;
}

/**
 * The requests of the phones safe to resend: from the input when given, else rebuilt from the
 * journal's location and the `--include`/`--exclude` flags (the journal does not keep the paths).
 */
function resendInfos(
  rows: readonly VerifyRow[],
  locations: readonly Location[] | undefined,
  defaults: RowDefaults,
  context: Context,
): StorageInfo[] {
  const wanted = rows.filter((row) => row.safe_to_resend);
  if (wanted.length === 0) return [];
  if (locations) {
    const byPhone = new Map(locations.map((location) => [location.phoneId, location.info]));
    return wanted.flatMap((row) => {
      const info = byPhone.get(row.phone_id);
      return info ? [info] : [];
    });
  }
  if (!defaults.include || defaults.include.length === 0) {
    throw usageError(
      "--resend-missing needs the phones' export requests: pass the export's --input, or --include (and --exclude) for the paths; the journal keeps only where each archive goes.",
    );
  }
  const preparer = new RowPreparer({ ...defaults, template: undefined });
  const infos: StorageInfo[] = [];
  for (const [index, row] of wanted.entries()) {
    const prepared = preparer.prepare({
      line: index + 1,
      value: { phone_id: row.phone_id, bucket_name: row.bucket, object_path: row.key },
    });
    if (!prepared.info) {
      const issue = prepared.issues.find((candidate) => candidate.severity === "error");
      throw usageError(`cannot rebuild the request of phone ${row.phone_id}: ${issue?.message ?? "invalid"}`);
    }
    infos.push(prepared.info as StorageInfo);
  }
  context.err.write(`verify: resending ${infos.length} phones with the journal's bucket and object paths\n`);
  return infos;
}

/** Sends the phones safe to resend through the journal (so the resend is recorded too). */
async function resendPhones(
  infos: readonly StorageInfo[],
  client: CphClient,
  options: VerifyOptions,
  context: Context,
): Promise<number> {
  const results: PhoneResult[] = [];
  for await (const result of client.exportMany(infos, {
    journal: options.journal,
    retryUnknown: true,
    wait: options.wait,
    signal: context.io.signal,
  })) {
    results.push(result);
  }
  const count = (state: string) => results.filter((result) => result.state === state).length;
  context.err.write(
    `verify: resent ${results.length} phones: ${count("accepted")} accepted, ${count("succeeded")} succeeded, ${count("rejected")} rejected, ${count("failed")} failed, ${count("unknown")} unknown\n`,
  );
  for (const result of results) {
    if (result.state === "rejected" || result.state === "failed" || result.state === "unknown") {
      context.err.write(
        `verify: ${result.phoneId}: ${result.state}${result.errorCode ? ` ${result.errorCode}` : ""}${result.errorMessage ? `: ${result.errorMessage}` : ""}\n`,
      );
    }
  }
  // Phones the run never got to (interrupted, or stopped first) are named, not passed over.
  const answered = new Set(results.map((result) => result.phoneId));
  const unsent = infos.filter((info) => !answered.has(info.phone_id));
  for (const info of unsent)
    context.err.write(
      `verify: ${info.phone_id}: not resent (the run stopped first); rerun with --resend-missing\n`,
    );
  if (context.io.signal?.aborted) return EXIT.interrupted;
  if (count("unknown") > 0) return EXIT.upstream;
  if (count("rejected") + count("failed") + unsent.length > 0) return EXIT.failed;
  return EXIT.ok;
}
