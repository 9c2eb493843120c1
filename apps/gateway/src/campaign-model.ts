// Campaigns: the request that starts one, the states of its phones, and what the API answers.
// Pure: the Redis layout is campaign-store.ts, the execution campaign-runner.ts.
import {
  CAMPAIGN_PHONE_STATES,
  LIMITS,
  type MaxErrors,
  parseMaxErrors,
  parseObjectPathTemplate,
  parsePhoneStatus,
  parseRate,
  validateBucketName,
} from "@cph-export/core";
import { z } from "zod";

// The states of a campaign's phones are core's (the CLI reads them too).
export { CAMPAIGN_PHONE_STATES, type CampaignPhoneState } from "@cph-export/core";

/** running; completed (every phone ended); cancelled; stopped (max errors exceeded). */
export const CAMPAIGN_STATUSES = ["running", "completed", "cancelled", "stopped"] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** The most phones one campaign may hold. */
export const MAX_CAMPAIGN_PHONES = 100_000;

const PHONE_ID = /^[A-Za-z0-9._-]{1,64}$/;

const phoneIdSchema = z.string().regex(PHONE_ID, "must be a phone id: 1-64 letters, digits, . - or _");

/** The body of `POST /v1/campaigns`. */
export const campaignRequestSchema = z
  .strictObject({
    name: z.string().min(1).max(128).optional().meta({ description: "A label for people; not unique." }),
    phones: z
      .array(phoneIdSchema)
      .min(1, "give at least one phone id")
      .max(MAX_CAMPAIGN_PHONES, `at most ${MAX_CAMPAIGN_PHONES} phones per campaign`)
      .optional()
      .meta({ description: "The phone ids to export. Give this or selection." }),
    selection: z
      .strictObject({
        server_id: z.string().min(1).max(64).optional(),
        phone_name: z.string().min(1).max(64).optional(),
        status: z
          .union([z.string(), z.int(), z.array(z.union([z.string(), z.int()])).min(1)])
          .optional()
          .meta({ description: 'Status words or numbers (e.g. "running"); default: running phones only.' }),
      })
      .optional()
      .meta({
        description:
          "Phones from ListCloudPhones (within the caller's servers); the listed phones whose status is not selected are reported rejected not_exportable.",
      }),
    bucket_name: z.string().meta({ description: "The OBS bucket of every archive." }),
    object_path: z
      .string()
      .meta({ description: "Object path template: {phone_id}, {date} (UTC YYYYMMDD), {index}." }),
    include_files: z.array(z.string()).min(1).optional().meta({ description: 'Default ["/data"].' }),
    exclude_files: z.array(z.string()).optional(),
    batch_size: z.int().min(1).max(LIMITS.defaultPhonesPerRequest).optional().meta({
      description:
        "Phones per CPH request; default (and at most) the caller's maxPhonesPerRequest, up to 100.",
    }),
    max_concurrency: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .meta({ description: "Batches in flight at once over every gateway replica; default 8." }),
    max_errors: z
      .union([z.string(), z.int().min(0)])
      .optional()
      .meta({ description: 'Stop sending once exceeded: a count ("5", 0 stops at the first) or "10%".' }),
    rate: z
      .string()
      .optional()
      .meta({ description: 'Batch requests per second to CPH over every replica ("10/s", "600/min").' }),
  })
  .superRefine((body, context) => {
    if ((body.phones === undefined) === (body.selection === undefined)) {
      context.addIssue({ code: "custom", path: [], message: "give exactly one of phones and selection" });
    }
    if (body.phones !== undefined) {
      const seen = new Set<string>();
      body.phones.forEach((phone, index) => {
        if (seen.has(phone)) {
          context.addIssue({
            code: "custom",
            path: ["phones", index],
            message: `phone ${phone} is listed twice`,
          });
        }
        seen.add(phone);
      });
    }
    const bucket = validateBucketName(body.bucket_name);
    for (const issue of bucket)
      context.addIssue({ code: "custom", path: ["bucket_name"], message: issue.message });
    const template = parseObjectPathTemplate(body.object_path);
    if (!template.ok) context.addIssue({ code: "custom", path: ["object_path"], message: template.message });
    else if (!template.value.distinct && body.phones?.length !== 1) {
      context.addIssue({
        code: "custom",
        path: ["object_path"],
        message: "name each phone's archive: the template needs {phone_id} or {index}",
      });
    }
    if (body.max_errors !== undefined) {
      const parsed = parseMaxErrors(String(body.max_errors));
      if (!parsed.ok) context.addIssue({ code: "custom", path: ["max_errors"], message: parsed.message });
    }
    if (body.rate !== undefined) {
      const parsed = parseRate(body.rate);
      if (!parsed.ok) context.addIssue({ code: "custom", path: ["rate"], message: parsed.message });
    }
    if (body.selection?.status !== undefined) {
      const values = Array.isArray(body.selection.status) ? body.selection.status : [body.selection.status];
      values.forEach((value, index) => {
        const parsed = parsePhoneStatus(String(value));
        if (!parsed.ok) {
          context.addIssue({
            code: "custom",
            path: Array.isArray(body.selection?.status)
              ? ["selection", "status", index]
              : ["selection", "status"],
            message: parsed.message,
          });
        }
      });
    }
  });
export type CampaignRequest = z.output<typeof campaignRequestSchema>;

/** What a worker needs of a campaign to send its batches; fixed at creation. */
export interface CampaignSpec {
  id: string;
  name?: string | undefined;
  caller: string;
  bucketName: string;
  objectPath: string;
  includeFiles: string[];
  excludeFiles?: string[] | undefined;
  batchSize: number;
  maxConcurrency: number;
  maxErrors?: MaxErrors | undefined;
  /** Batch requests per second over every replica. */
  rate?: number | undefined;
}

export const campaignPhoneViewSchema = z.object({
  phone_id: z.string(),
  index: z.int(),
  state: z.enum(CAMPAIGN_PHONE_STATES),
  bucket_name: z.string(),
  object_path: z.string(),
  job_id: z.string().optional(),
  request_id: z.string().optional(),
  error_code: z.string().optional(),
  error_msg: z.string().optional(),
  sent_at: z.string().optional(),
  updated_at: z.string().optional(),
});

export const campaignViewSchema = z.object({
  campaign_id: z.string(),
  name: z.string().optional(),
  caller: z.string(),
  status: z.enum(CAMPAIGN_STATUSES),
  stop_reason: z.string().optional(),
  created_at: z.string(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  total: z.int(),
  counts: z.record(z.enum(CAMPAIGN_PHONE_STATES), z.int()),
  errors: z.int(),
  bucket_name: z.string(),
  object_path: z.string(),
  batch_size: z.int(),
  max_concurrency: z.int(),
  max_errors: z.string().optional(),
  rate: z.string().optional(),
});

/** One phone of a campaign as the API shows it. */
export type CampaignPhoneView = z.output<typeof campaignPhoneViewSchema>;
/** `GET /v1/campaigns/{id}`; `errors` counts CPH rejections and failed jobs since the last resume. */
export type CampaignView = z.output<typeof campaignViewSchema>;

export const campaignPhonesPageSchema = z.object({
  phones: z.array(campaignPhoneViewSchema),
  next_cursor: z
    .string()
    .optional()
    .meta({ description: "Pass as cursor for the next page; absent on the last." }),
});

export const campaignPhonesQuerySchema = z.object({
  state: z.enum(CAMPAIGN_PHONE_STATES).optional(),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/)
    .optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/)
    .optional()
    .meta({ description: "1-1000; default 100." }),
});

export const CAMPAIGN_ID = /^c-[0-9a-f]{32}$/;
