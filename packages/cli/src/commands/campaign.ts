// `cph-export campaign start|status|watch|cancel|phones --gateway URL`: campaigns run by a
// cph-gateway (on its replicas, with Redis); this command only starts, reads and stops them.
import { colorEnabled } from "../config.js";
import { isAbortError, usageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import {
  createGatewayClient,
  GATEWAY_KEY_ENV,
  GATEWAY_URL_ENV,
  type GatewayClient,
} from "../gateway-client.js";
import { openInput, readRecords } from "../input/source.js";
import { type Context, terminalWidth } from "../io.js";
import {
  type CampaignOptions,
  type CampaignStartOptions,
  campaignOptionsSchema,
  campaignStartOptionsSchema,
  type OutputFormat,
  parseOptions,
  splitIds,
} from "../options.js";
import { ProgressDisplay, type ProgressSnapshot } from "../output/progress.js";
import { ResultWriter } from "../output/results.js";
import { type Color, type Column, paint } from "../output/table.js";

/** What the gateway answers for a campaign (the fields this command reads). */
export interface CampaignView {
  campaign_id: string;
  name?: string;
  caller: string;
  status: "running" | "completed" | "cancelled" | "stopped";
  stop_reason?: string;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  total: number;
  counts: Record<"pending" | "sent" | "accepted" | "succeeded" | "failed" | "rejected" | "unknown", number>;
  errors: number;
  bucket_name: string;
  object_path: string;
}

interface CampaignPhone {
  phone_id: string;
  index: number;
  state: string;
  job_id?: string;
  request_id?: string;
  error_code?: string;
  error_msg?: string;
  bucket_name: string;
  object_path: string;
}

const CAMPAIGN_ID = /^c-[0-9a-f]{32}$/;

function gatewayOf(options: { gateway?: string | undefined }, context: Context): GatewayClient {
  const apiKey = context.io.env[GATEWAY_KEY_ENV];
  context.out.addSecrets([apiKey]);
  context.err.addSecrets([apiKey]);
  return createGatewayClient({
    url: options.gateway ?? context.io.env[GATEWAY_URL_ENV],
    apiKey,
    signal: context.io.signal,
  });
}

function campaignId(options: CampaignOptions): string {
  const id = options.campaignId ?? "";
  if (!CAMPAIGN_ID.test(id)) {
    throw usageError(
      `campaign: ${JSON.stringify(id)} is not a campaign id (c- and 32 hex digits, as start prints).`,
    );
  }
  return id;
}

/** The phones of `--phone-id` and `--input` (each record's phone_id; problems with their lines). */
async function listedPhones(options: CampaignStartOptions, context: Context): Promise<string[] | undefined> {
  const phones = splitIds(options.phoneId);
  if (options.input === undefined) return phones.length > 0 ? phones : undefined;
  const source = await openInput(options.input, options.inputFormat, context.io);
  const problems: string[] = [];
  try {
    for await (const record of readRecords(source, context.io.signal)) {
      if (record.problems?.length) {
        for (const problem of record.problems)
          problems.push(`${source.name}:${record.line}: ${problem.message}`);
        if (record.fatal) break;
        continue;
      }
      const id = (record.value as { phone_id?: unknown } | undefined)?.phone_id;
      if (typeof id !== "string" || id.trim() === "") {
        problems.push(`${source.name}:${record.line}: phone_id: missing; each record names a phone`);
      } else phones.push(id.trim());
    }
  } finally {
    await source.close();
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 50).map((problem) => `  ${problem}`);
    if (problems.length > 50) shown.push(`  ... and ${problems.length - 50} more`);
    throw usageError(
      `campaign start: the input has ${problems.length} problems; nothing was sent:\n${shown.join("\n")}`,
    );
  }
  if (phones.length === 0) throw usageError(`campaign start: ${source.name} names no phone.`);
  return phones;
}

function snapshotOf(view: CampaignView): ProgressSnapshot {
  const { counts } = view;
  return {
    done: view.total - counts.pending - counts.sent - counts.accepted,
    total: view.total,
    succeeded: counts.succeeded,
    failed: counts.failed,
    rejected: counts.rejected,
    running: counts.sent + counts.accepted,
    unknown: counts.unknown,
  };
}

/** 0 all succeeded; 1 errors, or phones left unsent (cancelled, stopped); 4 phones unknown. */
function exitOf(view: CampaignView): number {
  if (view.counts.unknown > 0) return EXIT.upstream;
  if (view.errors > 0 || view.status === "cancelled" || view.status === "stopped") return EXIT.failed;
  return EXIT.ok;
}

function summary(view: CampaignView): string {
  const { counts } = view;
  const parts = [`${counts.succeeded} succeeded`, `${counts.failed} failed`, `${counts.rejected} rejected`];
  if (counts.unknown > 0) parts.push(`${counts.unknown} unknown`);
  const running = counts.pending + counts.sent + counts.accepted;
  if (running > 0) parts.push(`${running} in progress`);
  const status =
    view.stop_reason && view.status !== "cancelled" ? `${view.status} (${view.stop_reason})` : view.status;
  return `campaign ${view.campaign_id}: ${status}; ${view.total} phones: ${parts.join(", ")}`;
}

function formatOf(options: { output?: OutputFormat | undefined }, context: Context): OutputFormat {
  return options.output ?? (context.io.stdoutIsTTY ? "table" : "json");
}

async function printView(
  view: CampaignView,
  options: { output?: OutputFormat | undefined },
  context: Context,
) {
  const format = formatOf(options, context);
  if (format !== "table") {
    await context.out.writeAsync(`${JSON.stringify(view, null, format === "json" ? 2 : undefined)}\n`);
    return;
  }
  const lines = [summary(view), `  archives: obs://${view.bucket_name}/${view.object_path}`];
  if (view.started_at) lines.push(`  started:  ${view.started_at}`);
  if (view.finished_at) lines.push(`  finished: ${view.finished_at}`);
  await context.out.writeAsync(`${lines.join("\n")}\n`);
}

/** Follows a campaign until it finished (or Ctrl-C), with a progress bar on a terminal. */
async function watch(
  gateway: GatewayClient,
  id: string,
  context: Context,
  intervalMs: number,
): Promise<CampaignView> {
  const display = new ProgressDisplay(context.err, {
    label: "campaign",
    tty: context.io.stderrIsTTY,
    columns: terminalWidth(context.io),
  });
  try {
    for (;;) {
      const view = await gateway.request<CampaignView>("GET", `/v1/campaigns/${id}`);
      display.update(snapshotOf(view));
      if (view.finished_at) return view;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, intervalMs);
        context.io.signal?.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            reject(context.io.signal?.reason);
          },
          { once: true },
        );
      });
    }
  } finally {
    display.finish();
  }
}

/** `campaign start`: creates the campaign on the gateway; `--watch` then follows it. */
export async function campaignStartCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(campaignStartOptionsSchema, raw, "campaign start");
  const selecting =
    options.all || options.serverId !== undefined || options.name !== undefined || options.status.length > 0;
  const phones = await listedPhones(options, context);
  if ((phones !== undefined) === selecting) {
    throw usageError(
      "campaign start: give the phones with --phone-id or --input, or select them with --all, --server-id, --name or --status (not both).",
    );
  }
  if (options.bucket === undefined || options.objectPath === undefined) {
    throw usageError("campaign start: give --bucket and --object-path (a template with {phone_id}).");
  }
  const gateway = gatewayOf(options, context);
  const body: Record<string, unknown> = {
    ...(options.label === undefined ? {} : { name: options.label }),
    ...(phones !== undefined
      ? { phones }
      : {
          selection: {
            ...(options.serverId === undefined ? {} : { server_id: options.serverId }),
            ...(options.name === undefined ? {} : { phone_name: options.name }),
            ...(options.status.length === 0 ? {} : { status: options.status }),
          },
        }),
    bucket_name: options.bucket,
    object_path: options.objectPath,
    ...(options.include.length === 0 ? {} : { include_files: splitIds(options.include) }),
    ...(options.exclude.length === 0 ? {} : { exclude_files: splitIds(options.exclude) }),
    ...(options.batchSize === undefined ? {} : { batch_size: options.batchSize }),
    ...(options.concurrency === undefined ? {} : { max_concurrency: options.concurrency }),
    ...(options.maxErrors === undefined ? {} : { max_errors: options.maxErrors }),
    ...(options.rate === undefined ? {} : { rate: options.rate }),
  };
  const view = await gateway.request<CampaignView>("POST", "/v1/campaigns", body);
  context.err.write(
    `campaign ${view.campaign_id} started: ${view.total} phones\n` +
      `  watch: cph-export campaign watch ${view.campaign_id} --gateway ${gateway.url}\n` +
      `  page:  ${gateway.url}/campaigns/${view.campaign_id}\n`,
  );
  if (!options.watch) {
    if (formatOf(options, context) === "table") await context.out.writeAsync(`${view.campaign_id}\n`);
    else await printView(view, options, context);
    return EXIT.ok;
  }
  return followed(gateway, view.campaign_id, options, context);
}

async function followed(
  gateway: GatewayClient,
  id: string,
  options: { output?: OutputFormat | undefined; interval?: number | undefined },
  context: Context,
): Promise<number> {
  try {
    const view = await watch(gateway, id, context, options.interval ?? 1000);
    await printView(view, options, context);
    return exitOf(view);
  } catch (error) {
    if (isAbortError(error) || context.io.signal?.aborted) {
      context.err.write(
        `campaign ${id} goes on in the gateway; stopped watching. Again: cph-export campaign watch ${id}\n`,
      );
      return EXIT.interrupted;
    }
    throw error;
  }
}

/** `campaign status ID`: the campaign now. */
export async function campaignStatusCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(campaignOptionsSchema, raw, "campaign status");
  const gateway = gatewayOf(options, context);
  const view = await gateway.request<CampaignView>("GET", `/v1/campaigns/${campaignId(options)}`);
  await printView(view, options, context);
  return EXIT.ok;
}

/** `campaign watch ID`: a progress bar until the campaign finished; the exit code tells how. */
export async function campaignWatchCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(campaignOptionsSchema, raw, "campaign watch");
  return followed(gatewayOf(options, context), campaignId(options), options, context);
}

/** `campaign cancel ID`: stops sending; the batches in flight end as they would. */
export async function campaignCancelCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(campaignOptionsSchema, raw, "campaign cancel");
  const gateway = gatewayOf(options, context);
  const view = await gateway.request<CampaignView>("POST", `/v1/campaigns/${campaignId(options)}/cancel`);
  await printView(view, options, context);
  return EXIT.ok;
}

const STATE_COLORS: Record<string, Color> = {
  succeeded: "green",
  failed: "red",
  rejected: "red",
  unknown: "yellow",
};

function phoneColumns(color: boolean): Column<CampaignPhone>[] {
  return [
    { header: "PHONE", value: (row) => row.phone_id },
    {
      header: "STATE",
      value: (row) => row.state,
      ...(color
        ? {
            style: (text: string, row: CampaignPhone) =>
              STATE_COLORS[row.state] ? paint(text, STATE_COLORS[row.state] as Color) : text,
          }
        : {}),
    },
    { header: "JOB", value: (row) => row.job_id },
    { header: "ARCHIVE", value: (row) => `obs://${row.bucket_name}/${row.object_path}`, shrink: "start" },
    {
      header: "ERROR",
      value: (row) => (row.error_code ? `${row.error_code}: ${row.error_msg ?? ""}` : undefined),
      shrink: "end",
    },
  ];
}

/** `campaign phones ID [--state S]`: every phone (or those of one state), page by page. */
export async function campaignPhonesCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(campaignOptionsSchema, raw, "campaign phones");
  const gateway = gatewayOf(options, context);
  const id = campaignId(options);
  const writer = new ResultWriter<CampaignPhone>(
    context.out,
    formatOf(options, context),
    phoneColumns(colorEnabled(context.io.env, context.io.stdoutIsTTY)),
    { width: context.io.stdoutIsTTY ? terminalWidth(context.io) : undefined },
  );
  let cursor: string | undefined;
  let count = 0;
  do {
    const query = new URLSearchParams({ limit: "1000" });
    if (options.state !== undefined) query.set("state", options.state);
    if (cursor !== undefined) query.set("cursor", cursor);
    const page = await gateway.request<{ phones: CampaignPhone[]; next_cursor?: string }>(
      "GET",
      `/v1/campaigns/${id}/phones?${query}`,
    );
    for (const phone of page.phones) await writer.add(phone);
    count += page.phones.length;
    cursor = page.next_cursor;
  } while (cursor !== undefined);
  await writer.end();
  context.err.write(`campaign ${id}: ${count} ${count === 1 ? "phone" : "phones"}\n`);
  return EXIT.ok;
}
