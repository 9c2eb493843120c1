// The hono context of a gateway request, and what the gateway reads of the incoming request itself.
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { GatewayError } from "./errors.js";

/** What the handlers of one request note for the access log and metrics. */
export type Variables = {
  requestId: string;
  route: string;
  caller: string | undefined;
  accessKey: string | undefined;
  errorCode: string | undefined;
  idempotency: string | undefined;
  /** Milliseconds spent waiting for the upstream, when it was called. */
  upstreamMs: number | undefined;
};
export type GatewayEnv = { Variables: Variables; Bindings: { incoming?: IncomingMessage } };
export type AppContext = Context<GatewayEnv>;

/**
 * A request header as `Headers.get` gives it (repeated ones joined with ", "), read from the raw
 * headers Node parsed: under @hono/node-server, `c.req.header()` first builds a Headers object of
 * every header of the request.
 */
export function requestHeader(c: AppContext, name: string): string | undefined {
  const raw = c.env?.incoming?.rawHeaders;
  if (raw === undefined) return c.req.header(name);
  let value: string | undefined;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const key = raw[index] as string;
    if (key.length === name.length && key.toLowerCase() === name) {
      const item = raw[index + 1] as string;
      value = value === undefined ? item : `${value}, ${item}`;
    }
  }
  return value;
}

/** The path and query exactly as received (what an SDK-HMAC-SHA256 client signed). */
export function receivedTarget(c: AppContext): string {
  const raw = c.env?.incoming?.url;
  if (typeof raw === "string" && raw.startsWith("/")) return raw;
  const url = c.req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start === -1 ? "/" : url.slice(start);
}

/** `Idempotency-Key` is a structured-field string (`"abc"`); a bare token is accepted as well. */
export function parseIdempotencyKey(value: string): string {
  const trimmed = value.trim();
  const key =
    trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
  if (!/^[\x21-\x7e]{1,255}$/.test(key) || key.includes('"') || key.includes("\\")) {
    throw new GatewayError(
      "CPHGW.4004",
      "Idempotency-Key must be 1-255 visible ASCII characters without quotes or backslashes, e.g. a UUID",
      {
        details: [
          {
            code: "idempotency_key_invalid",
            path: "headers.idempotency-key",
            message: "not 1-255 visible ASCII characters",
          },
        ],
      },
    );
  }
  return key;
}
