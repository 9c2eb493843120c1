import {
  type RestoreInfo,
  type StorageInfo,
  validateRestoreInfo,
  validateStorageInfo,
} from "@cph-export/core";
import type { InputRecord } from "./input/records.js";
import type { ObjectPathTemplate } from "./template.js";

/** What flags give to rows that lack a field. */
export interface RowDefaults {
  bucket?: string | undefined;
  include?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
  template?: ObjectPathTemplate | undefined;
  /** The run's start; `{date}` in templates. */
  date: Date;
  /**
   * `restore`: rows are restore infos (phone, bucket, object path); an export's `include_files` and
   * `exclude_files` in them are ignored, so an export's input restores as it is. Default `export`.
   */
  operation?: "export" | "restore" | undefined;
}

/** One issue of one input row, located by line and field path (`include_files[1]`). */
export interface RowIssue {
  line: number;
  phoneId?: string | undefined;
  /** Field path inside the row; empty for the row itself. */
  path: string;
  code: string;
  severity: "error" | "warning";
  message: string;
}

export interface PreparedRow {
  line: number;
  /** Position of the phone in the input, from 0. */
  index: number;
  /** What to send, when the row has no error: a storage info, or a restore info for a restore. */
  info?: StorageInfo | RestoreInfo;
  issues: RowIssue[];
}

/**
 * Fields `phones list` writes next to `phone_id` so that its NDJSON or JSON is an input as it is
 * (`phones list --output ndjson | jq ... | export --input -`); a row may carry them, and they are
 * dropped before validation: nothing of them is sent.
 */
export const INFORMATIONAL_FIELDS: readonly string[] = [
  "phone_name",
  "server_id",
  "status",
  "status_word",
  "image_id",
  "phone_model_name",
  "type",
];

const FLAG_OF_FIELD: Record<string, string> = {
  bucket_name: "--bucket",
  object_path: "--object-path",
  include_files: "--include",
  exclude_files: "--exclude",
};

/**
 * Turns input records into storage infos: fills what a row lacks from the flags, validates it
 * with core, and checks across rows (a phone twice is an error, one object twice a warning).
 */
export class RowPreparer {
  readonly #defaults: RowDefaults;
  readonly #phones = new Map<string, number>();
  readonly #objects = new Map<string, number>();
  #index = 0;

  constructor(defaults: RowDefaults) {
    this.#defaults = defaults;
  }

  /** Phones seen so far. */
  get count(): number {
    return this.#index;
  }

  prepare(record: InputRecord): PreparedRow {
    const line = record.line;
    const isPhone =
      !record.fatal && !(record.problems ?? []).some((problem) => problem.code === "input_header");
    const index = isPhone ? this.#index++ : -1;
    const issues: RowIssue[] = (record.problems ?? []).map((problem) => ({
      line,
      path: problem.path ?? "",
      code: problem.code,
      severity: "error",
      message: problem.message,
    }));
    if (record.value === undefined) return { line, index, issues };
    const value = record.value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
      issues.push({
        line,
        path: "",
        code: "invalid_type",
        severity: "error",
        message: `each phone must be an object, not ${kind}`,
      });
      return { line, index, issues };
    }
    const given: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const field of INFORMATIONAL_FIELDS) delete given[field];
    const restore = this.#defaults.operation === "restore";
    if (restore) {
      delete given["include_files"];
      delete given["exclude_files"];
    }
    const { row, filled } = this.#fill(given, index);
    const phoneId = typeof row["phone_id"] === "string" ? row["phone_id"] : undefined;
    const result = restore ? validateRestoreInfo(row) : validateStorageInfo(row);
    const found = [...(result.ok ? [] : result.issues), ...result.warnings];
    for (const issue of found) {
      issues.push({
        line,
        phoneId,
        path: issue.path,
        code: issue.code,
        severity: issue.severity,
        message: explain(issue.code, issue.path, issue.message, filled),
      });
    }
    if (phoneId) {
      const first = this.#phones.get(phoneId);
      if (first === undefined) this.#phones.set(phoneId, line);
      else {
        issues.push({
          line,
          phoneId,
          path: "phone_id",
          code: "phone_id_duplicate",
          severity: "error",
          message: `phone ${phoneId} is already on line ${first}; a run ${restore ? "restores" : "exports"} each phone once`,
        });
      }
    }
    const bucket = row["bucket_name"];
    const objectPath = row["object_path"];
    // Many phones may restore from one archive; only an export would overwrite one.
    if (!restore && typeof bucket === "string" && typeof objectPath === "string") {
      const key = `${bucket}/${objectPath}`;
      const first = this.#objects.get(key);
      if (first === undefined) this.#objects.set(key, line);
      else {
        issues.push({
          line,
          phoneId,
          path: "object_path",
          code: "object_path_duplicate",
          severity: "warning",
          message: `line ${first} writes the same object ${key}; one archive would overwrite the other`,
        });
      }
    }
    const ok = !issues.some((issue) => issue.severity === "error");
    if (!ok) return { line, index, issues };
    return { line, index, info: restore ? toRestoreInfo(row) : toStorageInfo(row), issues };
  }

  #fill(
    value: Record<string, unknown>,
    index: number,
  ): { row: Record<string, unknown>; filled: Set<string> } {
    const defaults = this.#defaults;
    const row: Record<string, unknown> = { ...value };
    const filled = new Set<string>();
    const restore = defaults.operation === "restore";
    if (!restore && row["include_files"] === undefined && defaults.include && defaults.include.length > 0) {
      row["include_files"] = [...defaults.include];
      filled.add("include_files");
    }
    if (!restore && row["exclude_files"] === undefined && defaults.exclude && defaults.exclude.length > 0) {
      row["exclude_files"] = [...defaults.exclude];
      filled.add("exclude_files");
    }
    if (row["bucket_name"] === undefined && defaults.bucket !== undefined) {
      row["bucket_name"] = defaults.bucket;
      filled.add("bucket_name");
    }
    if (row["object_path"] === undefined && defaults.template) {
      const phoneId = typeof row["phone_id"] === "string" ? row["phone_id"] : "";
      row["object_path"] = defaults.template.expand({ phoneId, date: defaults.date, index });
      filled.add("object_path");
    }
    return { row, filled };
  }
}

function explain(code: string, path: string, message: string, filled: ReadonlySet<string>): string {
  const field = path.replace(/\[\d+\]$/, "");
  if (code === "required" && FLAG_OF_FIELD[field]) {
    return `${message}: add it to the row or give ${FLAG_OF_FIELD[field]}`;
  }
  if (filled.has(field)) return `${message} (from ${FLAG_OF_FIELD[field]})`;
  return message;
}

function toStorageInfo(row: Record<string, unknown>): StorageInfo {
  const info: StorageInfo = {
    phone_id: row["phone_id"] as string,
    include_files: row["include_files"] as string[],
    bucket_name: row["bucket_name"] as string,
    object_path: row["object_path"] as string,
  };
  if (row["exclude_files"] !== undefined) info.exclude_files = row["exclude_files"] as string[];
  return info;
}

function toRestoreInfo(row: Record<string, unknown>): RestoreInfo {
  return {
    phone_id: row["phone_id"] as string,
    bucket_name: row["bucket_name"] as string,
    object_path: row["object_path"] as string,
  };
}
