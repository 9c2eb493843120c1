/** What the policy reads of one entry of a batch-storage or batch-restore body. */
export interface BatchEntry {
  phone_id: string;
  bucket_name: string;
  object_path: string;
}

/** The two batch operations, by the body field that lists their phones. */
export type BatchOperation = "export" | "restore";

const FIELD: Record<BatchOperation, string> = { export: "storage_infos", restore: "restore_infos" };
const VERB: Record<BatchOperation, { bucket: string; path: string }> = {
  export: { bucket: "write to", path: "write" },
  restore: { bucket: "restore from", path: "restore from" },
};
import type { CallerConfig } from "./config.js";
import { type ErrorDetail, GatewayError } from "./errors.js";

/** A bucket rule from the config: an exact name, or a glob with `*` (any run) and `?` (one character). */
export function compileBucketPattern(pattern: string): (bucket: string) => boolean {
  if (!/[*?]/.test(pattern)) return (bucket) => bucket === pattern;
  const source = pattern.replace(/[.*?-]/g, (char) =>
    char === "*" ? "[a-z0-9.-]*" : char === "?" ? "[a-z0-9.-]" : `\\${char}`,
  );
  const regex = new RegExp(`^${source}$`);
  return (bucket) => regex.test(bucket);
}

const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** One caller's policy, compiled once. */
export class CallerPolicy {
  readonly caller: CallerConfig;
  readonly #projects: ReadonlySet<string>;
  readonly #buckets: ReadonlyArray<(bucket: string) => boolean>;
  readonly #prefixes: readonly string[];

  constructor(caller: CallerConfig) {
    this.caller = caller;
    this.#projects = new Set(caller.projects);
    this.#buckets = caller.buckets.map(compileBucketPattern);
    this.#prefixes = caller.objectPathPrefixes;
  }

  /** Throws 403 `CPHGW.4036` when the operation is not among the caller's `operations`. */
  checkOperation(operation: BatchOperation): void {
    if (!this.caller.operations.includes(operation)) {
      throw new GatewayError(
        "CPHGW.4036",
        `caller ${this.caller.name} may not ${operation} (its operations: ${this.caller.operations.join(", ")}); ask the gateway's operators to add "${operation}" to its operations`,
      );
    }
  }

  /** The servers whose phones the caller may list and export; undefined: every server. */
  get servers(): readonly string[] | undefined {
    return this.caller.servers;
  }

  /** Throws 403 `CPHGW.4031` when the caller may not use the project. */
  checkProject(projectId: string): void {
    if (!this.#projects.has(projectId)) {
      throw new GatewayError(
        "CPHGW.4031",
        `caller ${this.caller.name} may not use project ${JSON.stringify(projectId)}; allowed: ${this.caller.projects.join(", ")}`,
      );
    }
  }

  /** `checkBatch` of a batch-storage body. */
  checkExport(storageInfos: readonly BatchEntry[]): void {
    this.checkBatch("export", storageInfos);
  }

  /**
   * Checks a valid batch-storage or batch-restore body against the caller's rules. Throws 403 with
   * the code of the first rule broken (operation, phone count, then bucket, then object path) and
   * every offending field in `details`.
   */
  checkBatch(operation: BatchOperation, storageInfos: readonly BatchEntry[]): void {
    this.checkOperation(operation);
    const field = FIELD[operation];
    const max = this.caller.maxPhonesPerRequest;
    if (storageInfos.length > max) {
      throw new GatewayError(
        "CPHGW.4034",
        `caller ${this.caller.name} may send at most ${max} phones per request; this one has ${storageInfos.length}: split it`,
        {
          details: [
            {
              code: "max_phones_per_request",
              path: field,
              message: `${storageInfos.length} phones; at most ${max}`,
            },
          ],
        },
      );
    }
    this.checkEntries(operation, storageInfos, field);
  }

  /**
   * The bucket and object path rules of `checkBatch`, for any number of entries (a campaign's);
   * `field` names them in the details' paths.
   */
  /** Throws 403 `CPHGW.4032` when the caller may not use `bucket`; `path` names it in the details. */
  checkBucket(operation: BatchOperation, bucket: string, path: string): void {
    if (this.#bucketAllowed(bucket)) return;
    throw new GatewayError(
      "CPHGW.4032",
      `caller ${this.caller.name} may not ${VERB[operation].bucket} bucket ${bucket}`,
      { details: [this.#bucketRefusal(bucket, path)] },
    );
  }

  #bucketAllowed(bucket: string): boolean {
    return this.#buckets.some((matches) => matches(bucket));
  }

  #bucketRefusal(bucket: string, path: string): ErrorDetail {
    return {
      code: "bucket_not_allowed",
      path,
      message: `bucket ${bucket} is not among the caller's buckets (${this.caller.buckets.join(", ")})`,
    };
  }

  checkEntries(operation: BatchOperation, storageInfos: readonly BatchEntry[], field: string): void {
    const verb = VERB[operation];
    const buckets: ErrorDetail[] = [];
    const prefixes: ErrorDetail[] = [];
    storageInfos.forEach((info, index) => {
      if (!this.#bucketAllowed(info.bucket_name)) {
        buckets.push(this.#bucketRefusal(info.bucket_name, `${field}[${index}].bucket_name`));
      }
      const path = info.object_path;
      if (DOT_SEGMENT.test(path)) {
        prefixes.push({
          code: "object_path_dot_segment",
          path: `${field}[${index}].object_path`,
          message: "object paths with . or .. segments are refused: a prefix rule cannot be checked on them",
        });
      } else if (!this.#prefixes.some((prefix) => path.startsWith(prefix))) {
        prefixes.push({
          code: "object_path_not_allowed",
          path: `${field}[${index}].object_path`,
          message: `object path ${path} does not start with an allowed prefix (${this.#prefixes.map((prefix) => JSON.stringify(prefix)).join(", ")})`,
        });
      }
    });
    if (buckets.length > 0) {
      throw new GatewayError(
        "CPHGW.4032",
        `caller ${this.caller.name} may not ${verb.bucket} ${describeCount(buckets.length, "bucket")} named in the request`,
        {
          details: [...buckets, ...prefixes],
        },
      );
    }
    if (prefixes.length > 0) {
      throw new GatewayError(
        "CPHGW.4033",
        `caller ${this.caller.name} may not ${verb.path} ${describeCount(prefixes.length, "object path")} of the request`,
        {
          details: prefixes,
        },
      );
    }
  }
}

function describeCount(count: number, noun: string): string {
  return count === 1 ? `one ${noun}` : `${count} ${noun}s`;
}
