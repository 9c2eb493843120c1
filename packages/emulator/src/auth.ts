import { randomBytes } from "node:crypto";
import { timingSafeEqual, verifySignature } from "@cph-export/core";
import type { ProjectConfig, ResolvedEmulatorConfig, UserConfig } from "./config.js";
import { stableId } from "./random.js";

/** What the emulator knows about an issued IAM token. */
export interface TokenRecord {
  project: ProjectConfig;
  user: UserConfig;
  issuedAt: Date;
  expiresAt: Date;
}

/** Issued IAM tokens; they outlive `reset` so that clients keep working. */
export class TokenStore {
  readonly #tokens = new Map<string, TokenRecord>();

  issue(record: TokenRecord): string {
    // Real tokens are long base64 blobs starting with MII; the shape helps spot them in logs.
    const token = `MIIemu${randomBytes(48).toString("base64url")}`;
    this.#sweep(record.issuedAt);
    this.#tokens.set(token, record);
    return token;
  }

  get(token: string): TokenRecord | undefined {
    return this.#tokens.get(token);
  }

  #sweep(now: Date): void {
    if (this.#tokens.size < 10_000) return;
    for (const [token, record] of this.#tokens) if (record.expiresAt <= now) this.#tokens.delete(token);
  }
}

export function userId(user: UserConfig): string {
  return stableId(`user:${user.domain}:${user.name}`);
}

export function domainId(domain: string): string {
  return stableId(`domain:${domain}`);
}

/** The users a password matches: by account (domain) and user name, password compared in constant time. */
export function checkPassword(
  config: ResolvedEmulatorConfig,
  domain: string,
  name: string,
  password: string,
): UserConfig | undefined {
  const user = config.users.find((candidate) => candidate.domain === domain && candidate.name === name);
  if (!user) return undefined;
  return timingSafeEqual(user.password, password) ? user : undefined;
}

export function projectsOf(
  config: ResolvedEmulatorConfig,
  allowed: readonly string[] | undefined,
): ProjectConfig[] {
  return allowed ? config.projects.filter((project) => allowed.includes(project.id)) : config.projects;
}

export type AuthOutcome =
  | { ok: true; method: "token" | "aksk" }
  | { ok: false; status: 401 | 403; errorCode: "APIGW.0301" | "APIGW.0302" | "APIGW.0303"; message: string };

export interface AuthInput {
  method: string;
  /** Path and query as received. */
  url: string;
  /** Received headers, lowercase names. */
  headers: Record<string, string>;
  body: Uint8Array;
  projectId: string;
  config: ResolvedEmulatorConfig;
  tokens: TokenStore;
  now: Date;
}

const PREFIX = "Incorrect IAM authentication information";

/**
 * Authenticates a CPH call as the API gateway does: an `X-Auth-Token` scoped to the project of
 * the path, or an `SDK-HMAC-SHA256` signature verified by core over the raw bytes received.
 */
export async function authenticate(input: AuthInput): Promise<AuthOutcome> {
  const token = input.headers["x-auth-token"];
  if (token !== undefined) {
    const record = input.tokens.get(token);
    if (!record)
      return { ok: false, status: 401, errorCode: "APIGW.0301", message: `${PREFIX}: decrypt token fail` };
    if (record.expiresAt <= input.now) {
      return {
        ok: false,
        status: 401,
        errorCode: "APIGW.0301",
        message: `${PREFIX}: token expired; get a new token from IAM`,
      };
    }
    if (record.project.id !== input.projectId) {
      return {
        ok: false,
        status: 403,
        errorCode: "APIGW.0302",
        message: `the token is scoped to project ${record.project.id}, not ${input.projectId}; get a token scoped to this project`,
      };
    }
    return { ok: true, method: "token" };
  }
  if (input.headers["authorization"] === undefined) {
    return {
      ok: false,
      status: 401,
      errorCode: "APIGW.0301",
      message: `${PREFIX}: no X-Auth-Token and no Authorization header`,
    };
  }
  const keys = input.config.accessKeys;
  const result = await verifySignature({
    method: input.method,
    url: input.url,
    headers: input.headers,
    body: input.body,
    lookup: (accessKey) => keys.find((key) => key.accessKey === accessKey),
    now: input.now,
  });
  if (!result.ok)
    return { ok: false, status: 401, errorCode: result.errorCode, message: `${PREFIX}: ${result.reason}` };
  const key = keys.find((candidate) => candidate.accessKey === result.accessKey)!;
  const allowed = projectsOf(input.config, key.projects).some((project) => project.id === input.projectId);
  if (!allowed) {
    return {
      ok: false,
      status: 403,
      errorCode: "APIGW.0302",
      message: `access key ${key.accessKey} may not call project ${input.projectId}`,
    };
  }
  const projectHeader = input.headers["x-project-id"];
  if (projectHeader !== undefined && projectHeader !== input.projectId) {
    return {
      ok: false,
      status: 403,
      errorCode: "APIGW.0302",
      message: `X-Project-Id ${projectHeader} does not match the project ${input.projectId} of the path`,
    };
  }
  return { ok: true, method: "aksk" };
}
