// The one module that reads the environment and the profile file: flags > environment > profile.
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { resolveEndpoint } from "@cph-export/core";
import type { Credentials } from "@cph-export/http-client";
import { z } from "zod";
import { usageError } from "./errors.js";

/** The global flags that take part in configuration. */
export interface GlobalFlags {
  region?: string | undefined;
  endpoint?: string | undefined;
  projectId?: string | undefined;
  profile?: string | undefined;
}

/** Where to send requests and how to authenticate, with where each part came from. */
export interface ResolvedConfig {
  region: string | undefined;
  endpoint: string | undefined;
  projectId: string | undefined;
  iamEndpoint: string | undefined;
  credentials: Credentials | undefined;
  /** e.g. `environment (HUAWEICLOUD_SDK_AK/SK)` or `profile "prod" in ~/.config/cph-export/config.json`. */
  credentialSource: string | undefined;
  /** Values to scrub from every line the CLI prints. */
  secrets: string[];
  /** Things the user should hear about (a readable secrets file). */
  warnings: string[];
  configPath: string;
  profileName: string | undefined;
}

const profileSchema = z.strictObject({
  region: z.string().min(1).optional(),
  endpoint: z.string().min(1).optional(),
  projectId: z.string().min(1).optional(),
  iamEndpoint: z.string().min(1).optional(),
  accessKey: z.string().min(1).optional(),
  secretKey: z.string().min(1).optional(),
  securityToken: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  iamUser: z.string().min(1).optional(),
  iamPassword: z.string().min(1).optional(),
  iamDomain: z.string().min(1).optional(),
});
export type Profile = z.infer<typeof profileSchema>;

const configFileSchema = z.strictObject({
  defaultProfile: z.string().min(1).optional(),
  profiles: z.record(z.string(), profileSchema),
});
export type ConfigFile = z.infer<typeof configFileSchema>;

const SECRET_FIELDS = ["secretKey", "securityToken", "token", "iamPassword"] as const;

type Env = Readonly<Record<string, string | undefined>>;

function envValue(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/** `$CPH_EXPORT_CONFIG`, else `$XDG_CONFIG_HOME/cph-export/config.json`, else `~/.config/cph-export/config.json`. */
export function configFilePath(env: Env): { path: string; explicit: boolean } {
  const explicit = envValue(env, "CPH_EXPORT_CONFIG");
  if (explicit) return { path: explicit, explicit: true };
  const base = envValue(env, "XDG_CONFIG_HOME") ?? join(envValue(env, "HOME") ?? homedir(), ".config");
  return { path: join(base, "cph-export", "config.json"), explicit: false };
}

/** Reads and checks the profile file; undefined when it does not exist and was not asked for. */
export async function readConfigFile(
  path: string,
  required: boolean,
): Promise<{ file: ConfigFile; mode: number } | undefined> {
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([readFile(path, "utf8"), stat(path).then((info) => info.mode)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !required) return undefined;
    throw usageError(
      `cannot read the config file ${path} (${(error as NodeJS.ErrnoException).code ?? "error"}); check CPH_EXPORT_CONFIG or create it.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw usageError(
      `the config file ${path} is not valid JSON; fix it or point CPH_EXPORT_CONFIG elsewhere.`,
    );
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "the top level";
    throw usageError(
      `the config file ${path} is invalid at ${where}: ${issue?.message ?? "unexpected shape"}; it holds {"profiles": {"NAME": {"region", "projectId", "accessKey", "secretKey", ...}}}.`,
    );
  }
  return { file: parsed.data, mode };
}

/**
 * Resolves the configuration of a command that talks to CPH. Each setting comes from the flags,
 * else the environment, else the profile; credentials come as one set from the environment, else
 * from the profile (never from flags, which would show in `ps`).
 */
export async function resolveConfig(
  flags: GlobalFlags,
  env: Env,
  options: { platform?: NodeJS.Platform } = {},
): Promise<ResolvedConfig> {
  const { path, explicit } = configFilePath(env);
  const wanted = flags.profile;
  const loaded = await readConfigFile(path, explicit || wanted !== undefined);
  const warnings: string[] = [];
  let profile: Profile = {};
  let profileName: string | undefined;
  if (loaded) {
    profileName =
      wanted ?? loaded.file.defaultProfile ?? (loaded.file.profiles["default"] ? "default" : undefined);
    if (profileName !== undefined) {
      const found = loaded.file.profiles[profileName];
      if (!found) {
        const known = Object.keys(loaded.file.profiles);
        throw usageError(
          `there is no profile "${profileName}" in ${path}; known profiles: ${known.length ? known.join(", ") : "none"}.`,
        );
      }
      profile = found;
    }
    const holdsSecrets = Object.values(loaded.file.profiles).some((p) =>
      SECRET_FIELDS.some((field) => p[field] !== undefined),
    );
    if (holdsSecrets && (options.platform ?? process.platform) !== "win32" && (loaded.mode & 0o077) !== 0) {
      warnings.push(
        `the config file ${path} holds secrets and is readable by other users (mode ${(loaded.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      );
    }
  }
  const profileLabel = `profile "${profileName ?? ""}" in ${path}`;

  // Where to go: a flag wins over the environment, which wins over the profile, as a pair, so
  // that `--region` on the command line is not overridden by a CPH_ENDPOINT left in the shell.
  let endpoint: string | undefined;
  let region: string | undefined;
  if (flags.endpoint || flags.region) {
    endpoint = flags.endpoint;
    region = flags.region ?? envValue(env, "CPH_REGION") ?? profile.region;
  } else if (envValue(env, "CPH_ENDPOINT", "CPH_REGION")) {
    endpoint = envValue(env, "CPH_ENDPOINT");
    region = envValue(env, "CPH_REGION") ?? profile.region;
  } else {
    endpoint = profile.endpoint;
    region = profile.region;
  }
  const projectId =
    flags.projectId ?? envValue(env, "CPH_PROJECT_ID", "HUAWEICLOUD_SDK_PROJECT_ID") ?? profile.projectId;
  const iamEndpoint =
    envValue(env, "CPH_IAM_ENDPOINT", "HUAWEICLOUD_SDK_IAM_ENDPOINT") ?? profile.iamEndpoint;

  const fromEnv = credentialsFrom(
    {
      token: envValue(env, "CPH_AUTH_TOKEN"),
      accessKey: envValue(env, "HUAWEICLOUD_SDK_AK"),
      secretKey: envValue(env, "HUAWEICLOUD_SDK_SK"),
      securityToken: envValue(env, "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
      iamUser: envValue(env, "CPH_IAM_USER"),
      iamPassword: envValue(env, "CPH_IAM_PASSWORD"),
      iamDomain: envValue(env, "CPH_IAM_DOMAIN"),
    },
    {
      token: "CPH_AUTH_TOKEN",
      accessKey: "HUAWEICLOUD_SDK_AK",
      secretKey: "HUAWEICLOUD_SDK_SK",
      iamUser: "CPH_IAM_USER",
      iamPassword: "CPH_IAM_PASSWORD",
      iamDomain: "CPH_IAM_DOMAIN",
      where: "the environment",
    },
    iamEndpoint,
  );
  const fromProfile = fromEnv
    ? undefined
    : credentialsFrom(
        profile,
        {
          token: "token",
          accessKey: "accessKey",
          secretKey: "secretKey",
          iamUser: "iamUser",
          iamPassword: "iamPassword",
          iamDomain: "iamDomain",
          where: profileLabel,
        },
        iamEndpoint,
      );
  const credentials = fromEnv?.credentials ?? fromProfile?.credentials;
  const credentialSource = fromEnv
    ? `the environment (${fromEnv.names})`
    : fromProfile
      ? `${profileLabel} (${fromProfile.names})`
      : undefined;

  const secrets = [
    envValue(env, "CPH_AUTH_TOKEN"),
    envValue(env, "HUAWEICLOUD_SDK_SK"),
    envValue(env, "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
    envValue(env, "CPH_IAM_PASSWORD"),
    ...SECRET_FIELDS.map((field) => profile[field]),
  ].filter((value): value is string => value !== undefined);

  return {
    region,
    endpoint,
    projectId,
    iamEndpoint,
    credentials,
    credentialSource,
    secrets,
    warnings,
    configPath: path,
    profileName,
  };
}

interface CredentialFields {
  token?: string | undefined;
  accessKey?: string | undefined;
  secretKey?: string | undefined;
  securityToken?: string | undefined;
  iamUser?: string | undefined;
  iamPassword?: string | undefined;
  iamDomain?: string | undefined;
}

type Names = Record<
  "token" | "accessKey" | "secretKey" | "iamUser" | "iamPassword" | "iamDomain" | "where",
  string
>;

function credentialsFrom(
  fields: CredentialFields,
  names: Names,
  iamEndpoint: string | undefined,
): { credentials: Credentials; names: string } | undefined {
  if (fields.token) return { credentials: { type: "token", token: fields.token }, names: names.token };
  if (fields.accessKey || fields.secretKey) {
    if (!fields.accessKey || !fields.secretKey) {
      const missing = fields.accessKey ? names.secretKey : names.accessKey;
      throw usageError(
        `${missing} is missing in ${names.where}: AK/SK credentials need both ${names.accessKey} and ${names.secretKey}.`,
      );
    }
    return {
      credentials: {
        type: "aksk",
        accessKey: fields.accessKey,
        secretKey: fields.secretKey,
        securityToken: fields.securityToken,
      },
      names: `${names.accessKey}/${names.secretKey}`,
    };
  }
  if (fields.iamUser || fields.iamPassword) {
    const missing = [
      fields.iamUser ? undefined : names.iamUser,
      fields.iamPassword ? undefined : names.iamPassword,
      fields.iamDomain ? undefined : names.iamDomain,
    ].filter(Boolean);
    if (missing.length > 0) {
      throw usageError(
        `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing in ${names.where}: IAM password login needs the user, the password and the account (domain) name.`,
      );
    }
    return {
      credentials: {
        type: "password",
        userName: fields.iamUser as string,
        password: fields.iamPassword as string,
        domainName: fields.iamDomain as string,
        iamEndpoint,
      },
      names: `${names.iamUser}/${names.iamPassword}/${names.iamDomain}`,
    };
  }
  return undefined;
}

/** The settings a command that sends requests needs, or a usage error naming what is missing. */
export function requireTarget(config: ResolvedConfig, options: { credentials: boolean }): void {
  if (!config.endpoint && !config.region) {
    throw usageError(
      "no region or endpoint: give --region (e.g. cn-north-4) or --endpoint, set CPH_REGION or CPH_ENDPOINT, or add one to a profile.",
    );
  }
  // Checks the endpoint URL or the region name now, so that a typo is a usage error.
  resolveEndpoint({ region: config.region, endpoint: config.endpoint });
  if (!config.projectId) {
    throw usageError(
      "no project id: give --project-id, set CPH_PROJECT_ID (or HUAWEICLOUD_SDK_PROJECT_ID), or add projectId to a profile.",
    );
  }
  if (options.credentials && !config.credentials) {
    throw usageError(
      "no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or CPH_AUTH_TOKEN, or CPH_IAM_USER, CPH_IAM_PASSWORD and CPH_IAM_DOMAIN, or use a profile (--profile).",
    );
  }
}

/** True when output may be colored: a terminal, and NO_COLOR unset (https://no-color.org). */
export function colorEnabled(env: Env, isTTY: boolean): boolean {
  return isTTY && !env["NO_COLOR"] && env["TERM"] !== "dumb";
}
