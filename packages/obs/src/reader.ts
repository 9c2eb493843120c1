import {
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { CphError, type CphErrorCode } from "@cph-export/core";

/** How to reach OBS: its S3 API, signed with SigV4 by the account's access key. */
export interface ObsOptions {
  /** The CPH region (`cn-north-4`); OBS takes it as the SigV4 region. */
  region: string;
  /** Default `https://obs.{region}.myhuaweicloud.com`. */
  endpoint?: string | undefined;
  accessKey: string;
  secretKey: string;
  /** For temporary keys. */
  securityToken?: string | undefined;
  /** Buckets in the path instead of the host name (needed for IP endpoints and the emulator). */
  forcePathStyle?: boolean | undefined;
  /** Attempts of one read, retries included (default 4): reads are safe to retry. */
  maxAttempts?: number | undefined;
  /** Called once per request sent (for counting, e.g. in benchmarks). */
  onRequest?: ((operation: "head" | "list") => void) | undefined;
}

/** What OBS says about an object. */
export interface ArchiveHead {
  exists: boolean;
  size?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
}

/** An object of a listing. */
export interface ArchiveObject {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ObsReader {
  /** HEAD of one object: `{ exists: false }` when there is none. */
  headArchive(bucket: string, key: string, options?: { signal?: AbortSignal }): Promise<ArchiveHead>;
  /** Every object under a prefix, a ListObjectsV2 page (1,000) at a time, in key order. */
  listArchives(
    bucket: string,
    prefix: string,
    options?: { signal?: AbortSignal; startAfter?: string },
  ): AsyncIterable<ArchiveObject>;
  /**
   * What OBS holds at each wanted key (`bucket + "/" + key` -> head); every wanted key is in the
   * answer. Keys of one bucket sharing a prefix are found by listing it, where that costs fewer
   * requests than a HEAD each; a listing that turns out dearer gives way to HEADs.
   */
  findArchives(
    wanted: Iterable<{ bucket: string; key: string }>,
    options?: { signal?: AbortSignal },
  ): Promise<Map<string, ArchiveHead>>;
  /** Closes the connections. */
  destroy(): void;
}

/** An OBS read that failed: `ERR_CPH_AUTH` (403), `ERR_CPH_API` (other answers), `ERR_CPH_NETWORK`. */
export class ObsError extends CphError {
  /** The S3 error code (`SignatureDoesNotMatch`, `NoSuchBucket`...), when OBS answered. */
  readonly obsCode: string | undefined;
  readonly status: number | undefined;

  constructor(
    code: CphErrorCode,
    message: string,
    init: {
      obsCode?: string | undefined;
      status?: number | undefined;
      requestId?: string | undefined;
      cause?: unknown;
    },
  ) {
    super(code, message, {
      cause: init.cause,
      requestId: init.requestId,
      retryable: code === "ERR_CPH_NETWORK",
    });
    this.name = "ObsError";
    this.obsCode = init.obsCode;
    this.status = init.status;
  }
}

/** ListObjectsV2 returns at most this many keys a page. */
export const LIST_PAGE = 1000;

function describe(error: unknown, what: string): ObsError {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    const code: CphErrorCode = status === 401 || status === 403 ? "ERR_CPH_AUTH" : "ERR_CPH_API";
    const hint =
      error.name === "SignatureDoesNotMatch"
        ? " (the secret key does not match the access key)"
        : error.name === "InvalidAccessKeyId"
          ? " (OBS does not know this access key)"
          : "";
    return new ObsError(code, `OBS ${what}: ${status ?? "?"} ${error.name}${hint}: ${error.message}`, {
      obsCode: error.name,
      status,
      requestId: error.$metadata.requestId,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ObsError("ERR_CPH_NETWORK", `OBS ${what}: ${message}`, { cause: error });
}

const isAbort = (error: unknown) => error instanceof Error && error.name === "AbortError";

/** The longest common prefix of sorted strings: of the first and the last. */
function commonPrefix(sorted: readonly string[]): string {
  const first = sorted[0] ?? "";
  const last = sorted[sorted.length - 1] ?? "";
  let n = 0;
  while (n < first.length && first[n] === last[n]) n++;
  return first.slice(0, n);
}

/** S3 orders keys by their UTF-8 bytes; so do we. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function createObsReader(options: ObsOptions): ObsReader {
  const endpoint = options.endpoint ?? `https://obs.${options.region}.myhuaweicloud.com`;
  const client = new S3Client({
    region: options.region,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    maxAttempts: options.maxAttempts ?? 4,
    credentials: {
      accessKeyId: options.accessKey,
      secretAccessKey: options.secretKey,
      ...(options.securityToken ? { sessionToken: options.securityToken } : {}),
    },
  });
  const count = options.onRequest ?? (() => {});

  const headArchive: ObsReader["headArchive"] = async (bucket, key, { signal } = {}) => {
    count("head");
    try {
      const head = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key }),
        signal ? { abortSignal: signal } : {},
      );
      return {
        exists: true,
        size: head.ContentLength,
        etag: head.ETag,
        lastModified: head.LastModified,
      };
    } catch (error) {
      if (
        error instanceof S3ServiceException &&
        error.$metadata.httpStatusCode === 404 &&
        error.name !== "NoSuchBucket"
      ) {
        // A HEAD has no body: a missing bucket and a missing key both read 404 NotFound.
        return { exists: false };
      }
      if (isAbort(error)) throw error;
      throw describe(error, `HEAD ${bucket}/${key}`);
    }
  };

  async function* pages(
    bucket: string,
    prefix: string,
    signal: AbortSignal | undefined,
    startAfter: string | undefined,
  ): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      count("list");
      let page: ListObjectsV2CommandOutput;
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (error) {
        if (isAbort(error)) throw error;
        throw describe(error, `list ${bucket}/${prefix}*`);
      }
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function* listArchives(
    bucket: string,
    prefix: string,
    { signal, startAfter }: { signal?: AbortSignal; startAfter?: string } = {},
  ): AsyncGenerator<ArchiveObject> {
    for await (const page of pages(bucket, prefix, signal, startAfter)) {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          bucket,
          key: object.Key,
          size: object.Size ?? 0,
          etag: object.ETag ?? "",
          lastModified: object.LastModified ?? new Date(0),
        };
      }
    }
  }

  /** The keys of one bucket: a listing of their common prefix while it stays cheaper than HEADs. */
  async function findInBucket(
    bucket: string,
    keys: readonly string[],
    found: Map<string, ArchiveHead>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const sorted = [...new Set(keys)].sort(byBytes);
    const unresolved = new Set(sorted);
    const last = sorted[sorted.length - 1]!;
    // One page answers up to 1,000 keys; below 2 keys, a HEAD is never dearer.
    if (sorted.length >= 2) {
      const prefix = commonPrefix(sorted);
      let listed = 0;
      let done = false;
      try {
        for await (const page of pages(bucket, prefix, signal, undefined)) {
          listed++;
          for (const object of page.Contents ?? []) {
            const key = object.Key;
            if (key === undefined) continue;
            if (unresolved.delete(key)) {
              found.set(`${bucket}/${key}`, {
                exists: true,
                size: object.Size,
                etag: object.ETag,
                lastModified: object.LastModified,
              });
            }
            if (byBytes(key, last) >= 0) done = true;
          }
          if (done || !page.IsTruncated) {
            // Listed through the last wanted key (or to the end): the others are not there.
            for (const key of unresolved) found.set(`${bucket}/${key}`, { exists: false });
            unresolved.clear();
            break;
          }
          // Another page would cost more than a HEAD of each key still looked for.
          if (listed >= unresolved.size) break;
        }
      } catch (error) {
        // No bucket: none of its archives is there.
        if (!(error instanceof ObsError && error.obsCode === "NoSuchBucket")) throw error;
        for (const key of unresolved) found.set(`${bucket}/${key}`, { exists: false });
        unresolved.clear();
      }
    }
    for (const key of unresolved)
      found.set(`${bucket}/${key}`, await headArchive(bucket, key, signal ? { signal } : {}));
  }

  return {
    headArchive,
    listArchives,
    async findArchives(wanted, { signal } = {}) {
      const byBucket = new Map<string, string[]>();
      for (const { bucket, key } of wanted) {
        const keys = byBucket.get(bucket);
        if (keys) keys.push(key);
        else byBucket.set(bucket, [key]);
      }
      const found = new Map<string, ArchiveHead>();
      for (const [bucket, keys] of byBucket) await findInBucket(bucket, keys, found, signal);
      return found;
    },
    destroy() {
      client.destroy();
    },
  };
}
