import {
  DEFAULT_EXPORTABLE_STATUSES,
  formatMaxErrors,
  type HttpRequest,
  isTransientErrorCode,
  redactHeaders,
  resolveEndpoint,
  signRequest,
  StorageInfoBatcher,
  type StorageInfo,
  utf8Text,
  buildBatchExportRequest,
} from "@cph-export/core";
import type { CphClient, ExportProgress, PhoneResult, SkippedPhone } from "@cph-export/http-client";
import { type ClientFactory, openClient, userAgent } from "../client.js";
import { colorEnabled, type ResolvedConfig, requireTarget, resolveConfig } from "../config.js";
import { formatDuration } from "../duration.js";
import { CliError, isAbortError, isAuthErrorCode, usageError } from "../errors.js";
import { EXIT, worstExit } from "../exit-codes.js";
import { checkFlagValues } from "../flag-values.js";
import { type Context, terminalWidth } from "../io.js";
import { type ExportOptions, exportOptionsSchema, type OutputFormat, parseOptions } from "../options.js";
import { type ProgressSnapshot, ProgressDisplay } from "../output/progress.js";
import { type PhoneRow, phoneColumns, ResultWriter } from "../output/results.js";
import { formatIssue, openPhones, type PhoneSource, type SourceRecord, scanPhones } from "../phones.js";
import { type RowDefaults, type RowIssue, RowPreparer } from "../rows.js";
import {
  describeSelection,
  describeStatuses,
  selectionFlagsGiven,
  selectionSource,
  selectPhones,
} from "../selection.js";
import { type ObsFactory, type ObsSettings, obsSettings } from "../obs.js";
import { parseObjectPathTemplate } from "../template.js";
import { ArchiveProof } from "./export-proof.js";

/** Issues `export` prints before refusing an invalid input; `validate` prints them all. */
const MAX_PRINTED_ISSUES = 20;

export interface ExportDependencies {
  createClient?: ClientFactory | undefined;
  /** The OBS reader of `--verify`. */
  createObsReader?: ObsFactory | undefined;
}

/** `cph-export export`: validate every phone, then send them (or print the requests with --dry-run). */
export async function exportCommand(
  raw: unknown,
  context: Context,
  dependencies: ExportDependencies = {},
): Promise<number> {
  const options = parseOptions(exportOptionsSchema, raw, "export");
  checkCombinations(options);
  const template = options.objectPath !== undefined ? parseObjectPathTemplate(options.objectPath) : undefined;
  checkFlagValues(options);

  const config = await resolveConfig(options, context.io.env);
  context.out.addSecrets(config.secrets);
  context.err.addSecrets(config.secrets);
  for (const warning of config.warnings) context.err.write(`warning: ${warning}\n`);
  const selecting = selectionFlagsGiven(options).length > 0;
  // A selection is listed from the API, even for a dry run.
  requireTarget(config, { credentials: !options.dryRun || selecting });
  // Said before anything is sent: a run that cannot read OBS cannot prove its archives.
  const obs = options.verify && !options.dryRun ? obsSettings(config, options, context.io.env) : undefined;

  const started = context.now();
  const defaults: RowDefaults = {
    bucket: options.bucket,
    include: options.include,
    exclude: options.exclude,
    template,
    date: started,
  };
  const format: OutputFormat = options.output ?? (context.io.stdoutIsTTY ? "table" : "json");
  let client: CphClient | undefined;
  let skips: Skips | undefined;
  let source: PhoneSource;
  if (selecting) {
    const opened = await openSelection(options, config, context, dependencies);
    ({ client, skips, source } = opened);
  } else {
    source = await openPhones(options, context.io);
  }
  try {
    // First pass: the whole input is validated before anything is sent.
    const printed: RowIssue[] = [];
    const scan = await scanPhones(
      source,
      defaults,
      (issue) => {
        if (printed.length < MAX_PRINTED_ISSUES) {
          printed.push(issue);
          context.err.write(`${formatIssue(issue, source)}\n`);
        }
      },
      context.io.signal,
    );
    const omitted = scan.errors + scan.warnings - printed.length;
    if (omitted > 0) context.err.write(`... and ${omitted} more issues\n`);
    if (scan.errors > 0) {
      const validate =
        source.kind !== "file"
          ? ""
          : ` Run "cph-export validate --input ${source.name === "stdin" ? "-" : source.name}" for the full list.`;
      throw usageError(
        `${source.name} has ${scan.errors} ${scan.errors === 1 ? "error" : "errors"} in ${scan.phones} ${scan.phones === 1 ? "phone" : "phones"}; nothing was sent.${validate}`,
      );
    }
    if (scan.phones === 0) throw usageError(`${source.name} holds no phones; nothing to export.`);
    const sendable = scan.phones - scan.skipped;
    if (template && !template.distinct && sendable > 1) {
      throw usageError(
        `--object-path "${template.source}" has no {phone_id} or {index}, so all ${sendable} phones would overwrite one object; add {phone_id}.`,
      );
    }
    if (options.dryRun)
      return await dryRun(options, config, source, defaults, scan.phones, format, context, skips);
    const sending = client;
    client = undefined;
    return await send(options, config, source, defaults, scan.phones, format, context, dependencies, obs, {
      client: sending,
      skips,
    });
  } finally {
    await source.close();
    await client?.close().catch(() => {});
  }
}

/** How the phones of a selection that are not sent reach `exportMany`: as `SkippedPhone`s. */
interface Skips {
  /** `not_exportable`. */
  code: string;
  make(init: ConstructorParameters<typeof SkippedPhone>[0]): SkippedPhone;
}

/** `--all`, or `--server-id s1 --status running`: the selection as the messages name it. */
function selectionName(options: ExportOptions): string {
  const parts: string[] = [];
  if (options.all) parts.push("--all");
  if (options.serverId !== undefined) parts.push(`--server-id ${options.serverId}`);
  if (options.name !== undefined) parts.push(`--name ${JSON.stringify(options.name)}`);
  if (options.status.length > 0)
    parts.push(`--status ${describeStatuses(options.status).replaceAll(" or ", ",")}`);
  if (options.type !== undefined) parts.push(`--type ${options.type}`);
  return parts.join(" ");
}

/** Lists the selected phones (every page, once) and makes them the run's source. */
async function openSelection(
  options: ExportOptions,
  config: ResolvedConfig,
  context: Context,
  dependencies: ExportDependencies,
): Promise<{ client: CphClient; skips: Skips; source: PhoneSource }> {
  const http = await import("@cph-export/http-client");
  const skips: Skips = {
    code: http.RESULT_CODES.notExportable,
    make: (init) => new http.SkippedPhone(init),
  };
  const client = await openClient(config, context, {
    retries: options.retries,
    factory: dependencies.createClient,
    phonesPerRequest: options.batchSize,
  });
  try {
    const name = selectionName(options);
    const exportable = options.exportable.length > 0 ? options.exportable : DEFAULT_EXPORTABLE_STATUSES;
    const selection = await selectPhones(client, options, exportable, context.io.signal);
    const { phones } = selection;
    if (selection.withoutId > 0) {
      context.err.write(`warning: ${selection.withoutId} listed phones have no phone_id; they are left out
`);
    }
    if (phones.length === 0) throw usageError(`no phone matches ${name}; nothing to export.`);
    const summary = describeSelection(phones);
    context.err.write(`selected ${phones.length} ${phones.length === 1 ? "phone" : "phones"} with ${name}: ${summary}
`);
    if (phones.every((phone) => phone.skip !== undefined)) {
      throw usageError(
        `none of the ${phones.length} phones of ${name} is ${describeStatuses(exportable)}, so nothing would be exported (${summary}). --status chooses which phones are listed; --exportable which of them are sent.`,
      );
    }
    return { client, skips, source: selectionSource(name, selection, skips.code) };
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
}

function checkCombinations(options: ExportOptions): void {
  if (options.input !== undefined && options.phoneId.length > 0) {
    throw usageError("export: give either --input FILE or --phone-id, not both.");
  }
  const selection = selectionFlagsGiven(options);
  const listed =
    options.input !== undefined ? "--input" : options.phoneId.length > 0 ? "--phone-id" : undefined;
  if (listed && selection.length > 0) {
    throw usageError(
      `export: give either ${listed} or ${selection[0]}, not both: ${listed} names the phones, ${selection.join(" and ")} ${selection.length === 1 ? "selects" : "select"} them from the API.`,
    );
  }
  if (options.all && selection.length > 1) {
    throw usageError(
      `export: --all selects every phone of the project; leave it out to select with ${selection.slice(1).join(" and ")}.`,
    );
  }
  if (!listed && selection.length === 0) {
    throw usageError(
      "export: nothing to export; give --phone-id ID (with --include, --bucket, --object-path), --input FILE (- for stdin), or select phones from the API with --all, --server-id ID, --name TEXT or --status WORD.",
    );
  }
  if (selection.length === 0) {
    if (options.exportable.length > 0)
      throw usageError(
        "export: --exportable only applies to a selection (--all, --server-id, --name, --status).",
      );
    if (options.pageSize !== undefined)
      throw usageError(
        "export: --page-size only applies to a selection (--all, --server-id, --name, --status).",
      );
  }
  if (options.timeout !== undefined && !options.wait)
    throw usageError("export: --timeout only applies with --wait.");
  if (options.pollInterval !== undefined && !options.wait) {
    throw usageError("export: --poll-interval only applies with --wait.");
  }
  if (options.verify && !options.wait && !options.dryRun) {
    throw usageError(
      "export: --verify needs --wait: an archive is in OBS only once its job has succeeded (or run 'cph-export verify --journal FILE' later).",
    );
  }
  for (const [given, flag] of [
    [options.obsEndpoint, "--obs-endpoint"],
    [options.clockSkew, "--clock-skew"],
  ] as const) {
    if (given !== undefined && !options.verify)
      throw usageError(`export: ${flag} only applies with --verify.`);
  }
  if (options.retryUnknown && options.journal === undefined) {
    throw usageError(
      "export: --retry-unknown needs --journal FILE: only the journal knows which phones were left unknown.",
    );
  }
}

interface Meta {
  line: number;
  bucket: string;
  objectPath: string;
}

/** Second pass: the storage infos to send, in input order, recording where each came from. */
async function* storageInfos(
  source: PhoneSource,
  defaults: RowDefaults,
  meta: Meta[],
  signal: AbortSignal | undefined,
  skips: Skips | undefined,
): AsyncGenerator<StorageInfo | SkippedPhone> {
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
    yield row.info;
  }
}

function recordPhoneId(record: SourceRecord): string {
  const value = record.value as { phone_id?: unknown } | undefined;
  return typeof value?.phone_id === "string" ? value.phone_id : "";
}

async function dryRun(
  options: ExportOptions,
  config: ResolvedConfig,
  source: PhoneSource,
  defaults: RowDefaults,
  total: number,
  format: OutputFormat,
  context: Context,
  skips: Skips | undefined,
): Promise<number> {
  const endpoint = resolveEndpoint({ region: config.region, endpoint: config.endpoint });
  const projectId = config.projectId as string;
  const batcher = new StorageInfoBatcher({ batchSize: options.batchSize });
  let requests = 0;
  const emit = async (batch: StorageInfo[]) => {
    const request = await authenticate(
      buildBatchExportRequest({ endpoint, projectId, storageInfos: batch }),
      config,
      projectId,
      context.now(),
    );
    requests++;
    const headers = redactHeaders(request.headers) as Record<string, string>;
    const body = request.body ? utf8Text(request.body) : "";
    if (format === "table") {
      const lines = [
        `${request.method} ${request.url}`,
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      await context.out.writeAsync(`${lines.join("\n")}\n\n${body}\n\n`);
    } else {
      const json = JSON.stringify({ method: request.method, url: request.url, headers, body });
      if (format === "ndjson") await context.out.writeAsync(`${json}\n`);
      else await context.out.writeAsync(`${requests === 1 ? "[\n  " : ",\n  "}${json}`);
    }
  };
  const meta: Meta[] = [];
  let index = 0;
  let skipped = 0;
  for await (const item of storageInfos(source, defaults, meta, context.io.signal, skips)) {
    const where = source.where(meta[index++]?.line ?? 0);
    if (!("phone_id" in item)) {
      skipped++;
      context.err.write(`skip ${where}: ${item.errorMessage}\n`);
      continue;
    }
    if (source.kind === "api") context.err.write(`send ${where}\n`);
    const batch = batcher.add(item);
    if (batch) await emit(batch);
  }
  const rest = batcher.flush();
  if (rest) await emit(rest);
  if (format === "json") await context.out.writeAsync(requests === 0 ? "[]\n" : "\n]\n");
  if (config.credentials?.type === "password") {
    context.err.write(
      `dry run: a real run first gets an IAM token for ${config.credentials.userName}; its request is not shown.\n`,
    );
  }
  if (!config.credentials)
    context.err.write(
      "dry run: no credentials are configured, so the requests are shown unsigned; a real run needs them.\n",
    );
  const sent = total - skipped;
  const skippedText = skipped > 0 ? `; ${skipped} skipped, not exportable` : "";
  context.err.write(
    `dry run: ${sent} ${sent === 1 ? "phone" : "phones"} in ${requests} ${requests === 1 ? "request" : "requests"} to ${endpoint}${skippedText}; nothing was sent.\n`,
  );
  return EXIT.ok;
}

/**
 * Adds what a real run sends: the credentials (the caller redacts them before printing), then the
 * User-Agent, which the client adds after signing, as the official SDKs leave it unsigned.
 */
async function authenticate(
  request: HttpRequest,
  config: ResolvedConfig,
  projectId: string,
  date: Date,
): Promise<HttpRequest> {
  const credentials = config.credentials;
  let authenticated = request;
  if (credentials?.type === "aksk") {
    authenticated = await signRequest(request, {
      accessKey: credentials.accessKey,
      secretKey: credentials.secretKey,
      securityToken: credentials.securityToken,
      projectId,
      date,
    });
  } else if (credentials) {
    // Token and IAM password both send X-Auth-Token; the value is redacted anyway.
    const token = credentials.type === "token" ? credentials.token : "iam-token";
    authenticated = { ...request, headers: { ...request.headers, "X-Auth-Token": token } };
  }
  return { ...authenticated, headers: { ...authenticated.headers, "User-Agent": userAgent() } };
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

async function send(
  options: ExportOptions,
  config: ResolvedConfig,
  source: PhoneSource,
  defaults: RowDefaults,
  total: number,
  format: OutputFormat,
  context: Context,
  dependencies: ExportDependencies,
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
    label: "export",
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
    const results = client.exportMany(storageInfos(source, defaults, meta, io.signal, skips), {
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

function waitOptions(options: ExportOptions): { timeoutMs?: number; intervalMs?: number } {
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
  options: ExportOptions,
  threw: boolean,
  table: boolean,
): void {
  const parts: string[] = [];
  if (tally.succeeded > 0 || options.wait) parts.push(`${tally.succeeded} succeeded`);
  if (tally.accepted > 0 || !options.wait) parts.push(`${tally.accepted} accepted`);
  if (tally.failed > 0) parts.push(`${tally.failed} failed`);
  if (tally.rejected > 0) parts.push(`${tally.rejected} rejected`);
  if (tally.unknown > 0) parts.push(`${tally.unknown} unknown`);
  if (tally.skipped > 0) parts.push(`${tally.skipped} skipped (not exportable)`);
  const of = results < total ? `${results} of ${total}` : `${total}`;
  const resumed = tally.resumed > 0 ? ` (${tally.resumed} from the journal${table ? ", marked *" : ""})` : "";
  context.err.write(
    `export: ${of} ${total === 1 ? "phone" : "phones"} in ${formatDuration(elapsedMs)}: ${parts.join(", ")}${resumed}\n`,
  );
  for (const row of failures) {
    const why = row.error_code
      ? `${row.error_code}: ${row.error_msg ?? ""}`.trim()
      : (row.error_msg ?? "no reason given");
    context.err.write(`  ${row.state} ${row.phone_id}: ${why}\n`);
  }
  const more = tally.rejected + tally.failed + tally.unknown - failures.length;
  if (more > 0) context.err.write(`  ... and ${more} more; see the output\n`);
  if (tally.unknown > 0) {
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
