import {
  CAMPAIGN_PHONE_STATES,
  formatMaxErrors,
  formatRate,
  LIMITS,
  parseMaxErrors,
  parsePhoneStatus,
  parseRate,
} from "@cph-export/core";
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { usageError } from "./errors.js";
import { INPUT_FORMATS } from "./input/records.js";

// One schema per command turns commander's raw strings into checked, typed options.

function integer(flag: string, min: number, max: number) {
  return z.string().transform((text, ctx) => {
    const value = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) {
      ctx.addIssue({
        code: "custom",
        message: `${flag} must be a whole number from ${min} to ${max}, not "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });
}

/** A duration flag; `allowZero` where 0 means "none" (no skew, no settling time). */
function duration(flag: string, { allowZero = false }: { allowZero?: boolean } = {}) {
  return z.string().transform((text, ctx) => {
    const value = parseDuration(text);
    if (value === undefined || value < 0 || (value === 0 && !allowZero)) {
      ctx.addIssue({
        code: "custom",
        message: `${flag} must be a duration such as 90s, 10m or 2h, not "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(flag: string, values: T) {
  return z.string().transform((text, ctx) => {
    if (!(values as readonly string[]).includes(text)) {
      ctx.addIssue({ code: "custom", message: `${flag} must be one of ${values.join(", ")}, not "${text}"` });
      return z.NEVER;
    }
    return text as T[number];
  });
}

/** A string flag read by one of core's run control parsers; its refusal names the flag. */
function parsed<T>(
  flag: string,
  parse: (text: string) => { ok: true; value: T } | { ok: false; message: string },
) {
  return z.string().transform((text, ctx) => {
    const result = parse(text);
    if (!result.ok) {
      ctx.addIssue({ code: "custom", message: `${flag}: ${result.message}` });
      return z.NEVER;
    }
    return result.value;
  });
}

const nonEmpty = (flag: string) =>
  z.string().refine((text) => text.trim().length > 0, { message: `${flag} must not be empty` });

const list = z.array(z.string()).default([]);

/**
 * `--status running --status off,frozen` as the status codes they name (`creating` is 0 and 1),
 * each once, in the order given; a word core does not know is an error naming the flag.
 */
function statuses(flag: string) {
  return z
    .array(z.string())
    .default([])
    .transform((values, ctx) => {
      const codes: number[] = [];
      for (const text of splitIds(values)) {
        const parsed = parsePhoneStatus(text);
        if (!parsed.ok) {
          ctx.addIssue({ code: "custom", message: `${flag}: ${parsed.message}` });
          return z.NEVER;
        }
        for (const code of parsed.value) if (!codes.includes(code)) codes.push(code);
      }
      return codes;
    });
}

/** The filters of ListCloudPhones, shared by `phones list` and the selection of `export`. */
const phoneFilterOptions = {
  serverId: nonEmpty("--server-id").optional(),
  name: nonEmpty("--name").optional(),
  status: statuses("--status"),
  type: integer("--type", 0, 1).optional(),
  pageSize: integer("--page-size", 1, LIMITS.listJobsMaxLimit).optional(),
};

export const globalOptionsSchema = z.object({
  region: nonEmpty("--region").optional(),
  endpoint: nonEmpty("--endpoint").optional(),
  projectId: nonEmpty("--project-id").optional(),
  profile: nonEmpty("--profile").optional(),
  debug: z.boolean().default(false),
  retries: integer("--retries", 0, 10).optional(),
});

export const OUTPUTS = ["table", "json", "ndjson"] as const;
export type OutputFormat = (typeof OUTPUTS)[number];

/** What `export` and `restore` share: the phones (listed, or from an input), and the run's flags. */
const batchRunOptions = {
  phoneId: list,
  bucket: z.string().optional(),
  objectPath: z.string().optional(),
  input: nonEmpty("--input").optional(),
  inputFormat: oneOf("--input-format", INPUT_FORMATS).optional(),
  dryRun: z.boolean().default(false),
  wait: z.boolean().default(false),
  timeout: duration("--timeout").optional(),
  pollInterval: duration("--poll-interval").optional(),
  concurrency: integer("--concurrency", 1, 64).default(4),
  batchSize: integer("--batch-size", 1, 1000).default(100),
  journal: nonEmpty("--journal").optional(),
  retryUnknown: z.boolean().default(false),
  maxErrors: parsed("--max-errors", parseMaxErrors).optional(),
  rate: parsed("--rate", parseRate).optional(),
  output: oneOf("--output", OUTPUTS).optional(),
};

export const exportOptionsSchema = globalOptionsSchema.extend({
  ...batchRunOptions,
  include: list,
  exclude: list,
  all: z.boolean().default(false),
  ...phoneFilterOptions,
  exportable: statuses("--exportable"),
  verify: z.boolean().default(false),
  obsEndpoint: nonEmpty("--obs-endpoint").optional(),
  obsPathStyle: z.boolean().default(false),
  clockSkew: duration("--clock-skew", { allowZero: true }).optional(),
});
export type ExportOptions = z.infer<typeof exportOptionsSchema>;

export const restoreOptionsSchema = globalOptionsSchema.extend({
  ...batchRunOptions,
  fromJournal: nonEmpty("--from-journal").optional(),
  toPhoneMap: nonEmpty("--to-phone-map").optional(),
  yes: z.boolean().default(false),
  clockSkew: z.undefined().optional(),
});
export type RestoreOptions = z.infer<typeof restoreOptionsSchema>;

/** An ISO 8601 time with a zone (`2026-12-06T12:00:00Z`), for `--since`. */
function isoTime(flag: string) {
  return z.string().transform((text, ctx) => {
    const time = new Date(text);
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) ||
      Number.isNaN(time.getTime())
    ) {
      ctx.addIssue({
        code: "custom",
        message: `${flag} must be an ISO time with a zone such as 2026-12-06T12:00:00Z, not "${text}"`,
      });
      return z.NEVER;
    }
    return time;
  });
}

export const verifyOptionsSchema = globalOptionsSchema.extend({
  journal: nonEmpty("--journal").optional(),
  input: nonEmpty("--input").optional(),
  inputFormat: oneOf("--input-format", INPUT_FORMATS).optional(),
  phoneId: list,
  include: list,
  exclude: list,
  bucket: z.string().optional(),
  objectPath: z.string().optional(),
  since: isoTime("--since").optional(),
  clockSkew: duration("--clock-skew", { allowZero: true }).optional(),
  settle: duration("--settle", { allowZero: true }).optional(),
  resendMissing: z.boolean().default(false),
  wait: z.boolean().default(false),
  report: nonEmpty("--report").optional(),
  output: oneOf("--output", OUTPUTS).optional(),
  obsEndpoint: nonEmpty("--obs-endpoint").optional(),
  obsPathStyle: z.boolean().default(false),
});
export type VerifyOptions = z.infer<typeof verifyOptionsSchema>;

export const validateOptionsSchema = globalOptionsSchema.extend({
  input: nonEmpty("--input"),
  inputFormat: oneOf("--input-format", INPUT_FORMATS).optional(),
  include: list,
  exclude: list,
  bucket: z.string().optional(),
  objectPath: z.string().optional(),
  output: oneOf("--output", ["text", "json", "ndjson"] as const).default("text"),
});
export type ValidateOptions = z.infer<typeof validateOptionsSchema>;

export const jobsGetOptionsSchema = globalOptionsSchema.extend({
  jobId: nonEmpty("the job id"),
  output: oneOf("--output", OUTPUTS).optional(),
});
export type JobsGetOptions = z.infer<typeof jobsGetOptionsSchema>;

export const jobsListOptionsSchema = globalOptionsSchema.extend({
  requestId: z.array(z.string()).min(1, { message: "give at least one --request-id" }),
  output: oneOf("--output", OUTPUTS).optional(),
});
export type JobsListOptions = z.infer<typeof jobsListOptionsSchema>;

export const jobsWaitOptionsSchema = globalOptionsSchema.extend({
  requestId: list,
  jobId: list,
  timeout: duration("--timeout").optional(),
  pollInterval: duration("--poll-interval").optional(),
  output: oneOf("--output", OUTPUTS).optional(),
});
export type JobsWaitOptions = z.infer<typeof jobsWaitOptionsSchema>;

export const regionsOptionsSchema = globalOptionsSchema.extend({
  output: oneOf("--output", OUTPUTS).optional(),
});

export const phonesListOptionsSchema = globalOptionsSchema.extend({
  ...phoneFilterOptions,
  output: oneOf("--output", OUTPUTS).optional(),
});
export type PhonesListOptions = z.infer<typeof phonesListOptionsSchema>;

export const serversListOptionsSchema = globalOptionsSchema.extend({
  serverId: nonEmpty("--server-id").optional(),
  name: nonEmpty("--name").optional(),
  pageSize: integer("--page-size", 1, LIMITS.listJobsMaxLimit).optional(),
  output: oneOf("--output", OUTPUTS).optional(),
});
export type ServersListOptions = z.infer<typeof serversListOptionsSchema>;

export const completionOptionsSchema = z.object({
  shell: oneOf("the shell", ["bash", "zsh", "fish"] as const),
});

/** `campaign status|watch|cancel|phones ID`. */
export const campaignOptionsSchema = z.object({
  campaignId: z.string().optional(),
  gateway: nonEmpty("--gateway").optional(),
  state: oneOf("--state", CAMPAIGN_PHONE_STATES).optional(),
  interval: duration("--interval").optional(),
  output: oneOf("--output", OUTPUTS).optional(),
  debug: z.boolean().default(false),
});
export type CampaignOptions = z.infer<typeof campaignOptionsSchema>;

/** `campaign start`: the phones (listed or selected), the archives, the run's limits. */
export const campaignStartOptionsSchema = z.object({
  gateway: nonEmpty("--gateway").optional(),
  label: nonEmpty("--label").optional(),
  phoneId: list,
  input: nonEmpty("--input").optional(),
  inputFormat: oneOf("--input-format", INPUT_FORMATS).optional(),
  all: z.boolean().default(false),
  serverId: nonEmpty("--server-id").optional(),
  name: nonEmpty("--name").optional(),
  status: statuses("--status"),
  bucket: nonEmpty("--bucket").optional(),
  objectPath: nonEmpty("--object-path").optional(),
  include: list,
  exclude: list,
  batchSize: integer("--batch-size", 1, LIMITS.defaultPhonesPerRequest).optional(),
  concurrency: integer("--concurrency", 1, 1000).optional(),
  // Checked here by core's rules, sent as written: the gateway reads them with the same rules.
  maxErrors: parsed("--max-errors", parseMaxErrors)
    .transform((value) => formatMaxErrors(value))
    .optional(),
  rate: parsed("--rate", parseRate)
    .transform((value) => formatRate(value))
    .optional(),
  watch: z.boolean().default(false),
  interval: duration("--interval").optional(),
  output: oneOf("--output", OUTPUTS).optional(),
  debug: z.boolean().default(false),
});
export type CampaignStartOptions = z.infer<typeof campaignStartOptionsSchema>;

/** Parses raw options with a schema; a usage error (exit 2) lists every problem. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, command: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => issue.message);
  throw usageError(`${command}: ${messages.join("; ")}; see cph-export ${command} --help.`);
}

/** Splits `--request-id a,b --request-id c` into `[a, b, c]`. */
export function splitIds(values: readonly string[]): string[] {
  return values
    .flatMap((value) => value.split(","))
    .map((id) => id.trim())
    .filter((id) => id !== "");
}
