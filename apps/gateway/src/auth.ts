import { createHash, hash, timingSafeEqual } from "node:crypto";
import { verifySignature } from "@cph-export/core";
import type { CallerConfig } from "./config.js";
import { GatewayError } from "./errors.js";

/** `sha256:<hex>` of an API key: the form the config stores. */
export function hashApiKey(apiKey: string): string {
  return `sha256:${createHash("sha256").update(apiKey, "utf8").digest("hex")}`;
}

function digestOf(hash: string): Buffer {
  return Buffer.from(hash.slice("sha256:".length), "hex");
}

/** What a request carries to authenticate; `body` and `url` are as received, for the signature. */
export interface AuthInput {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  /** The Authorization header, undefined when absent. */
  authorization: string | undefined;
  /** Every header: read only to verify a signature. */
  headers: Headers;
  body: Uint8Array;
  now: Date;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const UNAUTHORIZED = { "WWW-Authenticate": 'Bearer realm="cph-gateway"' };

/** Finds the caller of a request by bearer API key or SDK-HMAC-SHA256 signature. */
export class CallerRegistry {
  readonly #byAccessKey = new Map<string, CallerConfig>();
  readonly #keyDigests: Array<{ digest: Buffer; caller: CallerConfig }> = [];

  constructor(callers: readonly CallerConfig[]) {
    for (const caller of callers) {
      if (caller.accessKey !== undefined) this.#byAccessKey.set(caller.accessKey, caller);
      for (const hash of caller.apiKeySha256) this.#keyDigests.push({ digest: digestOf(hash), caller });
    }
  }

  /** The caller, or a `GatewayError` (401) that says what was wrong; never echoes a secret. */
  async authenticate(input: AuthInput): Promise<CallerConfig> {
    const authorization = input.authorization;
    if (authorization === undefined || authorization.trim() === "") {
      throw new GatewayError(
        "CPHGW.4011",
        "no credentials: send Authorization: Bearer <api key>, or sign the request with SDK-HMAC-SHA256 and a gateway-issued access key",
        { headers: UNAUTHORIZED },
      );
    }
    const bearer = BEARER.exec(authorization);
    if (bearer?.[1] !== undefined) return this.#byApiKey(bearer[1]);
    if (/^SDK-HMAC-SHA256\s/.test(authorization)) return this.#bySignature(input);
    throw new GatewayError(
      "CPHGW.4011",
      "unsupported Authorization scheme: use Bearer <api key> or SDK-HMAC-SHA256",
      { headers: UNAUTHORIZED },
    );
  }

  #byApiKey(apiKey: string): CallerConfig {
    // One-shot hashing: no Hash object per request.
    const digest = hash("sha256", apiKey, "buffer");
    let found: CallerConfig | undefined;
    // Every stored digest is compared, in constant time, so timing says nothing about which matched.
    for (const entry of this.#keyDigests) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.caller;
    }
    if (found === undefined) {
      throw new GatewayError(
        "CPHGW.4012",
        "the API key is not known to this gateway; check the key or ask for one",
        {
          headers: UNAUTHORIZED,
        },
      );
    }
    return found;
  }

  async #bySignature(input: AuthInput): Promise<CallerConfig> {
    const headers: Record<string, string> = {};
    input.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const result = await verifySignature({
      method: input.method,
      url: input.url,
      headers,
      body: input.body,
      now: input.now,
      lookup: (accessKey) => {
        const caller = this.#byAccessKey.get(accessKey);
        return caller?.secretKey === undefined ? undefined : { accessKey, secretKey: caller.secretKey };
      },
    });
    if (!result.ok) {
      const code = result.errorCode === "APIGW.0303" ? "CPHGW.4014" : "CPHGW.4013";
      throw new GatewayError(code, `SDK-HMAC-SHA256 authentication failed: ${result.reason}`, {
        headers: UNAUTHORIZED,
      });
    }
    const caller = this.#byAccessKey.get(result.accessKey);
    if (caller === undefined)
      throw new GatewayError("CPHGW.4013", "SDK-HMAC-SHA256 authentication failed: unknown access key");
    return caller;
  }
}
