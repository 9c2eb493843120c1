import {
  CphNetworkError,
  type HttpRequest,
  type HttpResponseData,
  type NetworkPhase,
} from "@cph-export/core";
import { Agent, type Dispatcher, EnvHttpProxyAgent, request as undiciRequest } from "undici";

/** Timeouts with every phase filled in. */
export interface ResolvedTimeouts {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
}

/** Default per-phase timeouts: connect 10 s, response headers 30 s, between body chunks 30 s. */
export const DEFAULT_TIMEOUTS: ResolvedTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 30_000 };

/** Below Node's default 5 s server keep-alive, so the client never reuses a socket the server is closing. */
const KEEP_ALIVE_MS = 4_000;

const PROXY_VARIABLES = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"];

/**
 * The default pooled dispatcher: keep-alive, per-phase timeouts, and HTTP(S)_PROXY / NO_PROXY.
 * An `EnvHttpProxyAgent` reads the proxy variables once, when made: without any, it sends every
 * request directly, after parsing its origin and checking NO_PROXY; a plain `Agent` does the same
 * without that work.
 */
export function createDefaultDispatcher(timeouts: ResolvedTimeouts): Dispatcher {
  const options = {
    keepAliveTimeout: KEEP_ALIVE_MS,
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
  };
  const proxied = PROXY_VARIABLES.some((name) => Boolean(process.env[name]));
  return proxied ? new EnvHttpProxyAgent(options) : new Agent(options);
}

// Failures that prove the request never left: no connection was ever established.
const CONNECT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_PRX_TLS",
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
]);

/** TLS verification failures: connect-phase, but sending again cannot help. */
export const PERMANENT_CONNECT_CODES = new Set([
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
]);

// The request was written (or may have been) and no complete answer came back.
const RESPONSE_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_HEADERS_OVERFLOW",
  "HPE_INVALID_CONSTANT",
]);

/** The error code of a transport failure, looking through wrappers (AggregateError of happy eyeballs, `cause`). */
export function transportErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const candidate = error as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof candidate.code === "string") return candidate.code;
  if (Array.isArray(candidate.errors)) {
    for (const inner of candidate.errors) {
      const code = transportErrorCode(inner);
      if (code) return code;
    }
  }
  return candidate.cause === undefined ? undefined : transportErrorCode(candidate.cause);
}

function phaseOf(error: unknown, headersReceived: boolean): NetworkPhase {
  if (headersReceived) return "response";
  const code = transportErrorCode(error);
  if (code && CONNECT_CODES.has(code)) return "connect";
  // undici reports a refused proxy CONNECT as an aborted request; the target was never reached.
  if (code === "UND_ERR_ABORTED" && error instanceof Error && /^Proxy response/.test(error.message))
    return "connect";
  if (code && RESPONSE_CODES.has(code)) return "response";
  return "send";
}

function describe(error: unknown): string {
  const code = transportErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (!code) return message || "unknown error";
  return message && !message.includes(code) ? `${code}: ${message}` : message || code;
}

/** Maps an undici failure to a `CphNetworkError` whose `phase` says whether the request may have been processed. */
export function toNetworkError(
  error: unknown,
  request: { method: string; url: string },
  headersReceived = false,
): CphNetworkError {
  const phase = phaseOf(error, headersReceived);
  const where = `${request.method} ${safeUrl(request.url)}`;
  const reason = describe(error);
  const message =
    phase === "connect"
      ? `could not connect for ${where} (${reason}); nothing was sent. Check the endpoint, the network and HTTPS_PROXY/NO_PROXY`
      : phase === "send"
        ? `the connection failed while ${where} was being sent or answered (${reason}); the service may have received it`
        : `no complete answer to ${where} (${reason}); the service may have processed it`;
  return new CphNetworkError(message, { phase, cause: error });
}

/** Origin and path only: queries can be long and are never needed to locate a failure. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** A URL split once into what undici dispatches (`origin`, `path`) and what events show (`shown`). */
export interface RequestTarget {
  origin: string;
  /** Path and query, as undici would take them from the URL. */
  path: string;
  /** Origin and path without the query: `safeUrl`. */
  shown: string;
}

/** Splits an http(s) URL as undici's `request(url)` would; undefined for anything else. */
export function requestTarget(url: string): RequestTarget | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  const { origin, pathname, search } = parsed;
  return { origin, path: search ? `${pathname}${search}` : pathname, shown: `${origin}${pathname}` };
}

export interface SendOptions {
  dispatcher: Dispatcher;
  timeouts: ResolvedTimeouts;
  signal?: AbortSignal | undefined;
  /** `request.url` already split; split here when absent. */
  target?: RequestTarget | undefined;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return (
    signal?.aborted === true && (error === signal.reason || transportErrorCode(error) === "UND_ERR_ABORTED")
  );
}

/**
 * Sends one request as built (headers and body bytes untouched) and reads the whole answer.
 * Throws `CphNetworkError` for transport failures, or the signal's reason when aborted.
 */
export async function sendRequest(request: HttpRequest, options: SendOptions): Promise<HttpResponseData> {
  let headersReceived = false;
  try {
    const common = {
      method: request.method,
      headers: request.headers,
      body:
        request.body === undefined
          ? null
          : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength),
      signal: options.signal,
      headersTimeout: options.timeouts.headersMs,
      bodyTimeout: options.timeouts.bodyMs,
    };
    const target = options.target ?? requestTarget(request.url);
    // Dispatched by origin and path, so that undici does not parse the URL again; a URL that does
    // not split goes through undici's own parsing, which reports it as before.
    const response =
      target === undefined
        ? await undiciRequest(request.url, { dispatcher: options.dispatcher, ...common })
        : await options.dispatcher.request({ origin: target.origin, path: target.path, ...common });
    headersReceived = true;
    const bodyText = await response.body.text();
    return { status: response.statusCode, headers: response.headers, bodyText };
  } catch (error) {
    if (isAbort(error, options.signal)) throw options.signal?.reason;
    throw toNetworkError(error, request, headersReceived);
  }
}
