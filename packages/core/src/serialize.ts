import { utf8Length } from "./bytes.js";
import type { RestoreInfo, StorageInfo } from "./schemas.js";

/**
 * The documented fields in the documented order. As a `JSON.stringify` replacer list it both drops
 * unknown fields and orders the rest, without building a copy of every info.
 */
const STORAGE_INFO_FIELDS = ["phone_id", "include_files", "exclude_files", "bucket_name", "object_path"];

/** One storage info as JSON with the documented field order; unknown fields are dropped. */
export function serializeStorageInfo(info: StorageInfo): string {
  return JSON.stringify(info, STORAGE_INFO_FIELDS);
}

/**
 * The exact batch-storage body text for these storage infos: the infos of `serializeStorageInfo`
 * joined by commas, made in one `JSON.stringify` call, which is faster than one per info.
 */
export function serializeBatchExportBody(infos: readonly StorageInfo[]): string {
  return `{"storage_infos":${JSON.stringify(infos, STORAGE_INFO_FIELDS)}}`;
}

/** `{"storage_infos":[` + `]}`: the body bytes around the storage infos. */
export const ENVELOPE_BYTES = '{"storage_infos":[]}'.length;

// `{"phone_id":,"include_files":,"bucket_name":,"object_path":}` and `,"exclude_files":`.
const FIXED_KEY_BYTES = '{"phone_id":,"include_files":,"bucket_name":,"object_path":}'.length;
const EXCLUDE_KEY_BYTES = ',"exclude_files":'.length;

/** Printable ASCII without `"` and `\`: the characters JSON.stringify writes as they are. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** UTF-8 bytes of `JSON.stringify(value)` for a string, without building it in the common case. */
function jsonStringBytes(value: string): number {
  return JSON_PLAIN.test(value) ? value.length + 2 : utf8Length(JSON.stringify(value));
}

function jsonStringArrayBytes(values: readonly unknown[]): number | undefined {
  let bytes = 2 + Math.max(0, values.length - 1);
  for (const value of values) {
    if (typeof value !== "string") return undefined;
    bytes += jsonStringBytes(value);
  }
  return bytes;
}

/**
 * `utf8Length(serializeStorageInfo(info))`, computed without serialising: the batcher and the
 * validator size every phone, and building the JSON only to measure it doubled their cost.
 */
export function storageInfoJsonBytes(info: StorageInfo): number {
  const { phone_id, include_files, exclude_files, bucket_name, object_path } = info;
  if (
    typeof phone_id === "string" &&
    typeof bucket_name === "string" &&
    typeof object_path === "string" &&
    Array.isArray(include_files)
  ) {
    const include = jsonStringArrayBytes(include_files);
    const exclude =
      exclude_files === undefined
        ? 0
        : Array.isArray(exclude_files)
          ? jsonStringArrayBytes(exclude_files)
          : undefined;
    if (include !== undefined && exclude !== undefined) {
      return (
        FIXED_KEY_BYTES +
        jsonStringBytes(phone_id) +
        include +
        (exclude_files === undefined ? 0 : EXCLUDE_KEY_BYTES + exclude) +
        jsonStringBytes(bucket_name) +
        jsonStringBytes(object_path)
      );
    }
  }
  // Input that does not have the documented types: measure what would really be sent.
  return utf8Length(serializeStorageInfo(info));
}

function stringArrayLengths(values: readonly string[]): number {
  let bytes = 2 + Math.max(0, values.length - 1);
  for (const value of values) bytes += value.length + 2;
  return bytes;
}

/**
 * `storageInfoJsonBytes` for an info that passed validation: the documented charsets are printable
 * ASCII without `"` or `\`, so each string is its length plus two quotes, with no scan needed. The
 * phone id is measured: its charset is not documented, so validation only warns about it.
 */
export function validStorageInfoJsonBytes(info: StorageInfo): number {
  return (
    FIXED_KEY_BYTES +
    jsonStringBytes(info.phone_id) +
    stringArrayLengths(info.include_files) +
    (info.exclude_files === undefined ? 0 : EXCLUDE_KEY_BYTES + stringArrayLengths(info.exclude_files)) +
    info.bucket_name.length +
    2 +
    info.object_path.length +
    2
  );
}

/** JSON writes one UTF-16 unit as at most 6 bytes: `\u001f` for a control character or a lone surrogate. */
const MAX_JSON_BYTES_PER_UNIT = 6;

function stringArrayBound(values: readonly unknown[]): number | undefined {
  let bytes = 2 + Math.max(0, values.length - 1);
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (typeof value !== "string") return undefined;
    bytes += MAX_JSON_BYTES_PER_UNIT * value.length + 2;
  }
  return bytes;
}

/**
 * An upper bound of `storageInfoJsonBytes(info)` from string lengths alone, without looking at a
 * character; the exact size when the info does not have the documented types.
 */
export function storageInfoJsonBytesBound(info: StorageInfo): number {
  const { phone_id, include_files, exclude_files, bucket_name, object_path } = info;
  if (
    typeof phone_id === "string" &&
    typeof bucket_name === "string" &&
    typeof object_path === "string" &&
    Array.isArray(include_files)
  ) {
    const include = stringArrayBound(include_files);
    const exclude =
      exclude_files === undefined
        ? 0
        : Array.isArray(exclude_files)
          ? stringArrayBound(exclude_files)
          : undefined;
    if (include !== undefined && exclude !== undefined) {
      return (
        FIXED_KEY_BYTES +
        MAX_JSON_BYTES_PER_UNIT * (phone_id.length + bucket_name.length + object_path.length) +
        6 +
        include +
        (exclude_files === undefined ? 0 : EXCLUDE_KEY_BYTES + exclude)
      );
    }
  }
  return storageInfoJsonBytes(info);
}

/** The documented fields of a restore info, in order (a replacer list, as for storage infos). */
const RESTORE_INFO_FIELDS = ["phone_id", "bucket_name", "object_path"];

/** One restore info as JSON with the documented field order; unknown fields (an export's include_files) are dropped. */
export function serializeRestoreInfo(info: RestoreInfo): string {
  return JSON.stringify(info, RESTORE_INFO_FIELDS);
}

/** The exact batch-restore body text for these restore infos. */
export function serializeBatchImportBody(infos: readonly RestoreInfo[]): string {
  return `{"restore_infos":${JSON.stringify(infos, RESTORE_INFO_FIELDS)}}`;
}

/** `{"restore_infos":[` + `]}`: the body bytes around the restore infos. */
export const RESTORE_ENVELOPE_BYTES = '{"restore_infos":[]}'.length;

const RESTORE_KEY_BYTES = '{"phone_id":,"bucket_name":,"object_path":}'.length;

/** `utf8Length(serializeRestoreInfo(info))`, computed without serialising in the common case. */
export function restoreInfoJsonBytes(info: RestoreInfo): number {
  const { phone_id, bucket_name, object_path } = info;
  if (typeof phone_id === "string" && typeof bucket_name === "string" && typeof object_path === "string") {
    return (
      RESTORE_KEY_BYTES +
      jsonStringBytes(phone_id) +
      jsonStringBytes(bucket_name) +
      jsonStringBytes(object_path)
    );
  }
  return utf8Length(serializeRestoreInfo(info));
}

/** An upper bound of `restoreInfoJsonBytes(info)` from string lengths alone. */
export function restoreInfoJsonBytesBound(info: RestoreInfo): number {
  const { phone_id, bucket_name, object_path } = info;
  if (typeof phone_id === "string" && typeof bucket_name === "string" && typeof object_path === "string") {
    return (
      RESTORE_KEY_BYTES +
      MAX_JSON_BYTES_PER_UNIT * (phone_id.length + bucket_name.length + object_path.length) +
      6
    );
  }
  return restoreInfoJsonBytes(info);
}
