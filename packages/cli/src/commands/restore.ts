import { resolve } from "node:path";
import { createInterface } from "node:readline";
import {
  buildBatchImportRequest,
  type RestoreInfo,
  RestoreInfoBatcher,
  resolveEndpoint,
} from "@cph-export/core";
import type { ClientFactory } from "../client.js";
import { type ResolvedConfig, requireTarget, resolveConfig } from "../config.js";
import { usageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import type { Context } from "../io.js";
import { type OutputFormat, parseOptions, type RestoreOptions, restoreOptionsSchema } from "../options.js";
import { formatIssue, openPhones, type PhoneSource, scanPhones } from "../phones.js";
import {
  type ExportedPhone,
  journalSource,
  mappedSource,
  type PhoneMap,
  readPhoneMap,
} from "../restore-sources.js";
import { type RowDefaults, RowPreparer } from "../rows.js";
import { parseObjectPathTemplate } from "../template.js";
import {
  type BatchRunSpec,
  checkRunFlags,
  type Meta,
  preparedEntries,
  runBatches,
  type Skips,
} from "./batch-run.js";
import { printRequests } from "./dry-run.js";

export interface RestoreDependencies {
  createClient?: ClientFactory | undefined;
}

/** Phones named in the confirmation prompt. */
const NAMED_IN_PROMPT = 3;

/**
 * How a source's phones that are not sent reach restoreMany: as `SkippedPhone`s, made once the
 * client is loaded. Those the map leaves out (`not_in_map`) were left out on purpose and do not
 * fail the run; those the export did not archive (`not_exported`) do.
 */
async function skipsOf(): Promise<Skips> {
  const { SkippedPhone } = await import("@cph-export/http-client");
  return { code: "not_in_map", make: (init) => new SkippedPhone(init) };
}

/**
 * `cph-export restore`: put phones' data back from their archives (batch-restore). The phones come
 * from --input / --phone-id (with --bucket and --object-path as for export), or from the journal
 * of the export that wrote the archives (--from-journal), optionally onto other phones
 * (--to-phone-map). The whole input is validated first, and a restore overwrites data: it asks on
 * a terminal, and needs --yes elsewhere.
 */
export async function restoreCommand(
  raw: unknown,
  context: Context,
  dependencies: RestoreDependencies = {},
): Promise<number> {
  const options = parseOptions(restoreOptionsSchema, raw, "restore");
  checkCombinations(options, context);
  const template = options.objectPath !== undefined ? parseObjectPathTemplate(options.objectPath) : undefined;

  const config = await resolveConfig(options, context.io.env);
  context.out.addSecrets(config.secrets);
  context.err.addSecrets(config.secrets);
  for (const warning of config.warnings) context.err.write(`warning: ${warning}\n`);
  requireTarget(config, { credentials: !options.dryRun });

  const started = context.now();
  const defaults: RowDefaults = { bucket: options.bucket, template, date: started, operation: "restore" };
  const map = options.toPhoneMap ? await readPhoneMap(options.toPhoneMap, context.io.cwd) : undefined;
  const source = await openSource(options, config, defaults, map, context);
  const format: OutputFormat = options.output ?? (context.io.stdoutIsTTY ? "table" : "json");
  try {
    // First pass: every issue of every phone, before anything is sent.
    let printed = 0;
    const scan = await scanPhones(
      source,
      defaults,
      (issue) => {
        printed++;
        context.err.write(`${formatIssue(issue, source)}\n`);
      },
      context.io.signal,
    );
    if (scan.errors > 0) {
      throw usageError(
        `${source.name} has ${scan.errors} ${scan.errors === 1 ? "error" : "errors"} in ${scan.phones} ${scan.phones === 1 ? "phone" : "phones"} (all ${printed} issues above); nothing was sent.`,
      );
    }
    if (scan.phones === 0) throw usageError(`${source.name} holds no phones; nothing to restore.`);
    const sendable = scan.phones - scan.skipped;
    if (sendable === 0) {
      throw usageError(
        `${source.name}: none of its ${scan.phones} phones has an archive to restore from${map ? " onto a phone of the map" : ""}; nothing was sent.${options.fromJournal ? " An export journal knows a phone's archive once its export succeeded (--wait) or verify found it." : ""}`,
      );
    }
    const skips = scan.skipped > 0 ? await skipsOf() : undefined;
    const items = (meta: Meta[], signal: AbortSignal | undefined) =>
      preparedEntries<RestoreInfo>(source, defaults, meta, signal, skips);
    if (options.dryRun) {
      const endpoint = resolveEndpoint({ region: config.region, endpoint: config.endpoint });
      const projectId = config.projectId as string;
      return await printRequests(
        {
          operation: "restore",
          items,
          batcher: new RestoreInfoBatcher({ batchSize: options.batchSize }),
          build: (batch) => buildBatchImportRequest({ endpoint, projectId, restoreInfos: batch }),
        },
        config,
        source,
        scan.phones,
        format,
        context,
      );
    }
    if (!options.yes && !(await confirmed(context, source, defaults, sendable))) {
      context.err.write("restore: not confirmed; nothing was sent.\n");
      return EXIT.usage;
    }
    const spec: BatchRunSpec<RestoreInfo> = {
      operation: "restore",
      items,
      start: (client, entries, runOptions) => client.restoreMany(entries, runOptions),
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
      undefined,
      {
        client: undefined,
        skips,
      },
    );
  } finally {
    await source.close();
  }
}

function checkCombinations(options: RestoreOptions, context: Context): void {
  const given = [
    options.input !== undefined ? "--input" : undefined,
    options.phoneId.length > 0 ? "--phone-id" : undefined,
    options.fromJournal !== undefined ? "--from-journal" : undefined,
  ].filter((flag): flag is string => flag !== undefined);
  if (given.length === 0) {
    throw usageError(
      "restore: nothing to restore; give --from-journal EXPORT_JOURNAL (each phone from the archive its export wrote), --input FILE (- for stdin), or --phone-id ID with --bucket and --object-path.",
    );
  }
  if (given.length > 1) throw usageError(`restore: give one of ${given.join(" and ")}, not both.`);
  if (
    options.fromJournal !== undefined &&
    (options.bucket !== undefined || options.objectPath !== undefined)
  ) {
    throw usageError(
      "restore: --from-journal restores each phone from the archive its export wrote; --bucket and --object-path do not apply.",
    );
  }
  checkRunFlags(options, "restore");
  if (
    options.journal !== undefined &&
    options.fromJournal !== undefined &&
    resolve(context.io.cwd, options.journal) === resolve(context.io.cwd, options.fromJournal)
  ) {
    throw usageError(
      "restore: --journal records this restore and --from-journal is the export's journal: give them different files.",
    );
  }
}

async function openSource(
  options: RestoreOptions,
  config: ResolvedConfig,
  defaults: RowDefaults,
  map: PhoneMap | undefined,
  context: Context,
): Promise<PhoneSource> {
  if (options.fromJournal === undefined) {
    const source = await openPhones(options, context.io);
    if (!map) return source;
    const template = defaults.template;
    return mappedSource(
      source,
      map,
      template ? (phoneId, index) => template.expand({ phoneId, date: defaults.date, index }) : undefined,
    );
  }
  const { Journal } = await import("@cph-export/http-client");
  const index = await Journal.read(resolve(context.io.cwd, options.fromJournal), {
    projectId: config.projectId as string,
    operation: "export",
    onNote: (note) => context.err.write(`note: ${note}\n`),
  });
  const phones: ExportedPhone[] = [...index].map(([phoneId, entry]) => ({
    phoneId,
    state: entry.state,
    bucketName: entry.bucketName,
    objectPath: entry.objectPath,
    verification: entry.verification?.state,
  }));
  if (map) {
    const unknown = [...map.values()].filter((mapping) => !index.has(mapping.from));
    if (unknown.length > 0) {
      throw usageError(
        `--to-phone-map ${options.toPhoneMap} names ${unknown.length} ${unknown.length === 1 ? "phone" : "phones"} the export journal does not know; nothing was sent:\n  ${unknown
          .map((mapping) => `${mapping.where}: ${mapping.from}`)
          .join("\n  ")}`,
      );
    }
  }
  return journalSource(options.fromJournal, phones, map);
}

/**
 * Asks on the terminal before data is overwritten; without one (a script, a pipe) a restore needs
 * --yes, so that nothing overwrites phones unasked.
 */
async function confirmed(
  context: Context,
  source: PhoneSource,
  defaults: RowDefaults,
  phones: number,
): Promise<boolean> {
  const { io } = context;
  if (!io.stdinIsTTY || !io.stderrIsTTY) {
    throw usageError(
      `restore overwrites the data of ${phones} ${phones === 1 ? "phone" : "phones"}: pass --yes to go on (there is no terminal to ask on).`,
    );
  }
  const named: string[] = [];
  const preparer = new RowPreparer(defaults);
  for await (const record of source.records(io.signal)) {
    if (record.skip) continue;
    const info = preparer.prepare(record).info;
    if (info) named.push(`${info.phone_id} <- ${info.bucket_name}/${info.object_path}`);
    if (named.length === NAMED_IN_PROMPT) break;
  }
  const more = phones > named.length ? `\n  ... and ${phones - named.length} more` : "";
  context.err.write(
    `restore replaces the files of ${phones} ${phones === 1 ? "phone" : "phones"} under the archives' paths with the archives' contents:\n  ${named.join("\n  ")}${more}\nType "yes" to go on: `,
  );
  const lines = createInterface({ input: io.stdin, terminal: false });
  try {
    for await (const line of lines) return /^\s*y(es)?\s*$/i.test(line);
    return false;
  } finally {
    lines.close();
  }
}
