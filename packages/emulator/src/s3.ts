import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import type { HttpBindings } from "@hono/node-server";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Context, Env, Hono } from "hono";
import type { AccessKeyConfig } from "./config.js";
import { randomId } from "./random.js";

// The S3 subset of OBS the toolkit reads, over the emulator's data directory, path-style on the
// emulator's own port: HEAD and GET object, ListObjectsV2 and ListObjects (v1, which Huawei's
// esdk-obs-nodejs sends). Requests are checked as OBS checks them, with the emulator's access keys:
// SigV4 (header form, the AWS SDKs), and the V2 / OBS header signatures (`AWS AK:sig`,
// `OBS AK:sig`, HMAC-SHA1) that esdk-obs-nodejs signs with. Bucket names are 3-63 characters of
// [a-z0-9.-], so they never collide with /v1, /v3 or /__emulator.

const BUCKET = "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]";
const MAX_KEYS = 1000;
/** How far a request's x-amz-date may be from the emulator's clock (S3's limit). */
const MAX_SKEW_MS = 15 * 60_000;
/** Files an archive is written to before it is renamed into place (see archive.ts): not objects. */
const PARTIAL = /\.[0-9a-z]{12}\.partial$/;

export interface S3Options {
  dataDir: string;
  accessKeys: readonly AccessKeyConfig[];
  clock: () => Date;
}

// biome-ignore lint/suspicious/noExplicitAny: the emulator app's own variables are not needed here.
type S3Context = Context<{ Bindings: HttpBindings; Variables: any }>;

/** node:crypto as the SHA-256 (and HMAC) that @smithy/signature-v4 asks for. */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function bytes(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): Buffer | string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};
const xml = (text: string) => text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);

function s3Error(
  c: S3Context,
  status: 400 | 403 | 404 | 501,
  code: string,
  message: string,
  extra = "",
): Response {
  const requestId = randomId().slice(0, 16).toUpperCase();
  c.header("x-amz-request-id", requestId);
  if (c.req.method === "HEAD") return c.body(null, status);
  return c.body(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message>${extra}<RequestId>${requestId}</RequestId></Error>`,
    status,
    { "Content-Type": "application/xml" },
  );
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** `20261206T120000Z` as a Date, or undefined. */
function amzDate(text: string | undefined): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? "");
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const time = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

const V2_AUTHORIZATION = /^(AWS|OBS) ([^:\s]+):([A-Za-z0-9+/]+={0,2})$/;

/** The query parameters a V2 / OBS signature covers (sub-resources); listing parameters are not. */
const V2_SUBRESOURCES = new Set([
  "acl",
  "append",
  "cors",
  "delete",
  "lifecycle",
  "location",
  "logging",
  "notification",
  "partnumber",
  "policy",
  "position",
  "requestpayment",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-content-type",
  "response-expires",
  "restore",
  "tagging",
  "torrent",
  "uploadid",
  "uploads",
  "versionid",
  "versioning",
  "versions",
  "website",
  "x-image-process",
]);

function rawTarget(c: S3Context): { path: string; search: string } {
  const raw = c.env?.incoming?.url ?? new URL(c.req.url).pathname + new URL(c.req.url).search;
  const at = raw.indexOf("?");
  return at < 0 ? { path: raw, search: "" } : { path: raw.slice(0, at), search: raw.slice(at + 1) };
}

function signatureMismatch(c: S3Context, accessKeyId: string): Response {
  return s3Error(
    c,
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    `<AWSAccessKeyId>${xml(accessKeyId)}</AWSAccessKeyId>`,
  );
}

function unknownKey(c: S3Context, accessKeyId: string): Response {
  return s3Error(
    c,
    403,
    "InvalidAccessKeyId",
    "The access key Id you provided does not exist in our records.",
    `<AWSAccessKeyId>${xml(accessKeyId)}</AWSAccessKeyId>`,
  );
}

/**
 * The V2 (`AWS`) and OBS header signatures: base64 HMAC-SHA1 of the method, Content-MD5,
 * Content-Type, Date, the sorted `x-amz-*` (`x-obs-*`) headers and the path with its sub-resources.
 */
function checkV2Signature(c: S3Context, options: S3Options, match: RegExpExecArray): Response | undefined {
  const [, scheme, accessKeyId, signature] = match as unknown as string[];
  const key = options.accessKeys.find((candidate) => candidate.accessKey === accessKeyId);
  if (!key) return unknownKey(c, accessKeyId!);
  const prefix = scheme === "OBS" ? "x-obs-" : "x-amz-";
  const dateText = c.req.header(`${prefix}date`) ?? c.req.header("date");
  const date = dateText ? new Date(dateText) : undefined;
  if (!date || Number.isNaN(date.getTime()))
    return s3Error(c, 403, "AccessDenied", `Date (or ${prefix}date) is missing or not an HTTP date.`);
  if (Math.abs(date.getTime() - options.clock().getTime()) > MAX_SKEW_MS) {
    return s3Error(
      c,
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    );
  }
  const incoming = c.env?.incoming?.headers ?? {};
  const signedHeaders = Object.keys(incoming)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith(prefix))
    .sort()
    .map((name) => `${name}:${c.req.header(name) ?? ""}\n`)
    .join("");
  const { path, search } = rawTarget(c);
  const subresources = search
    .split("&")
    .filter(Boolean)
    .map((pair) => {
      const [name = "", value] = pair.split("=");
      return { name: decodeURIComponent(name), value: value ? decodeURIComponent(value) : undefined };
    })
    .filter(({ name }) => V2_SUBRESOURCES.has(name.toLowerCase()))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, value }) => (value === undefined ? name : `${name}=${value}`));
  const resource = path + (subresources.length > 0 ? `?${subresources.join("&")}` : "");
  const stringToSign = `${c.req.method}\n${c.req.header("content-md5") ?? ""}\n${c.req.header("content-type") ?? ""}\n${c.req.header("date") ?? ""}\n${signedHeaders}${resource}`;
  const ours = createHmac("sha1", key.secretKey).update(stringToSign, "utf8").digest("base64");
  if (ours.length !== signature!.length || !timingSafeEqual(Buffer.from(ours), Buffer.from(signature!)))
    return signatureMismatch(c, accessKeyId!);
  return undefined;
}

/** Checks a request's signature; undefined when it is right, else the S3 error to answer. */
async function checkSignature(c: S3Context, options: S3Options): Promise<Response | undefined> {
  const header = c.req.header("authorization");
  if (!header) return s3Error(c, 403, "AccessDenied", "Anonymous access is not allowed: sign the request.");
  const v2 = V2_AUTHORIZATION.exec(header);
  if (v2) return checkV2Signature(c, options, v2);
  const match = AUTHORIZATION.exec(header);
  if (!match) {
    return s3Error(
      c,
      400,
      "AuthorizationHeaderMalformed",
      "The authorization header is malformed; AWS4-HMAC-SHA256, AWS (V2) and OBS signatures are accepted.",
    );
  }
  const [, accessKeyId, , region, service, signedHeaderList, signature] = match as unknown as string[];
  const key = options.accessKeys.find((candidate) => candidate.accessKey === accessKeyId);
  if (!key) return unknownKey(c, accessKeyId!);
  const signingDate = amzDate(c.req.header("x-amz-date"));
  if (!signingDate)
    return s3Error(c, 403, "AccessDenied", "x-amz-date is missing or not of the form 20261206T120000Z.");
  if (Math.abs(signingDate.getTime() - options.clock().getTime()) > MAX_SKEW_MS) {
    return s3Error(
      c,
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    );
  }
  const signed = signedHeaderList!.split(";");
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = c.req.header(name);
    if (value === undefined)
      return s3Error(c, 403, "AccessDenied", `the signed header ${name} is not in the request`);
    headers[name] = value;
  }
  const { path, search } = rawTarget(c);
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    const before = query[name];
    query[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  const token = c.req.header("x-amz-security-token");
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: key.accessKey,
      secretAccessKey: key.secretKey,
      ...(token ? { sessionToken: token } : {}),
    },
    region: region!,
    service: service!,
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: true,
  });
  const url = new URL(c.req.url);
  const expected = await signer.sign(
    { method: c.req.method, protocol: url.protocol, hostname: url.hostname, path, query, headers },
    { signingDate, signableHeaders: new Set(signed) },
  );
  const ours = /Signature=([0-9a-f]{64})$/.exec(expected.headers["authorization"] ?? "")?.[1] ?? "";
  if (ours.length !== signature!.length || !timingSafeEqual(Buffer.from(ours), Buffer.from(signature!)))
    return signatureMismatch(c, accessKeyId!);
  return undefined;
}

interface ObjectInfo {
  size: number;
  lastModified: Date;
  etag: string;
}

/** ETags (md5) of files, kept while their size and time do not change. */
class EtagCache {
  readonly #entries = new Map<string, { size: number; mtimeMs: number; etag: string }>();

  async info(path: string): Promise<ObjectInfo | undefined> {
    let stats: Awaited<ReturnType<typeof stat>>;
    try {
      stats = await stat(path);
    } catch {
      return undefined;
    }
    if (!stats.isFile()) return undefined;
    const known = this.#entries.get(path);
    let etag = known && known.size === stats.size && known.mtimeMs === stats.mtimeMs ? known.etag : undefined;
    if (etag === undefined) {
      const hash = createHash("md5");
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      etag = `"${hash.digest("hex")}"`;
      if (this.#entries.size > 100_000) this.#entries.clear();
      this.#entries.set(path, { size: stats.size, mtimeMs: stats.mtimeMs, etag });
    }
    return { size: stats.size, lastModified: stats.mtime, etag };
  }
}

/** The object keys of a bucket directory under `prefix`, sorted as S3 sorts them (by UTF-8 bytes). */
async function listKeys(bucketDir: string, prefix: string): Promise<string[]> {
  // Only the directory the prefix names needs walking.
  const slash = prefix.lastIndexOf("/");
  const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
  const start = resolve(bucketDir, base);
  if (start !== bucketDir && !start.startsWith(bucketDir + sep)) return [];
  let entries: string[];
  try {
    entries = await readdir(start, { recursive: true, encoding: "utf8" });
  } catch {
    return [];
  }
  const keys: string[] = [];
  for (const entry of entries) {
    const key = base + String(entry).split(sep).join("/");
    if (key.startsWith(prefix) && !PARTIAL.test(key)) keys.push(key);
  }
  const sorted = keys.map((key) => ({ key, bytes: Buffer.from(key) }));
  sorted.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return sorted.map((entry) => entry.key);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

const httpDate = (time: Date) => time.toUTCString();

/** Mounts the S3 subset on the emulator's app (path-style: `/{bucket}` and `/{bucket}/{key}`). */
export function mountS3Routes<E extends Env>(app: Hono<E>, options: S3Options): void {
  const root = resolve(options.dataDir);
  const etags = new EtagCache();

  const bucketDir = (bucket: string) => join(root, bucket);

  const object = async (c: S3Context): Promise<Response> => {
    const denied = await checkSignature(c, options);
    if (denied) return denied;
    const bucket = c.req.param("bucket")!;
    const raw = (c.env?.incoming?.url ?? new URL(c.req.url).pathname).split("?")[0]!;
    let key: string;
    try {
      key = decodeURIComponent(raw.slice(raw.indexOf("/", 1) + 1));
    } catch {
      return s3Error(c, 400, "InvalidURI", "Couldn't parse the specified URI.");
    }
    if (!(await isDirectory(bucketDir(bucket))))
      return s3Error(
        c,
        404,
        "NoSuchBucket",
        "The specified bucket does not exist.",
        `<BucketName>${xml(bucket)}</BucketName>`,
      );
    const path = resolve(bucketDir(bucket), key);
    const info =
      key !== "" && path.startsWith(bucketDir(bucket) + sep) && !PARTIAL.test(key)
        ? await etags.info(path)
        : undefined;
    if (!info)
      return s3Error(c, 404, "NoSuchKey", "The specified key does not exist.", `<Key>${xml(key)}</Key>`);
    const headers = {
      "Content-Length": String(info.size),
      "Content-Type": "application/x-tar",
      ETag: info.etag,
      "Last-Modified": httpDate(info.lastModified),
      "Accept-Ranges": "bytes",
    };
    if (c.req.method === "HEAD") return c.body(null, 200, headers);
    return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream, 200, headers);
  };

  const list = async (c: S3Context): Promise<Response> => {
    const denied = await checkSignature(c, options);
    if (denied) return denied;
    const bucket = c.req.param("bucket")!;
    const query = c.req.query();
    const v2 = query["list-type"] === "2";
    if ((query["list-type"] !== undefined && !v2) || query["delimiter"] !== undefined) {
      return s3Error(
        c,
        501,
        "NotImplemented",
        "The emulator lists objects with ListObjectsV2 (list-type=2) or ListObjects, without a delimiter.",
      );
    }
    if (!(await isDirectory(bucketDir(bucket))))
      return s3Error(
        c,
        404,
        "NoSuchBucket",
        "The specified bucket does not exist.",
        `<BucketName>${xml(bucket)}</BucketName>`,
      );
    const maxKeysText = query["max-keys"];
    const maxKeys = maxKeysText === undefined ? MAX_KEYS : Number(maxKeysText);
    if (!Number.isInteger(maxKeys) || maxKeys < 0)
      return s3Error(c, 400, "InvalidArgument", "max-keys must be a whole number.");
    const pageSize = Math.min(maxKeys, MAX_KEYS);
    const prefix = query["prefix"] ?? "";
    const token = v2 ? query["continuation-token"] : undefined;
    let after = (v2 ? query["start-after"] : query["marker"]) ?? "";
    if (token !== undefined) {
      const decoded = Buffer.from(token, "base64url").toString("utf8");
      if (!decoded.startsWith("k:"))
        return s3Error(c, 400, "InvalidArgument", "The continuation token provided is incorrect.");
      after = decoded.slice(2);
    }
    const afterBytes = Buffer.from(after);
    const keys = (await listKeys(bucketDir(bucket), prefix)).filter(
      (key) => Buffer.compare(Buffer.from(key), afterBytes) > 0,
    );
    const urlEncoded = query["encoding-type"] === "url";
    const encode = (text: string) => xml(urlEncoded ? encodeURIComponent(text).replace(/%2F/g, "/") : text);
    let contents = "";
    let count = 0;
    let last = "";
    for (const key of keys) {
      if (count >= pageSize) break;
      const info = await etags.info(join(bucketDir(bucket), ...key.split("/")));
      if (!info) continue;
      contents += `<Contents><Key>${encode(key)}</Key><LastModified>${info.lastModified.toISOString()}</LastModified><ETag>${xml(info.etag)}</ETag><Size>${info.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      count++;
      last = key;
    }
    const truncated = count > 0 && keys.indexOf(last) < keys.length - 1;
    let body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${encode(prefix)}</Prefix>`;
    if (!v2) {
      // ListObjects (v1): the marker given, and (as OBS does) the next one whenever it is truncated.
      body += `<Marker>${encode(query["marker"] ?? "")}</Marker>`;
      if (truncated) body += `<NextMarker>${encode(last)}</NextMarker>`;
      body += `<MaxKeys>${maxKeys}</MaxKeys>`;
      if (urlEncoded) body += "<EncodingType>url</EncodingType>";
      body += `<IsTruncated>${truncated}</IsTruncated>${contents}</ListBucketResult>`;
      return c.body(body, 200, { "Content-Type": "application/xml" });
    }
    body += `<KeyCount>${count}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`;
    if (urlEncoded) body += "<EncodingType>url</EncodingType>";
    body += `<IsTruncated>${truncated}</IsTruncated>`;
    if (token !== undefined) body += `<ContinuationToken>${xml(token)}</ContinuationToken>`;
    if (truncated)
      body += `<NextContinuationToken>${Buffer.from(`k:${last}`).toString("base64url")}</NextContinuationToken>`;
    if (query["start-after"] !== undefined)
      body += `<StartAfter>${encode(query["start-after"])}</StartAfter>`;
    body += `${contents}</ListBucketResult>`;
    return c.body(body, 200, { "Content-Type": "application/xml" });
  };

  // The listing first: `/{bucket}/` also matches the object route, with an empty key.
  app.get(`/:bucket{${BUCKET}}`, list);
  app.get(`/:bucket{${BUCKET}}/`, list);
  app.on(["GET", "HEAD"], `/:bucket{${BUCKET}}/*`, object);
}
