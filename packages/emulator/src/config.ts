import { readFile } from "node:fs/promises";
import { LIMITS } from "@cph-export/core";
import { z } from "zod";
import { checkInventory, Inventory, inventorySchema } from "./inventory.js";

/**
 * The credentials the emulator accepts when neither a config nor the `CPH_EMULATOR_*`
 * environment gives any. They are public: never use them for anything real.
 */
export const DEMO_CREDENTIALS = Object.freeze({
  projectId: "0123456789abcdef0123456789abcdef",
  projectName: "cn-north-4",
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
  domainName: "demo-account",
  userName: "demo-user",
  password: "demo-password-0001",
});

const nonEmpty = z.string().min(1, "must not be empty");

const projectSchema = z.strictObject({
  id: nonEmpty.max(64, "must be at most 64 characters"),
  name: nonEmpty,
});

const accessKeySchema = z.strictObject({
  accessKey: nonEmpty,
  secretKey: nonEmpty,
  /** Makes this a temporary key: requests must send and sign this `X-Security-Token`. */
  securityToken: nonEmpty.optional(),
  /** Project ids the key may call; default every configured project. */
  projects: z.array(nonEmpty).optional(),
});

const userSchema = z.strictObject({
  /** The account (IAM domain) name. */
  domain: nonEmpty,
  name: nonEmpty,
  password: nonEmpty,
  /** Project ids the user may scope a token to; default every configured project. */
  projects: z.array(nonEmpty).optional(),
});

/** Fault injection settings; every field is optional and `{}` means no faults. */
export const faultSettingsSchema = z.strictObject({
  /** Requests per second per API above which answers are 429 `APIGW.0308`. */
  throttleRps: z.number().int().positive().optional(),
  /** Fraction (0..1) of batch-storage requests answered 503 `APIGW.0201` before any processing. */
  errorRate: z.number().min(0).max(1).optional(),
  /** Fraction (0..1) of batch-storage requests whose jobs are created and whose connection is then cut. */
  dropRate: z.number().min(0).max(1).optional(),
  /** Milliseconds added before every CPH and IAM answer. */
  latencyMs: z.number().int().min(0).max(600_000).optional(),
  /** Seed of the generator that decides which requests get an error or a drop. */
  seed: z.number().int().optional(),
  /** Fraction (0..1) of ListCloudPhones and ListCloudPhoneServers requests answered 503 `APIGW.0201`. */
  listErrorRate: z.number().min(0).max(1).optional(),
  /** Fraction (0..1) of phones whose export jobs fail (`CPS.0010`), picked from the seed and the phone id. */
  phoneFailRate: z.number().min(0).max(1).optional(),
});

const phonesSchema = z.strictObject({
  /** Phone ids answered with the per-phone error `CPS.0005` (not found). */
  missing: z.array(nonEmpty).optional(),
  /** Phone ids answered with the per-phone error `CPS.0006` (restricted, unavailable). */
  unavailable: z.array(nonEmpty).optional(),
  /** Phone ids whose jobs fail, with the error code each job ends with. */
  failing: z.record(z.string(), nonEmpty).optional(),
  /** Android version (major) per phone id; default that of the phone's inventory image (see the README). */
  androidVersions: z.record(z.string(), z.number().int().min(1).max(99)).optional(),
});

/** The schema of a config file and of `startEmulator({ config })`. */
export const emulatorConfigSchema = z.strictObject({
  projects: z.array(projectSchema).optional(),
  accessKeys: z.array(accessKeySchema).optional(),
  users: z.array(userSchema).optional(),
  tokenTtlSeconds: z.number().int().positive().optional(),
  jobDurationMs: z.number().int().min(0).optional(),
  phones: phonesSchema.optional(),
  faults: faultSettingsSchema.optional(),
  maxPhonesPerRequest: z.number().int().positive().optional(),
  controlRoutes: z.boolean().optional(),
  /** Archives written at once; default 4. */
  archiveConcurrency: z.number().int().positive().max(64).optional(),
  /** The servers and phones of the list routes; default 40 phones on 2 servers. */
  inventory: inventorySchema.optional(),
});

/** A config as written in a file or passed to `startEmulator`; every field is optional. */
export type EmulatorConfig = z.input<typeof emulatorConfigSchema>;
/** Faults as set by the config or `POST /__emulator/faults`. */
export type FaultSettings = z.output<typeof faultSettingsSchema>;
/** A project: its id (the `{project_id}` of the paths) and the name a token scope may use. */
export type ProjectConfig = z.output<typeof projectSchema>;
/** An AK/SK pair, temporary when it has a security token. */
export type AccessKeyConfig = z.output<typeof accessKeySchema>;
/** An IAM user of an account (domain) with a password. */
export type UserConfig = z.output<typeof userSchema>;

/** A config with every default filled in. */
export interface ResolvedEmulatorConfig {
  projects: ProjectConfig[];
  accessKeys: AccessKeyConfig[];
  users: UserConfig[];
  tokenTtlSeconds: number;
  jobDurationMs: number;
  phones: {
    missing: Set<string>;
    unavailable: Set<string>;
    failing: Map<string, string>;
    androidVersions: Map<string, number>;
  };
  faults: FaultSettings;
  maxPhonesPerRequest: number;
  controlRoutes: boolean;
  archiveConcurrency: number;
  inventory: Inventory;
}

/** A config that breaks the schema; the message names every offending field. */
export class EmulatorConfigError extends Error {
  readonly code = "ERR_CPH_EMULATOR_CONFIG";
  readonly problems: readonly string[];

  constructor(where: string, problems: readonly string[]) {
    super(`invalid emulator config (${where}): ${problems.join("; ")}`);
    this.name = "EmulatorConfigError";
    this.problems = problems;
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "(root)";
}

/** Checks a config against the schema and the cross references (projects named by keys and users). */
export function parseEmulatorConfig(input: unknown, where = "config"): EmulatorConfig {
  const parsed = emulatorConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new EmulatorConfigError(
      where,
      parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
    );
  }
  const config = parsed.data;
  const problems: string[] = [];
  const projectIds = new Set<string>();
  const projectNames = new Set<string>();
  config.projects?.forEach((project, index) => {
    if (projectIds.has(project.id))
      problems.push(`projects[${index}].id: project ${project.id} is listed twice`);
    if (projectNames.has(project.name))
      problems.push(`projects[${index}].name: name ${project.name} is used twice`);
    projectIds.add(project.id);
    projectNames.add(project.name);
  });
  const known = config.projects ? projectIds : new Set([DEMO_CREDENTIALS.projectId]);
  const seenKeys = new Set<string>();
  config.accessKeys?.forEach((key, index) => {
    if (seenKeys.has(key.accessKey))
      problems.push(`accessKeys[${index}].accessKey: access key ${key.accessKey} is listed twice`);
    seenKeys.add(key.accessKey);
    key.projects?.forEach((id, at) => {
      if (!known.has(id))
        problems.push(`accessKeys[${index}].projects[${at}]: project ${id} is not in projects`);
    });
  });
  const seenUsers = new Set<string>();
  config.users?.forEach((user, index) => {
    const id = `${user.domain}\u0000${user.name}`;
    if (seenUsers.has(id))
      problems.push(`users[${index}].name: user ${user.domain}/${user.name} is listed twice`);
    seenUsers.add(id);
    user.projects?.forEach((projectId, at) => {
      if (!known.has(projectId))
        problems.push(`users[${index}].projects[${at}]: project ${projectId} is not in projects`);
    });
  });
  problems.push(...checkInventory(config.inventory));
  if (problems.length > 0) throw new EmulatorConfigError(where, problems);
  return config;
}

/**
 * Reads and validates a JSON config file.
 *
 * @example const config = await loadEmulatorConfig("emulator.json"); await startEmulator({ dataDir, config });
 */
export async function loadEmulatorConfig(file: string): Promise<EmulatorConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const reason = cause instanceof Error && "code" in cause ? String(cause.code) : String(cause);
    throw new EmulatorConfigError(file, [`cannot read the file (${reason}); check the --config path`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    // Not the parser's message: V8 quotes the text around the error, which may be a secret key.
    throw new EmulatorConfigError(file, [
      `the file is not JSON${syntaxErrorWhere(text, cause)}; check its syntax`,
    ]);
  }
  return parseEmulatorConfig(json, file);
}

/** ` (line L, column C)` of a JSON syntax error, when the parser gives its position. */
function syntaxErrorWhere(text: string, cause: unknown): string {
  const position = cause instanceof Error ? /at position (\d+)/.exec(cause.message)?.[1] : undefined;
  if (position === undefined) return "";
  const before = text.slice(0, Number(position));
  const line = before.split("\n").length;
  const column = Number(position) - before.lastIndexOf("\n");
  return ` (line ${line}, column ${column})`;
}

/** Fills in the defaults: demo credentials for whatever the config leaves out. */
export function resolveEmulatorConfig(config: EmulatorConfig = {}): ResolvedEmulatorConfig {
  const parsed = parseEmulatorConfig(config);
  return {
    projects: parsed.projects ?? [{ id: DEMO_CREDENTIALS.projectId, name: DEMO_CREDENTIALS.projectName }],
    accessKeys: parsed.accessKeys ?? [
      { accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    ],
    users: parsed.users ?? [
      {
        domain: DEMO_CREDENTIALS.domainName,
        name: DEMO_CREDENTIALS.userName,
        password: DEMO_CREDENTIALS.password,
      },
    ],
    tokenTtlSeconds: parsed.tokenTtlSeconds ?? 86_400,
    jobDurationMs: parsed.jobDurationMs ?? 2000,
    phones: {
      missing: new Set(parsed.phones?.missing ?? []),
      unavailable: new Set(parsed.phones?.unavailable ?? []),
      failing: new Map(Object.entries(parsed.phones?.failing ?? {})),
      androidVersions: new Map(Object.entries(parsed.phones?.androidVersions ?? {})),
    },
    faults: { ...parsed.faults },
    maxPhonesPerRequest: parsed.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest,
    controlRoutes: parsed.controlRoutes ?? true,
    archiveConcurrency: parsed.archiveConcurrency ?? 4,
    inventory: new Inventory(parsed.inventory),
  };
}

/** One project, key pair and user to add, as given by the `CPH_EMULATOR_*` environment. */
export interface ExtraCredentials {
  projectId?: string | undefined;
  accessKey?: { accessKey: string; secretKey: string } | undefined;
  user?: { domain: string; name: string; password: string } | undefined;
}

/** Adds the environment's project, key and user to a config (the demo ones then stay out). */
export function addCredentials(config: EmulatorConfig, extra: ExtraCredentials): EmulatorConfig {
  const out: EmulatorConfig = { ...config };
  if (extra.projectId && !config.projects?.some((project) => project.id === extra.projectId)) {
    const taken = new Set((config.projects ?? []).map((project) => project.name));
    const name = taken.has(DEMO_CREDENTIALS.projectName)
      ? `project-${extra.projectId.slice(0, 8)}`
      : DEMO_CREDENTIALS.projectName;
    out.projects = [...(config.projects ?? []), { id: extra.projectId, name }];
  }
  if (extra.accessKey) out.accessKeys = [...(config.accessKeys ?? []), { ...extra.accessKey }];
  if (extra.user) out.users = [...(config.users ?? []), { ...extra.user }];
  return out;
}
