// One request as the gateway's pipeline sees it, whichever entry it came by: hono (app.fetch, and
// every route) or the direct node:http lane (node-lane.ts, the hot CPH routes). What the handlers
// note on it (route, caller, error code...) is what the access log and the metrics report.
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { GatewayError } from "./errors.js";

/** Where an exchange reads its request headers: Node's raw list, or a web `Headers`. */
export type HeaderSource = readonly string[] | Headers;

export class Exchange {
  /** `performance.now()` when the request came in. */
  readonly started = performance.now();
  /** The route label, with `{placeholders}`; none means no route matched. */
  route: string | undefined;
  caller: string | undefined;
  accessKey: string | undefined;
  errorCode: string | undefined;
  idempotency: string | undefined;
  /** Milliseconds spent waiting for the upstream, when it was called. */
  upstreamMs: number | undefined;
  #headers: Headers | undefined;

  /**
   * @param target the path and query exactly as received (what an SDK-HMAC-SHA256 client signed)
   * @param requestId the id the answer, the log and the upstream call carry
   */
  constructor(
    readonly method: string,
    readonly target: string,
    readonly requestId: string,
    private readonly source: HeaderSource,
  ) {}

  /** The path, without the query. */
  get path(): string {
    const query = this.target.indexOf("?");
    return query === -1 ? this.target : this.target.slice(0, query);
  }

  /**
   * A request header as `Headers.get` gives it (repeated ones joined with ", "). From Node's raw
   * list it is read without building a `Headers` of every header of the request.
   */
  header(name: string): string | undefined {
    return headerOf(this.source, name);
  }

  /** Every request header (a signature names the ones it covers); built on first use. */
  get headers(): Headers {
    if (this.source instanceof Headers) return this.source;
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (let index = 0; index + 1 < this.source.length; index += 2)
        headers.append(this.source[index] as string, this.source[index + 1] as string);
      this.#headers = headers;
    }
    return this.#headers;
  }
}

/** A header from a raw list (`name` in lower case) or a `Headers`. */
export function headerOf(source: HeaderSource, name: string): string | undefined {
  if (source instanceof Headers) return source.get(name) ?? undefined;
  let value: string | undefined;
  for (let index = 0; index + 1 < source.length; index += 2) {
    const key = source[index] as string;
    if (key.length === name.length && key.toLowerCase() === name) {
      const item = source[index + 1] as string;
      value = value === undefined ? item : `${value}, ${item}`;
    }
  }
  return value;
}

export type GatewayEnv = { Variables: { exchange: Exchange }; Bindings: { incoming?: IncomingMessage } };
export type AppContext = Context<GatewayEnv>;

/**
 * What hono hands the gateway of a request: under @hono/node-server, Node's own target and raw
 * headers (its web `Request` would build a `Headers` of them all); under `app.fetch`, the Request's.
 */
export function requestParts(c: AppContext): { target: string; headers: HeaderSource } {
  const incoming = c.env?.incoming;
  const raw = incoming?.url;
  if (incoming?.rawHeaders !== undefined && typeof raw === "string" && raw.startsWith("/"))
    return { target: raw, headers: incoming.rawHeaders };
  const url = c.req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return {
    target: start === -1 ? "/" : url.slice(start),
    headers: incoming?.rawHeaders ?? c.req.raw.headers,
  };
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
