// Campaigns as the routes use them: creating one (phones resolved, every rule checked before
// anything is stored), reading, cancelling and resuming. The Redis side is campaign-store.ts,
// execution campaign-runner.ts.
import { randomUUID } from "node:crypto";
import {
  DEFAULT_EXPORTABLE_STATUSES,
  type MaxErrors,
  parseMaxErrors,
  parseObjectPathTemplate,
  parsePhoneStatus,
  parseRate,
  type StorageInfo,
  validateStorageInfo,
} from "@cph-export/core";
import type { PhoneFilter } from "@cph-export/http-client";
import type { CampaignRequest, CampaignSpec, CampaignView } from "./campaign-model.js";
import type { CampaignClient, CampaignRunner } from "./campaign-runner.js";
import type { CampaignStore, NewCampaignPhone } from "./campaign-store.js";
import type { CallerConfig, GatewayConfig } from "./config.js";
import { type ErrorDetail, GatewayError } from "./errors.js";
import type { CallerPolicy } from "./policy.js";

export const DEFAULT_MAX_CONCURRENCY = 8;
const DEFAULT_INCLUDE = ["/data"];

/** Campaigns on one Redis; one per gateway process. */
export interface Campaigns {
  readonly store: CampaignStore;
  readonly runner: CampaignRunner;
  readonly client: CampaignClient;
}

/** The phones a selection names, within the caller's servers; the unexportable ones reported. */
async function selectedPhones(
  client: CampaignClient,
  selection: NonNullable<CampaignRequest["selection"]>,
  policy: CallerPolicy,
  signal: AbortSignal | undefined,
): Promise<Array<{ id: string; status: number | undefined }>> {
  const servers = policy.servers;
  if (servers !== undefined && selection.server_id !== undefined && !servers.includes(selection.server_id)) {
    throw new GatewayError(
      "CPHGW.4035",
      `caller ${policy.caller.name} may not export the phones of server ${selection.server_id} (its servers: ${servers.join(", ")})`,
      {
        details: [
          {
            code: "server_not_allowed",
            path: "selection.server_id",
            message: "not among the caller's servers",
          },
        ],
      },
    );
  }
  const scopes = selection.server_id !== undefined ? [selection.server_id] : (servers ?? [undefined]);
  const found = new Map<string, number | undefined>();
  for (const serverId of scopes) {
    const filter: PhoneFilter = {};
    if (serverId !== undefined) filter.serverId = serverId;
    if (selection.phone_name !== undefined) filter.phoneName = selection.phone_name;
    for await (const phone of client.listPhones(filter, { signal })) {
      if (phone.phone_id && !found.has(phone.phone_id)) found.set(phone.phone_id, phone.status);
    }
  }
  return [...found].map(([id, status]) => ({ id, status }));
}

function statusCodes(status: NonNullable<CampaignRequest["selection"]>["status"]): readonly number[] {
  if (status === undefined) return DEFAULT_EXPORTABLE_STATUSES;
  const values = Array.isArray(status) ? status : [status];
  return values.flatMap((value) => {
    const parsed = parsePhoneStatus(String(value));
    return parsed.ok ? parsed.value : [];
  });
}

/**
 * Resolves and checks a campaign request (phones, object paths by core's template and storage
 * rules, the caller's bucket and path rules) and stores it; nothing is stored when any rule fails.
 */
export async function createCampaign(
  campaigns: Campaigns,
  input: {
    body: CampaignRequest;
    caller: CallerConfig;
    policy: CallerPolicy;
    config: GatewayConfig;
    now: number;
    /** Refuses phones off a confined caller's servers (the batch routes' check). */
    checkServers: (entries: readonly StorageInfo[]) => Promise<void>;
    signal?: AbortSignal | undefined;
  },
): Promise<CampaignView> {
  const { body, caller, policy, config, now } = input;
  const template = parseObjectPathTemplate(body.object_path);
  if (!template.ok) throw new Error(template.message); // the schema checked it
  const date = new Date(now);
  let listed: Array<{ id: string; status: number | undefined }>;
  let exportable: readonly number[] | undefined;
  if (body.selection !== undefined) {
    listed = await selectedPhones(campaigns.client, body.selection, policy, input.signal);
    exportable = statusCodes(body.selection.status);
    if (listed.length === 0) {
      throw new GatewayError("CPHGW.4001", "the selection matches no phone; nothing to export", {
        details: [{ code: "selection_empty", path: "selection", message: "ListCloudPhones gave no phone" }],
      });
    }
  } else {
    listed = (body.phones ?? []).map((id) => ({ id, status: undefined }));
  }
  const field = body.selection === undefined ? "phones" : "selection";
  const infos: StorageInfo[] = listed.map(({ id }, index) => ({
    phone_id: id,
    bucket_name: body.bucket_name,
    object_path: template.value.expand({ phoneId: id, date, index }),
    include_files: body.include_files ?? DEFAULT_INCLUDE,
    ...(body.exclude_files === undefined ? {} : { exclude_files: body.exclude_files }),
  }));
  const issues: ErrorDetail[] = [];
  const validation = { maxBodyBytes: config.bodyLimitBytes };
  infos.forEach((info, index) => {
    const checked = validateStorageInfo(info, validation);
    if (!checked.ok) {
      for (const issue of checked.issues) {
        if (issue.severity !== "error") continue;
        const where = issue.path.replace(/^storage_infos\[\d+\]\.?/, "");
        const path =
          where === "phone_id"
            ? `${field}[${index}]`
            : where === "object_path"
              ? "object_path"
              : where || field;
        issues.push({ code: issue.code, path, message: `phone ${info.phone_id}: ${issue.message}` });
      }
    }
  });
  if (issues.length > 0) {
    throw new GatewayError(
      "CPHGW.4001",
      `the campaign has ${issues.length} ${issues.length === 1 ? "issue" : "issues"}; the first: ${issues[0]?.path}: ${issues[0]?.message}`,
      { details: issues.slice(0, 1000) },
    );
  }
  // One bucket for the whole campaign: refused once, at bucket_name, not once per phone.
  policy.checkBucket("export", body.bucket_name, "bucket_name");
  try {
    policy.checkEntries("export", infos, "phones");
  } catch (error) {
    // Every phone's path may break the prefix rule: the first 100 are enough to see why.
    if (error instanceof GatewayError && (error.details?.length ?? 0) > 100) {
      throw new GatewayError(
        error.errorCode,
        `${error.message} (the first 100 of ${error.details?.length} are listed)`,
        {
          details: error.details?.slice(0, 100) ?? [],
        },
      );
    }
    throw error;
  }
  if (body.phones !== undefined) await input.checkServers(infos);

  const maxErrors: MaxErrors | undefined =
    body.max_errors === undefined
      ? undefined
      : (parseMaxErrors(String(body.max_errors)) as { value: MaxErrors }).value;
  // Everything a campaign sends counts against its caller's rate: never faster than requestsPerMinute.
  const callerRate = caller.requestsPerMinute / 60;
  const asked = body.rate === undefined ? undefined : (parseRate(body.rate) as { value: number }).value;
  const spec: CampaignSpec = {
    id: `c-${randomUUID().replaceAll("-", "")}`,
    ...(body.name === undefined ? {} : { name: body.name }),
    caller: caller.name,
    bucketName: body.bucket_name,
    objectPath: body.object_path,
    includeFiles: body.include_files ?? DEFAULT_INCLUDE,
    ...(body.exclude_files === undefined ? {} : { excludeFiles: body.exclude_files }),
    batchSize: Math.min(
      body.batch_size ?? caller.maxPhonesPerRequest,
      caller.maxPhonesPerRequest,
      config.maxPhonesPerRequest,
    ),
    maxConcurrency: body.max_concurrency ?? DEFAULT_MAX_CONCURRENCY,
    ...(maxErrors === undefined ? {} : { maxErrors }),
    rate: Math.min(asked ?? callerRate, callerRate),
    ...(body.selection === undefined ? {} : { selection: body.selection }),
  };
  const phones: NewCampaignPhone[] = infos.map((info, index) => {
    const status = listed[index]?.status;
    const refused =
      exportable !== undefined && (status === undefined || !exportable.includes(status))
        ? {
            code: "not_exportable",
            message: `phone has status ${status ?? "none"}, not one of the selected statuses (${exportable.join(", ")}): not exported`,
          }
        : undefined;
    return { id: info.phone_id, objectPath: info.object_path, ...(refused ? { rejected: refused } : {}) };
  });
  await campaigns.store.create(spec, phones, now);
  const view = await campaigns.store.view(spec.id);
  if (view?.status === "running")
    await campaigns.runner.start(spec, 1, Math.ceil(phones.length / spec.batchSize));
  return (await campaigns.store.view(spec.id)) as CampaignView;
}

/** The campaign, or 404 `CPHGW.4042`. */
export async function campaignView(campaigns: Campaigns, id: string): Promise<CampaignView> {
  const view = await campaigns.store.view(id);
  if (view === undefined) throw notFound(id);
  return view;
}

export function notFound(id: string): GatewayError {
  return new GatewayError("CPHGW.4042", `no campaign ${JSON.stringify(id)}; GET /v1/campaigns lists them`);
}

function checkOwner(view: CampaignView, caller: CallerConfig, action: string): void {
  if (view.caller !== caller.name) {
    throw new GatewayError(
      "CPHGW.4037",
      `campaign ${view.campaign_id} was started by ${view.caller}; only it may ${action} it`,
    );
  }
}

export async function cancelCampaign(
  campaigns: Campaigns,
  id: string,
  caller: CallerConfig,
  now: number,
): Promise<CampaignView> {
  checkOwner(await campaignView(campaigns, id), caller, "cancel");
  const before = await campaigns.store.stop(
    id,
    "cancelled",
    "cancelled",
    `not sent: cancelled by ${caller.name}`,
    now,
  );
  if (before !== "running") {
    throw new GatewayError(
      "CPHGW.4092",
      `campaign ${id} is ${before}, not running: there is nothing to cancel`,
    );
  }
  return campaignView(campaigns, id);
}

export async function resumeCampaign(
  campaigns: Campaigns,
  id: string,
  caller: CallerConfig,
  now: number,
): Promise<CampaignView> {
  checkOwner(await campaignView(campaigns, id), caller, "resume");
  const resumed = await campaigns.store.resume(id, now);
  if (resumed.resumed === 0) {
    throw new GatewayError(
      "CPHGW.4092",
      resumed.before === "running"
        ? `campaign ${id} is running: there is nothing to resume`
        : `campaign ${id} is ${resumed.before} with no phone left unsent: there is nothing to resume`,
    );
  }
  const spec = (await campaigns.store.spec(id)) as CampaignSpec;
  const progress = await campaigns.store.progress(id);
  await campaigns.runner.start(spec, resumed.generation, progress?.batches ?? 0);
  return campaignView(campaigns, id);
}
