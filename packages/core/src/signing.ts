import { toHex, utf8Bytes } from "./bytes.js";
import type { HttpRequest } from "./request.js";

export const SIGNING_ALGORITHM = "SDK-HMAC-SHA256";

export interface SigningCredentials {
  accessKey: string;
  secretKey: string;
  /** Temporary credentials: sent and signed as `X-Security-Token`. */
  securityToken?: string | undefined;
}

/** RFC 3986 encoding: unreserved characters kept, everything else as uppercase `%XX`. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The canonical URI: each segment decoded then encoded, always ending in `/`. */
export function canonicalUri(path: string): string {
  const encoded = path
    .split("/")
    .map((segment) => percentEncode(safeDecode(segment)))
    .join("/");
  return encoded.endsWith("/") ? encoded : `${encoded}/`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical query: pairs encoded, sorted by key then value, joined by `&`. */
export function canonicalQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs
    .map(([key, value]) => [percentEncode(key), percentEncode(value)] as const)
    .sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
}

/** Query pairs of a URL, decoded (`+` is a space only in form encoding, so it is kept). */
export function queryPairs(search: string): Array<[string, string]> {
  const text = search.startsWith("?") ? search.slice(1) : search;
  if (!text) return [];
  return text
    .split("&")
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf("=");
      const key = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? "" : part.slice(eq + 1);
      return [safeDecode(key), safeDecode(value)];
    });
}

function lowerCaseHeaders(headers: Record<string, string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) map.set(name.toLowerCase(), value);
  return map;
}

export interface CanonicalInput {
  method: string;
  path: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: Record<string, string>;
  /** Lowercase header names to sign. */
  signedHeaders: readonly string[];
  body: Uint8Array | string;
  /** Hash functions to use; default Web Crypto. */
  hasher?: SigningHasher | undefined;
}

/**
 * The two hash primitives signing needs. The default is Web Crypto, which runs everywhere; a
 * Node caller signing many requests may pass `node:crypto` ones, which cost far less per call.
 */
export interface SigningHasher {
  sha256Hex(bytes: Uint8Array): string | Promise<string>;
  hmacSha256Hex(key: string, message: string): string | Promise<string>;
}

function sortedSignedHeaders(names: readonly string[]): string[] {
  return [...new Set(names.map((name) => name.toLowerCase()))].sort(compare);
}

/** The canonical request text (step 6), hashing the exact body bytes. */
export async function canonicalRequest(input: CanonicalInput): Promise<string> {
  const headers = lowerCaseHeaders(input.headers);
  const signed = sortedSignedHeaders(input.signedHeaders);
  const canonicalHeaders = signed.map((name) => `${name}:${(headers.get(name) ?? "").trim()}\n`).join("");
  const bodyBytes = typeof input.body === "string" ? utf8Bytes(input.body) : input.body;
  return [
    input.method.toUpperCase(),
    canonicalUri(input.path),
    canonicalQuery(input.query),
    canonicalHeaders,
    signed.join(";"),
    await (input.hasher ?? WEB_CRYPTO_HASHER).sha256Hex(bodyBytes),
  ].join("\n");
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

async function hmacHex(key: string, message: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    utf8Bytes(key) as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(await crypto.subtle.sign("HMAC", cryptoKey, utf8Bytes(message) as Uint8Array<ArrayBuffer>));
}

/** The default `SigningHasher`: Web Crypto. */
export const WEB_CRYPTO_HASHER: SigningHasher = Object.freeze({ sha256Hex, hmacSha256Hex: hmacHex });

/** The hex signature of a request (steps 2-8). */
export async function computeSignature(
  input: CanonicalInput & { secretKey: string; sdkDate: string },
): Promise<string> {
  const hasher = input.hasher ?? WEB_CRYPTO_HASHER;
  const canonical = await canonicalRequest(input);
  const stringToSign = `${SIGNING_ALGORITHM}\n${input.sdkDate}\n${await hasher.sha256Hex(utf8Bytes(canonical))}`;
  return hasher.hmacSha256Hex(input.secretKey, stringToSign);
}

/** `YYYYMMDDTHHMMSSZ` in UTC. */
export function formatSdkDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** Parses `YYYYMMDDTHHMMSSZ`; undefined when malformed. */
export function parseSdkDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d ? date : undefined;
}

export interface SignOptions extends SigningCredentials {
  /** Signing time; default now. */
  date?: Date;
  /** Adds a signed `X-Project-Id`, as the official SDKs do with AK/SK. */
  projectId?: string | undefined;
  /** Hash functions to use; default Web Crypto. */
  hasher?: SigningHasher | undefined;
}

/**
 * Signs a request as the official SDKs do: adds `Host`, `X-Sdk-Date` (and `X-Project-Id`,
 * `X-Security-Token` when given), signs every header present, and sets `Authorization`.
 *
 * @example const signed = await signRequest(buildShowJobRequest({ endpoint, projectId, jobId }), { accessKey, secretKey });
 */
export async function signRequest(request: HttpRequest, options: SignOptions): Promise<HttpRequest> {
  const url = new URL(request.url);
  // Headers this call sets replace any earlier value in any letter case, so that re-signing a
  // request (a retry) never sends two X-Sdk-Date headers.
  const replaced = new Set(["authorization", "x-sdk-date"]);
  if (options.securityToken) replaced.add("x-security-token");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!replaced.has(name.toLowerCase())) headers[name] = value;
  }
  const has = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name);
  if (!has("host")) headers["Host"] = url.host;
  headers["X-Sdk-Date"] = formatSdkDate(options.date ?? new Date());
  if (options.projectId && !has("x-project-id")) headers["X-Project-Id"] = options.projectId;
  if (options.securityToken) headers["X-Security-Token"] = options.securityToken;
  const authorization = await authorizationHeader({
    method: request.method,
    path: url.pathname,
    query: queryPairs(url.search),
    headers,
    signedHeaders: Object.keys(headers),
    body: request.body ?? new Uint8Array(),
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    hasher: options.hasher,
  });
  return { ...request, headers: { ...headers, Authorization: authorization } };
}

/** The `Authorization` value for a request whose headers already carry `X-Sdk-Date`. */
export async function authorizationHeader(
  input: CanonicalInput & { accessKey: string; secretKey: string },
): Promise<string> {
  const sdkDate = lowerCaseHeaders(input.headers).get("x-sdk-date") ?? "";
  const signature = await computeSignature({ ...input, sdkDate });
  const signed = sortedSignedHeaders(input.signedHeaders).join(";");
  return `${SIGNING_ALGORITHM} Access=${input.accessKey}, SignedHeaders=${signed}, Signature=${signature}`;
}

export interface ParsedAuthorization {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `SDK-HMAC-SHA256 Access=..., SignedHeaders=a;b, Signature=...`; undefined when malformed. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const match = /^SDK-HMAC-SHA256\s+(.*)$/.exec(value.trim());
  if (!match?.[1]) return undefined;
  const fields = new Map<string, string>();
  for (const part of match[1].split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) return undefined;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKey = fields.get("Access");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!accessKey || !signedHeaders || !signature || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return { accessKey, signedHeaders: signedHeaders.split(";").filter(Boolean), signature };
}

export interface VerifyInput {
  method: string;
  /** Path and query as received, e.g. `/v1/p/cloud-phone/jobs?request_ids=a`. */
  url: string;
  /** Received headers (any case). */
  headers: Record<string, string>;
  /** The raw body bytes received. */
  body: Uint8Array;
  /** Looks up the secret of an access key; undefined when the key is unknown. */
  lookup: (accessKey: string) => SigningCredentials | undefined | Promise<SigningCredentials | undefined>;
  now?: Date;
  /** Allowed clock difference; default 15 minutes. */
  maxSkewMs?: number;
  /** Hash functions to use; default Web Crypto. */
  hasher?: SigningHasher | undefined;
}

export type VerifyResult =
  | { ok: true; accessKey: string; signedHeaders: string[] }
  | { ok: false; errorCode: "APIGW.0301" | "APIGW.0303"; reason: string };

/**
 * Verifies an `SDK-HMAC-SHA256` request as the API gateway does: the `SignedHeaders` the client
 * sent, the raw body bytes, `X-Sdk-Date` within ±15 minutes, and the security token of
 * temporary keys. Never throws for bad input.
 */
export async function verifySignature(input: VerifyInput): Promise<VerifyResult> {
  const headers = lowerCaseHeaders(input.headers);
  const parsed = parseAuthorization(headers.get("authorization") ?? "");
  if (!parsed)
    return {
      ok: false,
      errorCode: "APIGW.0301",
      reason: "missing or malformed SDK-HMAC-SHA256 Authorization header",
    };
  if (!parsed.signedHeaders.includes("x-sdk-date")) {
    return { ok: false, errorCode: "APIGW.0301", reason: "x-sdk-date is not among the signed headers" };
  }
  const sdkDate = headers.get("x-sdk-date") ?? "";
  const date = parseSdkDate(sdkDate);
  if (!date)
    return { ok: false, errorCode: "APIGW.0303", reason: "X-Sdk-Date is missing or not YYYYMMDDTHHMMSSZ" };
  const skew = Math.abs((input.now ?? new Date()).getTime() - date.getTime());
  if (skew > (input.maxSkewMs ?? 15 * 60 * 1000)) {
    return {
      ok: false,
      errorCode: "APIGW.0303",
      reason: "X-Sdk-Date is more than 15 minutes off the server clock",
    };
  }
  for (const name of parsed.signedHeaders) {
    if (!headers.has(name))
      return { ok: false, errorCode: "APIGW.0301", reason: `signed header ${name} is missing` };
  }
  const credentials = await input.lookup(parsed.accessKey);
  if (!credentials) return { ok: false, errorCode: "APIGW.0301", reason: "unknown access key" };
  if (credentials.securityToken !== undefined) {
    const token = headers.get("x-security-token");
    if (
      !parsed.signedHeaders.includes("x-security-token") ||
      token === undefined ||
      !timingSafeEqual(token, credentials.securityToken)
    ) {
      return {
        ok: false,
        errorCode: "APIGW.0301",
        reason: "temporary key without its signed security token",
      };
    }
  }
  const url = new URL(input.url, "http://verify.invalid");
  const expected = await computeSignature({
    method: input.method,
    path: url.pathname,
    query: queryPairs(url.search),
    headers: input.headers,
    signedHeaders: parsed.signedHeaders,
    body: input.body,
    secretKey: credentials.secretKey,
    sdkDate,
    hasher: input.hasher,
  });
  if (!timingSafeEqual(expected, parsed.signature)) {
    return { ok: false, errorCode: "APIGW.0301", reason: "signature does not match" };
  }
  return { ok: true, accessKey: parsed.accessKey, signedHeaders: parsed.signedHeaders };
}

/** Compares two strings in time that depends only on their length. */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = utf8Bytes(a);
  const right = utf8Bytes(b);
  let difference = left.length ^ right.length;
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    difference |= (left[index] ?? 0) ^ (right[index] ?? 0);
  }
  return difference === 0;
}
