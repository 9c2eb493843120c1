import {
  DEFAULT_EXPORTABLE_STATUSES,
  resolveEndpoint,
  StorageInfoBatcher,
  type StorageInfo,
  buildBatchExportRequest,
} from "@cph-export/core";
import type { CphClient } from "@cph-export/http-client";
import { type ClientFactory, openClient } from "../client.js";
import { type ResolvedConfig, requireTarget, resolveConfig } from "../config.js";
import { usageError } from "../errors.js";
import { checkFlagValues } from "../flag-values.js";
import type { Context } from "../io.js";
import { type ExportOptions, exportOptionsSchema, type OutputFormat, parseOptions } from "../options.js";
import { formatIssue, openPhones, type PhoneSource, scanPhones } from "../phones.js";
import type { RowDefaults, RowIssue } from "../rows.js";
import {
  describeSelection,
  describeStatuses,
  selectionFlagsGiven,
  selectionSource,
  selectPhones,
} from "../selection.js";
import { type ObsFactory, obsSettings } from "../obs.js";
import { parseObjectPathTemplate } from "../template.js";
import { type BatchRunSpec, checkRunFlags, preparedEntries, runBatches, type Skips } from "./batch-run.js";
import { printRequests } from "./dry-run.js";

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
    if (options.dryRun) {
      const endpoint = resolveEndpoint({ region: config.region, endpoint: config.endpoint });
      const projectId = config.projectId as string;
      const batcher = new StorageInfoBatcher({ batchSize: options.batchSize });
      return await printRequests(
        {
          operation: "export",
          items: (meta, signal) => preparedEntries<StorageInfo>(source, defaults, meta, signal, skips),
          batcher,
          build: (batch) => buildBatchExportRequest({ endpoint, projectId, storageInfos: batch }),
        },
        config,
        source,
        scan.phones,
        format,
        context,
      );
    }
    const sending = client;
    client = undefined;
    const spec: BatchRunSpec<StorageInfo> = {
      operation: "export",
      items: (meta, signal) => preparedEntries<StorageInfo>(source, defaults, meta, signal, skips),
      start: (running, items, runOptions) => running.exportMany(items, runOptions),
    };
    return await runBatches(
      spec,
      options,
      config,
      source,
      defaults,
      scan.phones,
      format,
      context,
      dependencies,
      obs,
      {
        client: sending,
        skips,
      },
    );
  } finally {
    await source.close();
    await client?.close().catch(() => {});
  }
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
  checkRunFlags(options, "export");
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
}
