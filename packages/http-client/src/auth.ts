import { createHash, createHmac } from "node:crypto";
import {
  buildIamTokenRequest,
  CphApiError,
  CphAuthError,
  CphError,
  CphValidationError,
  type HttpRequest,
  type HttpResponseData,
  parseIamTokenResponse,
  REDACTED,
  type SigningHasher,
  signRequest,
} from "@cph-export/core";
import { raceSignal } from "./retry.js";
import type { Credentials } from "./types.js";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** A request with credentials applied, and the token used (so a 401 can invalidate exactly it). */
export interface AppliedAuth {
  request: HttpRequest;
  token?: string | undefined;
}

/** Puts credentials on requests. Holds the secrets; never prints them. */
export interface Authenticator {
  readonly type: Credentials["type"];
  apply(request: HttpRequest, signal?: AbortSignal): Promise<AppliedAuth>;
  /** Called after a 401 answered a request sent with `token`; true when one retry with fresh credentials can help. */
  invalidate(token: string | undefined): boolean;
  authenticate(signal?: AbortSignal): Promise<void>;
  /** Every secret value, for scrubbing texts. */
  secrets(): string[];
  /** What may be shown: the type and non-secret identifiers. */
  toJSON(): Record<string, string>;
}

abstract class BaseAuthenticator implements Authenticator {
  abstract readonly type: Credentials["type"];
  abstract apply(request: HttpRequest, signal?: AbortSignal): Promise<AppliedAuth>;
  abstract secrets(): string[];
  abstract toJSON(): Record<string, string>;

  invalidate(_token: string | undefined): boolean {
    return false;
  }

  async authenticate(_signal?: AbortSignal): Promise<void> {}

  toString(): string {
    return `${this.type} credentials ${JSON.stringify(this.toJSON())}`;
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/** The headers plus `X-Auth-Token` (Object.assign: a spread with an added key costs several times as much). */
function withToken(headers: Record<string, string>, token: string): Record<string, string> {
  const out = Object.assign({}, headers);
  out["X-Auth-Token"] = token;
  return out;
}

class TokenAuthenticator extends BaseAuthenticator {
  readonly type = "token" as const;
  readonly #token: string;

  constructor(token: string) {
    super();
    this.#token = token;
  }

  async apply(request: HttpRequest): Promise<AppliedAuth> {
    return { request: { ...request, headers: withToken(request.headers, this.#token) }, token: this.#token };
  }

  secrets(): string[] {
    return [this.#token];
  }

  toJSON(): Record<string, string> {
    return { type: this.type, token: REDACTED };
  }
}

/** `node:crypto` hashing for signatures: the same bytes as core's Web Crypto default, at a fraction of the cost per call. */
export const NODE_HASHER: SigningHasher = Object.freeze({
  sha256Hex: (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex"),
  hmacSha256Hex: (key: string, message: string) => createHmac("sha256", key).update(message).digest("hex"),
});

class AkSkAuthenticator extends BaseAuthenticator {
  readonly type = "aksk" as const;
  readonly #accessKey: string;
  readonly #secretKey: string;
  readonly #securityToken: string | undefined;
  readonly #projectId: string;

  constructor(credentials: Extract<Credentials, { type: "aksk" }>, projectId: string) {
    super();
    this.#accessKey = credentials.accessKey;
    this.#secretKey = credentials.secretKey;
    this.#securityToken = credentials.securityToken || undefined;
    this.#projectId = projectId;
  }

  async apply(request: HttpRequest): Promise<AppliedAuth> {
    // Signed per attempt: X-Sdk-Date must be fresh, and the body hashed is the exact one sent.
    const signed = await signRequest(request, {
      accessKey: this.#accessKey,
      secretKey: this.#secretKey,
      securityToken: this.#securityToken,
      projectId: this.#projectId,
      hasher: NODE_HASHER,
    });
    return { request: signed };
  }

  secrets(): string[] {
    return this.#securityToken ? [this.#secretKey, this.#securityToken] : [this.#secretKey];
  }

  toJSON(): Record<string, string> {
    const shown: Record<string, string> = {
      type: this.type,
      accessKey: this.#accessKey,
      secretKey: REDACTED,
    };
    if (this.#securityToken) shown["securityToken"] = REDACTED;
    return shown;
  }
}

/** Sends the IAM token request (with the client's retries, without credentials). */
export type TokenFetcher = (request: HttpRequest) => Promise<HttpResponseData>;

interface CachedToken {
  value: string;
  expiresAt: number;
  refreshAt: number;
}

/** Refresh this long before `expires_at`: 10% of the lifetime, at most 5 minutes. */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(5 * 60_000, Math.max(0, lifetimeMs) * 0.1);
}

/** After IAM refuses the credentials, answer every caller with that refusal for this long (locks come after 5 failures). */
export const AUTH_FAILURE_COOLDOWN_MS = 5 * 60_000;

class PasswordAuthenticator extends BaseAuthenticator {
  readonly type = "password" as const;
  readonly #credentials: Extract<Credentials, { type: "password" }>;
  readonly #iamEndpoint: string;
  readonly #projectId: string;
  readonly #fetch: TokenFetcher;
  readonly #onToken: (message: string) => void;
  #token: CachedToken | undefined;
  #inflight: Promise<string> | undefined;
  #refusal: { error: CphError; until: number } | undefined;

  constructor(
    credentials: Extract<Credentials, { type: "password" }>,
    context: {
      iamEndpoint: string;
      projectId: string;
      fetch: TokenFetcher;
      onToken: (message: string) => void;
    },
  ) {
    super();
    this.#credentials = credentials;
    this.#iamEndpoint = context.iamEndpoint;
    this.#projectId = context.projectId;
    this.#fetch = context.fetch;
    this.#onToken = context.onToken;
  }

  async apply(request: HttpRequest, signal?: AbortSignal): Promise<AppliedAuth> {
    const token = await this.#current(signal);
    return { request: { ...request, headers: withToken(request.headers, token) }, token };
  }

  override invalidate(token: string | undefined): boolean {
    if (token !== undefined && this.#token?.value === token) this.#token = undefined;
    return true;
  }

  override async authenticate(signal?: AbortSignal): Promise<void> {
    await this.#current(signal);
  }

  async #current(signal: AbortSignal | undefined): Promise<string> {
    const now = Date.now();
    const cached = this.#token;
    if (cached && now < cached.refreshAt) return cached.value;
    if (this.#refusal && now < this.#refusal.until) throw this.#refusal.error;
    // Every concurrent caller awaits the same token request.
    this.#inflight ??= this.#fetchToken().finally(() => {
      this.#inflight = undefined;
    });
    try {
      return await raceSignal(this.#inflight, signal);
    } catch (error) {
      // A refresh that failed for a transient reason may still fall back on a token that has not expired.
      if (!(error instanceof CphAuthError) && !signal?.aborted && cached && Date.now() < cached.expiresAt)
        return cached.value;
      throw error;
    }
  }

  async #fetchToken(): Promise<string> {
    const { domainName, userName, password } = this.#credentials;
    const request = buildIamTokenRequest({
      iamEndpoint: this.#iamEndpoint,
      domainName,
      userName,
      password,
      project: this.#credentials.project ?? { id: this.#projectId },
    });
    const startedAt = Date.now();
    try {
      const { token, expiresAt } = parseIamTokenResponse(await this.#fetch(request));
      const lifetime = expiresAt.getTime() - startedAt;
      this.#token = {
        value: token,
        expiresAt: expiresAt.getTime(),
        refreshAt: expiresAt.getTime() - refreshMargin(lifetime),
      };
      this.#refusal = undefined;
      this.#onToken(`IAM token obtained for user "${userName}", expires at ${expiresAt.toISOString()}`);
      return token;
    } catch (error) {
      const refusal = this.#asRefusal(error);
      if (!refusal) throw error;
      this.#refusal = { error: refusal, until: Date.now() + AUTH_FAILURE_COOLDOWN_MS };
      throw refusal;
    }
  }

  /** A definite answer from IAM (not a transport failure or throttling) is an auth failure. */
  #asRefusal(error: unknown): CphError | undefined {
    const where = `(IAM token request for user "${this.#credentials.userName}" of account "${this.#credentials.domainName}" at ${this.#iamEndpoint}; check the user, password and account names)`;
    if (error instanceof CphApiError) {
      if (error.retryable) return undefined;
      return new CphAuthError({
        status: error.status,
        errorCode: error.errorCode,
        errorMessage: `${error.errorMessage} ${where}`,
        requestId: error.requestId,
      });
    }
    if (error instanceof CphError && error.code === "ERR_CPH_AUTH")
      return new CphError("ERR_CPH_AUTH", `${error.message} ${where}`);
    return undefined;
  }

  secrets(): string[] {
    const secrets = [this.#credentials.password];
    if (this.#token) secrets.push(this.#token.value);
    return secrets;
  }

  toJSON(): Record<string, string> {
    return {
      type: this.type,
      domainName: this.#credentials.domainName,
      userName: this.#credentials.userName,
      password: REDACTED,
      iamEndpoint: this.#iamEndpoint,
    };
  }
}

function required(value: unknown, path: string, what: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new CphValidationError([
      { code: "required", path, message: `${what} is required`, severity: "error" },
    ]);
  }
}

/** Builds the authenticator for credentials, checking that every required field is present (never echoing values). */
export function createAuthenticator(
  credentials: Credentials,
  context: {
    projectId: string;
    iamEndpoint: string;
    fetch: TokenFetcher;
    onToken: (message: string) => void;
  },
): Authenticator {
  switch (credentials?.type) {
    case "token":
      required(credentials.token, "credentials.token", "the token");
      return new TokenAuthenticator(credentials.token);
    case "aksk":
      required(credentials.accessKey, "credentials.accessKey", "the access key (AK)");
      required(credentials.secretKey, "credentials.secretKey", "the secret key (SK)");
      return new AkSkAuthenticator(credentials, context.projectId);
    case "password":
      required(credentials.domainName, "credentials.domainName", "the account (domain) name");
      required(credentials.userName, "credentials.userName", "the IAM user name");
      required(credentials.password, "credentials.password", "the IAM password");
      return new PasswordAuthenticator(credentials, context);
    default:
      throw new CphValidationError([
        {
          code: "invalid_type",
          path: "credentials.type",
          message: 'credentials.type must be "token", "aksk" or "password"',
          severity: "error",
        },
      ]);
  }
}
