// The one module that reads process.env: everything else gets these values passed in.
import type { Credentials } from "@cph-export/http-client";
import { z } from "zod";

/** Names of the environment variables the gateway reads (caller secrets are named in the config). */
export const ENVIRONMENT_VARIABLES = {
  config: "CPH_GATEWAY_CONFIG",
  redisUrl: "CPH_GATEWAY_REDIS_URL",
  accessKey: "CPH_GATEWAY_UPSTREAM_AK",
  secretKey: "CPH_GATEWAY_UPSTREAM_SK",
  securityToken: "CPH_GATEWAY_UPSTREAM_SECURITY_TOKEN",
  token: "CPH_GATEWAY_UPSTREAM_TOKEN",
  iamDomain: "CPH_GATEWAY_UPSTREAM_IAM_DOMAIN",
  iamUser: "CPH_GATEWAY_UPSTREAM_IAM_USER",
  iamPassword: "CPH_GATEWAY_UPSTREAM_IAM_PASSWORD",
} as const;

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value));

const environmentSchema = z.object({
  CPH_GATEWAY_CONFIG: optionalText,
  CPH_GATEWAY_REDIS_URL: optionalText.pipe(
    z
      .string()
      .regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379")
      .optional(),
  ),
  CPH_GATEWAY_UPSTREAM_AK: optionalText,
  CPH_GATEWAY_UPSTREAM_SK: optionalText,
  CPH_GATEWAY_UPSTREAM_SECURITY_TOKEN: optionalText,
  CPH_GATEWAY_UPSTREAM_TOKEN: optionalText,
  CPH_GATEWAY_UPSTREAM_IAM_DOMAIN: optionalText,
  CPH_GATEWAY_UPSTREAM_IAM_USER: optionalText,
  CPH_GATEWAY_UPSTREAM_IAM_PASSWORD: optionalText,
});

/** What the gateway takes from its environment. */
export interface GatewayEnvironment {
  configPath: string | undefined;
  redisUrl: string | undefined;
  /** Undefined when no complete set is given (see `problems`). */
  upstreamCredentials: Credentials | undefined;
  /** What is wrong with the environment, by variable name (never a value). */
  problems: string[];
  /** Reads a caller secret named in the config (`secretKeyEnv`). */
  secret(name: string): string | undefined;
  /** Every secret value found, for redacting log lines. */
  secrets(): string[];
}

function upstreamCredentials(
  values: z.output<typeof environmentSchema>,
  problems: string[],
): Credentials | undefined {
  const names = ENVIRONMENT_VARIABLES;
  const ak = values.CPH_GATEWAY_UPSTREAM_AK;
  const sk = values.CPH_GATEWAY_UPSTREAM_SK;
  const domain = values.CPH_GATEWAY_UPSTREAM_IAM_DOMAIN;
  const user = values.CPH_GATEWAY_UPSTREAM_IAM_USER;
  const password = values.CPH_GATEWAY_UPSTREAM_IAM_PASSWORD;
  if (ak !== undefined || sk !== undefined) {
    if (ak === undefined || sk === undefined) {
      problems.push(`${names.accessKey} and ${names.secretKey} must be set together`);
      return undefined;
    }
    return {
      type: "aksk",
      accessKey: ak,
      secretKey: sk,
      securityToken: values.CPH_GATEWAY_UPSTREAM_SECURITY_TOKEN,
    };
  }
  if (values.CPH_GATEWAY_UPSTREAM_TOKEN !== undefined)
    return { type: "token", token: values.CPH_GATEWAY_UPSTREAM_TOKEN };
  if (domain !== undefined || user !== undefined || password !== undefined) {
    if (domain === undefined || user === undefined || password === undefined) {
      problems.push(`${names.iamDomain}, ${names.iamUser} and ${names.iamPassword} must be set together`);
      return undefined;
    }
    // The IAM endpoint is not a secret: it comes from the config (upstream.iamEndpoint).
    return { type: "password", domainName: domain, userName: user, password };
  }
  problems.push(
    `no upstream credentials: set ${names.accessKey} and ${names.secretKey}, or ${names.token}, ` +
      `or ${names.iamDomain}, ${names.iamUser} and ${names.iamPassword}`,
  );
  return undefined;
}

/** Reads and checks the gateway's environment (default `process.env`). Never throws. */
export function readEnvironment(
  source: Readonly<Record<string, string | undefined>> = process.env,
): GatewayEnvironment {
  const problems: string[] = [];
  const parsed = environmentSchema.safeParse(source);
  const values = parsed.success ? parsed.data : environmentSchema.parse({});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  }
  const credentials = upstreamCredentials(values, problems);
  const redisPassword = values.CPH_GATEWAY_REDIS_URL
    ? redisUrlPassword(values.CPH_GATEWAY_REDIS_URL)
    : undefined;
  const secretNames = new Set<string>();
  return {
    configPath: values.CPH_GATEWAY_CONFIG,
    redisUrl: values.CPH_GATEWAY_REDIS_URL,
    upstreamCredentials: credentials,
    problems,
    secret(name) {
      secretNames.add(name);
      const value = source[name];
      return value === undefined || value === "" ? undefined : value;
    },
    secrets() {
      const found = [
        values.CPH_GATEWAY_UPSTREAM_SK,
        values.CPH_GATEWAY_UPSTREAM_SECURITY_TOKEN,
        values.CPH_GATEWAY_UPSTREAM_TOKEN,
        values.CPH_GATEWAY_UPSTREAM_IAM_PASSWORD,
        redisPassword,
        ...[...secretNames].map((name) => source[name]),
      ];
      return found.filter((value): value is string => typeof value === "string" && value.length > 0);
    },
  };
}

function redisUrlPassword(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === "" ? undefined : password;
  } catch {
    return undefined;
  }
}
