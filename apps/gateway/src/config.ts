import { readFile } from "node:fs/promises";
import { findRegion, LIMITS, REGIONS } from "@cph-export/core";
import { z } from "zod";

const PROJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const API_KEY_HASH = /^sha256:[0-9a-f]{64}$/;
// A bucket name or a glob over one: OBS bucket characters plus `*` (any run) and `?` (one).
const BUCKET_PATTERN = /^[a-z0-9.*?-]{1,63}$/;
const OBJECT_PATH_PREFIX = /^[A-Za-z0-9./\-_+#=]{0,1024}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const projectId = z.string().regex(PROJECT_ID, "must be 1-64 letters, digits, - or _");
const apiKeyHash = z
  .string()
  .regex(API_KEY_HASH, 'must be "sha256:" and 64 lowercase hex digits (see "cph-gateway hash-key")');

const callerSchema = z
  .strictObject({
    /** Shown in logs and metrics; also the scope of idempotency keys and rate limits. */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, . - or _"),
    /** SHA-256 of the caller's bearer API key(s); several during a rotation. */
    apiKeySha256: z.union([apiKeyHash, z.array(apiKeyHash).min(1)]).optional(),
    /** Gateway-issued access key for SDK-HMAC-SHA256; its secret is read from `secretKeyEnv`. */
    accessKey: z
      .string()
      .regex(/^[A-Za-z0-9]{8,128}$/, "must be 8-128 letters or digits")
      .optional(),
    secretKeyEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
    projects: z.array(projectId).min(1, "give at least one project id"),
    buckets: z
      .array(
        z.string().regex(BUCKET_PATTERN, "must be a bucket name or a pattern of a-z 0-9 . - with * or ?"),
      )
      .min(1, "give at least one bucket name or pattern"),
    objectPathPrefixes: z
      .array(
        z
          .string()
          .regex(OBJECT_PATH_PREFIX, "must use only the object path characters A-Z a-z 0-9 . / - _ + # ="),
      )
      .min(1, 'give at least one prefix ("" allows every path)'),
    maxPhonesPerRequest: z.int().min(1).max(1000).optional(),
    /**
     * The server ids whose phones the caller may list and export; absent: every server. Listings
     * are confined to them, and an export naming a phone on another server is refused (403 CPHGW.4035).
     */
    servers: z
      .array(
        z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be a server id: 1-64 letters, digits, . - or _"),
      )
      .min(1, "give at least one server id, or leave servers out to allow every server")
      .max(100, "at most 100 servers per caller")
      .refine((ids) => new Set(ids).size === ids.length, "a server id is listed twice")
      .optional(),
    requestsPerMinute: z.int().min(1).max(1_000_000).default(600),
    /** The batch operations the caller may use: export (batch-storage), restore (batch-restore). */
    operations: z
      .array(z.enum(["export", "restore"]))
      .min(1, 'give at least one of "export" and "restore"')
      .default(["export"]),
  })
  .superRefine((caller, context) => {
    if (caller.apiKeySha256 === undefined && caller.accessKey === undefined) {
      context.addIssue({
        code: "custom",
        message: "give apiKeySha256, accessKey (with secretKeyEnv), or both",
        path: [],
      });
    }
    if ((caller.accessKey === undefined) !== (caller.secretKeyEnv === undefined)) {
      context.addIssue({
        code: "custom",
        message: "accessKey and secretKeyEnv go together",
        path: [caller.accessKey === undefined ? "accessKey" : "secretKeyEnv"],
      });
    }
  });

const upstreamSchema = z
  .strictObject({
    /** Any CPH-compatible base URL (the emulator, a proxy); wins over `region`. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z
      .string()
      .refine((id) => findRegion(id) !== undefined, {
        message: `unknown region; known: ${REGIONS.map((region) => region.id).join(", ")}`,
      })
      .optional(),
    /** IAM for password credentials; default the region's, or `endpoint` itself when one is given (the emulator serves both). */
    iamEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    projectId,
    /** The deadline of one upstream call (the IAM token included); the call is aborted after it. */
    timeoutMs: z.int().min(50).max(600_000).default(30_000),
    /** Attempts per upstream call, the first included; 1 passes every throttling answer through. */
    maxAttempts: z.int().min(1).max(10).default(1),
  })
  .refine((upstream) => (upstream.endpoint === undefined) !== (upstream.region === undefined), {
    message: "give exactly one of endpoint and region",
  });

export const gatewayConfigSchema = z
  .strictObject({
    upstream: upstreamSchema,
    callers: z.array(callerSchema).min(1, "give at least one caller"),
    listen: z
      .strictObject({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.int().min(0).max(65_535).default(8080),
      })
      .prefault({}),
    /** Largest request body; the CPH API gateway's own limit is 12 MB. */
    bodyLimitBytes: z.int().min(1024).max(LIMITS.maxBodyBytes).default(LIMITS.maxBodyBytes),
    /** Most phones in one batch-storage request for every caller (the upstream cap). */
    maxPhonesPerRequest: z.int().min(1).max(1000).default(LIMITS.defaultPhonesPerRequest),
    /** How long the phone ids of a policy's servers are kept to check exports against (0: always list anew). */
    policyCacheMs: z.int().min(0).max(3_600_000).default(30_000),
    idempotency: z
      .strictObject({
        /** How long a key and its first answer are kept; the draft suggests 24 h. */
        ttlMs: z
          .int()
          .min(1000)
          .default(24 * 60 * 60 * 1000),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        /** Time between failing readiness and closing the listener, for load balancers to notice. */
        drainDelayMs: z.int().min(0).max(600_000).default(0),
        /** Longest wait for in-flight requests before connections are cut. */
        graceMs: z.int().min(0).max(600_000).default(60_000),
      })
      .prefault({}),
    redis: z
      .strictObject({
        /** Prefix of every key, so several gateways (or apps) can share one Redis. */
        keyPrefix: z.string().max(100).default("cph-gateway:"),
      })
      .prefault({}),
    /** Campaigns (they need Redis: CPH_GATEWAY_REDIS_URL). */
    campaigns: z
      .strictObject({
        /** Batch jobs each replica runs at once. */
        workerConcurrency: z.int().min(1).max(1000).default(16),
        /** How long a replica's hold on a batch lasts unrenewed: a killed replica's batches move on after it. */
        lockMs: z.int().min(1000).max(600_000).default(30_000),
        /** How often each replica looks for the batches of killed replicas. */
        stalledIntervalMs: z.int().min(500).max(600_000).default(15_000),
        /** First interval of following a batch's jobs (backing off by half each round to pollMaxIntervalMs). */
        pollIntervalMs: z.int().min(50).max(60_000).default(2_000),
        /** Longest interval of following a batch's jobs. */
        pollMaxIntervalMs: z.int().min(50).max(300_000).default(15_000),
        /** Longest wait for a batch's jobs; the jobs still running then end unknown. */
        jobTimeoutMs: z.int().min(1000).max(86_400_000).default(3_600_000),
        /** Attempts of a batch whose POST could not reach CPH (nothing sent), with backoff from 1 s. */
        batchAttempts: z.int().min(1).max(100).default(10),
        /** How long a finished campaign is kept in Redis (0: for ever); default 30 days. */
        retentionMs: z
          .int()
          .min(0)
          .max(3650 * 86_400_000)
          .default(30 * 86_400_000),
        /** Attempts per CPH call of a campaign: throttling and unreachable answers are retried as the client's safe policy allows. */
        maxAttempts: z.int().min(1).max(10).default(5),
      })
      .prefault({}),
  })
  .superRefine((config, context) => {
    const names = new Map<string, number>();
    const accessKeys = new Map<string, number>();
    const hashes = new Map<string, number>();
    config.callers.forEach((caller, index) => {
      const seenName = names.get(caller.name);
      if (seenName !== undefined) {
        context.addIssue({
          code: "custom",
          path: ["callers", index, "name"],
          message: `"${caller.name}" is already callers[${seenName}]'s name`,
        });
      } else names.set(caller.name, index);
      if (caller.accessKey !== undefined) {
        const seen = accessKeys.get(caller.accessKey);
        if (seen !== undefined) {
          context.addIssue({
            code: "custom",
            path: ["callers", index, "accessKey"],
            message: `already callers[${seen}]'s access key`,
          });
        } else accessKeys.set(caller.accessKey, index);
      }
      for (const hash of toList(caller.apiKeySha256)) {
        const seen = hashes.get(hash);
        if (seen !== undefined && seen !== index) {
          context.addIssue({
            code: "custom",
            path: ["callers", index, "apiKeySha256"],
            message: `already a key of callers[${seen}]`,
          });
        } else hashes.set(hash, index);
      }
      caller.projects.forEach((project, projectIndex) => {
        if (project !== config.upstream.projectId) {
          context.addIssue({
            code: "custom",
            path: ["callers", index, "projects", projectIndex],
            message: `project ${project} is not upstream.projectId (${config.upstream.projectId}); this gateway serves that one project`,
          });
        }
      });
      if (
        caller.maxPhonesPerRequest !== undefined &&
        caller.maxPhonesPerRequest > config.maxPhonesPerRequest
      ) {
        context.addIssue({
          code: "custom",
          path: ["callers", index, "maxPhonesPerRequest"],
          message: `is over the gateway-wide maxPhonesPerRequest (${config.maxPhonesPerRequest})`,
        });
      }
    });
  });

/** The config file as written (input) and as parsed, defaults filled in (output). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type ParsedGatewayConfig = z.output<typeof gatewayConfigSchema>;
type ParsedCaller = ParsedGatewayConfig["callers"][number];

/** One caller with its secrets resolved from the environment. */
export interface CallerConfig extends Omit<ParsedCaller, "apiKeySha256" | "maxPhonesPerRequest"> {
  apiKeySha256: string[];
  maxPhonesPerRequest: number;
  /** The SDK-HMAC-SHA256 secret, read from the variable `secretKeyEnv` names. */
  secretKey: string | undefined;
}

/** A checked config, ready for `createApp`. */
export interface GatewayConfig extends Omit<ParsedGatewayConfig, "callers"> {
  callers: CallerConfig[];
}

/** The config is unusable; `message` lists every problem with the path of its field. */
export class GatewayConfigError extends Error {
  readonly code = "ERR_CPHGW_CONFIG";
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`${source} is invalid:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "GatewayConfigError";
    this.problems = problems;
  }
}

function toList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

/** `callers[0].buckets[1]`: the path notation core uses for request fields. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * Checks a config object and resolves the caller secrets with `secret` (an environment lookup).
 * Throws `GatewayConfigError` with every problem, each prefixed by its field path.
 */
export function parseGatewayConfig(
  raw: unknown,
  secret: (name: string) => string | undefined,
  source = "the gateway config",
): GatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GatewayConfigError(
      source,
      parsed.error.issues.map((issue) => `${formatPath(issue.path) || "(root)"}: ${issue.message}`),
    );
  }
  const problems: string[] = [];
  const config = parsed.data;
  const callers = config.callers.map((caller, index): CallerConfig => {
    let secretKey: string | undefined;
    if (caller.secretKeyEnv !== undefined) {
      secretKey = secret(caller.secretKeyEnv);
      if (secretKey === undefined) {
        problems.push(
          `callers[${index}].secretKeyEnv: the environment variable ${caller.secretKeyEnv} is not set`,
        );
      } else if (secretKey.length < 16) {
        problems.push(
          `callers[${index}].secretKeyEnv: the secret in ${caller.secretKeyEnv} is shorter than 16 characters`,
        );
      }
    }
    return {
      ...caller,
      apiKeySha256: toList(caller.apiKeySha256),
      maxPhonesPerRequest: caller.maxPhonesPerRequest ?? config.maxPhonesPerRequest,
      secretKey,
    };
  });
  if (problems.length > 0) throw new GatewayConfigError(source, problems);
  return { ...config, callers };
}

/** Reads a JSON config file and checks it (see `parseGatewayConfig`). */
export async function loadGatewayConfig(
  path: string,
  secret: (name: string) => string | undefined,
): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new GatewayConfigError(`the config file ${path}`, [
      `cannot be read (${reason}); check --config or CPH_GATEWAY_CONFIG`,
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new GatewayConfigError(`the config file ${path}`, [`is not JSON: ${(error as Error).message}`]);
  }
  return parseGatewayConfig(raw, secret, `the config file ${path}`);
}
