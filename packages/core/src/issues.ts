/** Every issue code validation can report. Stable: tools and users match on them. */
export const ISSUE_CODES = [
  "required",
  "invalid_type",
  "unrecognized_key",
  "storage_infos_empty",
  "storage_infos_too_many",
  "storage_info_too_large",
  "body_too_large",
  "phone_id_empty",
  "phone_id_too_long",
  "phone_id_charset",
  "phone_id_duplicate",
  "include_files_empty",
  "path_empty",
  "path_not_absolute",
  "path_charset",
  "path_too_long",
  "path_wildcard_position",
  "path_dot_segment",
  "path_outside_roots",
  "bucket_length",
  "bucket_charset",
  "bucket_edge",
  "bucket_adjacent_punctuation",
  "bucket_ip_address",
  "object_path_empty",
  "object_path_too_long",
  "object_path_charset",
  "object_path_not_tar",
  "object_path_duplicate",
  "object_path_leading_slash",
  "object_path_dot_segment",
  "request_ids_empty",
  "request_ids_too_many",
  "request_id_invalid",
  "job_id_invalid",
  "offset_invalid",
  "limit_invalid",
  "phone_status_invalid",
  "filter_invalid",
] as const;

export type IssueCode = (typeof ISSUE_CODES)[number];

export interface ValidationIssue {
  code: IssueCode;
  /** JSON path of the offending value, e.g. `storage_infos[3].include_files[0]`; empty for the root. */
  path: string;
  message: string;
  severity: "error" | "warning";
}

export type ValidationResult<T> =
  | { ok: true; value: T; warnings: ValidationIssue[] }
  | { ok: false; issues: ValidationIssue[]; warnings: ValidationIssue[] };

/** Collects issues of one validation run. */
export class IssueCollector {
  readonly errors: ValidationIssue[] = [];
  readonly warnings: ValidationIssue[] = [];

  error(code: IssueCode, path: string, message: string): void {
    this.errors.push({ code, path, message, severity: "error" });
  }

  warn(code: IssueCode, path: string, message: string): void {
    this.warnings.push({ code, path, message, severity: "warning" });
  }

  result<T>(value: T): ValidationResult<T> {
    return this.errors.length === 0
      ? { ok: true, value, warnings: this.warnings }
      : { ok: false, issues: this.errors, warnings: this.warnings };
  }
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}
