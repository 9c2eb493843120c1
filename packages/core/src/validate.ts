import { utf8Length } from "./bytes.js";
import { checkDevicePath, describeChar, type DevicePathOptions } from "./device-path.js";
import { IssueCollector, joinPath, type ValidationResult } from "./issues.js";
import { LIMITS } from "./limits.js";
import { checkBucketName, checkObjectPath } from "./obs.js";
import type { BatchExportRequest, BatchImportRequest, RestoreInfo, StorageInfo } from "./schemas.js";
import { serializeStorageInfo } from "./serialize.js";

export interface ValidationOptions extends DevicePathOptions {
  /** Most storage infos in one request; default 100 (unconfirmed upstream). */
  maxPhonesPerRequest?: number;
  /** Largest request body; default 12 MB, the API gateway's limit. */
  maxBodyBytes?: number;
}

const PHONE_ID_CHARSET = /^[A-Za-z0-9_-]*$/;
const STORAGE_INFO_KEYS = new Set(["phone_id", "include_files", "exclude_files", "bucket_name", "object_path"]);
const RESTORE_INFO_KEYS = new Set(["phone_id", "bucket_name", "object_path"]);

type Shape = Record<string, unknown>;

function isRecord(value: unknown): value is Shape {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function checkUnknownKeys(value: Shape, allowed: Set<string>, path: string, collector: IssueCollector): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      collector.error("unrecognized_key", joinPath(path, key), `unknown field "${key}"; allowed: ${[...allowed].join(", ")}`);
    }
  }
}

function readString(value: Shape, key: string, path: string, collector: IssueCollector): string | undefined {
  const field = value[key];
  const fieldPath = joinPath(path, key);
  if (field === undefined) {
    collector.error("required", fieldPath, `${key} is required`);
    return undefined;
  }
  if (typeof field !== "string") {
    collector.error("invalid_type", fieldPath, `${key} must be a string, not ${typeName(field)}`);
    return undefined;
  }
  return field;
}

function checkPhoneId(value: string, path: string, collector: IssueCollector): void {
  if (value.length === 0) {
    collector.error("phone_id_empty", path, "phone_id is empty");
    return;
  }
  const bytes = utf8Length(value);
  if (bytes > LIMITS.phoneIdMaxBytes) {
    collector.error("phone_id_too_long", path, `phone_id is ${bytes} bytes long; at most ${LIMITS.phoneIdMaxBytes} are allowed`);
  }
  if (!PHONE_ID_CHARSET.test(value)) {
    const bad = [...new Set([...value].filter((char) => !PHONE_ID_CHARSET.test(char)))];
    collector.error(
      "phone_id_charset",
      path,
      `phone_id "${value}" contains ${bad.map(describeChar).join(", ")}; phone ids are letters, digits, - and _`,
    );
  }
}

function checkPathList(
  value: Shape,
  key: "include_files" | "exclude_files",
  path: string,
  collector: IssueCollector,
  options: ValidationOptions,
): string[] | undefined {
  const field = value[key];
  const fieldPath = joinPath(path, key);
  if (field === undefined) {
    if (key === "include_files") collector.error("required", fieldPath, "include_files is required: list the paths to export");
    return undefined;
  }
  if (!Array.isArray(field)) {
    collector.error("invalid_type", fieldPath, `${key} must be an array of paths, not ${typeName(field)}`);
    return undefined;
  }
  if (key === "include_files" && field.length === 0) {
    collector.error("include_files_empty", fieldPath, "include_files is empty; list at least one path under /data or /cache");
  }
  field.forEach((item, index) => {
    const itemPath = joinPath(fieldPath, index);
    if (typeof item !== "string") {
      collector.error("invalid_type", itemPath, `each path must be a string, not ${typeName(item)}`);
      return;
    }
    checkDevicePath(item, itemPath, collector, options);
  });
  return field as string[];
}

/** Checks one storage info and records its issues under `path` (e.g. `storage_infos[3]`). */
export function checkStorageInfo(
  input: unknown,
  path: string,
  collector: IssueCollector,
  options: ValidationOptions = {},
): void {
  if (!isRecord(input)) {
    collector.error("invalid_type", path, `each storage info must be an object, not ${typeName(input)}`);
    return;
  }
  checkUnknownKeys(input, STORAGE_INFO_KEYS, path, collector);
  const phoneId = readString(input, "phone_id", path, collector);
  if (phoneId !== undefined) checkPhoneId(phoneId, joinPath(path, "phone_id"), collector);
  checkPathList(input, "include_files", path, collector, options);
  checkPathList(input, "exclude_files", path, collector, options);
  const bucket = readString(input, "bucket_name", path, collector);
  if (bucket !== undefined) checkBucketName(bucket, joinPath(path, "bucket_name"), collector);
  const objectPath = readString(input, "object_path", path, collector);
  if (objectPath !== undefined) checkObjectPath(objectPath, joinPath(path, "object_path"), collector);
  if (collector.errors.length === 0) {
    const maxBodyBytes = options.maxBodyBytes ?? LIMITS.maxBodyBytes;
    const bytes = utf8Length(serializeStorageInfo(input as unknown as StorageInfo)) + ENVELOPE_BYTES;
    if (bytes > maxBodyBytes) {
      collector.error(
        "storage_info_too_large",
        path,
        `this phone's request body alone would be ${bytes} bytes, over the ${maxBodyBytes}-byte limit; use fewer paths`,
      );
    }
  }
}

/** `{"storage_infos":[` + `]}`. */
export const ENVELOPE_BYTES = '{"storage_infos":[]}'.length;

/** Validates one storage info on its own. */
export function validateStorageInfo(input: unknown, options: ValidationOptions = {}): ValidationResult<StorageInfo> {
  const collector = new IssueCollector();
  checkStorageInfo(input, "", collector, options);
  return collector.result(input as StorageInfo);
}

/**
 * Validates a whole batch-storage body and reports every issue at once, each with a stable code
 * and the JSON path of the value, e.g. `storage_infos[3].include_files[0]`.
 */
export function validateBatchExportRequest(
  input: unknown,
  options: ValidationOptions = {},
): ValidationResult<BatchExportRequest> {
  const collector = new IssueCollector();
  if (!isRecord(input)) {
    collector.error("invalid_type", "", `the request body must be an object, not ${typeName(input)}`);
    return collector.result(input as BatchExportRequest);
  }
  checkUnknownKeys(input, new Set(["storage_infos"]), "", collector);
  const infos = input["storage_infos"];
  if (infos === undefined) {
    collector.error("required", "storage_infos", "storage_infos is required");
    return collector.result(input as BatchExportRequest);
  }
  if (!Array.isArray(infos)) {
    collector.error("invalid_type", "storage_infos", `storage_infos must be an array, not ${typeName(infos)}`);
    return collector.result(input as BatchExportRequest);
  }
  if (infos.length === 0) collector.error("storage_infos_empty", "storage_infos", "storage_infos is empty; give at least one phone");
  const max = options.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest;
  if (infos.length > max) {
    collector.error("storage_infos_too_many", "storage_infos", `${infos.length} phones in one request; at most ${max} are allowed`);
  }
  const firstIndexByPhone = new Map<string, number>();
  const firstIndexByObject = new Map<string, number>();
  infos.forEach((info, index) => {
    const path = joinPath("storage_infos", index);
    checkStorageInfo(info, path, collector, options);
    if (!isRecord(info)) return;
    const phoneId = info["phone_id"];
    if (typeof phoneId === "string" && phoneId.length > 0) {
      const first = firstIndexByPhone.get(phoneId);
      if (first === undefined) firstIndexByPhone.set(phoneId, index);
      else {
        collector.error(
          "phone_id_duplicate",
          joinPath(path, "phone_id"),
          `phone ${phoneId} is already in storage_infos[${first}]; one request may name a phone once`,
        );
      }
    }
    const bucket = info["bucket_name"];
    const objectPath = info["object_path"];
    if (typeof bucket === "string" && typeof objectPath === "string") {
      const key = `${bucket}\u0000${objectPath}`;
      const first = firstIndexByObject.get(key);
      if (first === undefined) firstIndexByObject.set(key, index);
      else {
        collector.warn(
          "object_path_duplicate",
          joinPath(path, "object_path"),
          `storage_infos[${first}] writes the same object ${bucket}/${objectPath}; one archive would overwrite the other`,
        );
      }
    }
  });
  const maxBodyBytes = options.maxBodyBytes ?? LIMITS.maxBodyBytes;
  if (collector.errors.length === 0) {
    const bytes = utf8Length(JSON.stringify(input));
    if (bytes > maxBodyBytes) {
      collector.error("body_too_large", "storage_infos", `the body is ${bytes} bytes, over the ${maxBodyBytes}-byte limit`);
    }
  }
  return collector.result(input as BatchExportRequest);
}

/** Validates a batch-restore body (`restore_infos`). */
export function validateBatchImportRequest(
  input: unknown,
  options: Pick<ValidationOptions, "maxPhonesPerRequest"> = {},
): ValidationResult<BatchImportRequest> {
  const collector = new IssueCollector();
  if (!isRecord(input)) {
    collector.error("invalid_type", "", `the request body must be an object, not ${typeName(input)}`);
    return collector.result(input as BatchImportRequest);
  }
  checkUnknownKeys(input, new Set(["restore_infos"]), "", collector);
  const infos = input["restore_infos"];
  if (!Array.isArray(infos)) {
    if (infos === undefined) collector.error("required", "restore_infos", "restore_infos is required");
    else collector.error("invalid_type", "restore_infos", `restore_infos must be an array, not ${typeName(infos)}`);
    return collector.result(input as BatchImportRequest);
  }
  if (infos.length === 0) collector.error("storage_infos_empty", "restore_infos", "restore_infos is empty; give at least one phone");
  const max = options.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest;
  if (infos.length > max) {
    collector.error("storage_infos_too_many", "restore_infos", `${infos.length} phones in one request; at most ${max} are allowed`);
  }
  const seen = new Map<string, number>();
  infos.forEach((info: unknown, index) => {
    const path = joinPath("restore_infos", index);
    if (!isRecord(info)) {
      collector.error("invalid_type", path, `each restore info must be an object, not ${typeName(info)}`);
      return;
    }
    checkUnknownKeys(info, RESTORE_INFO_KEYS, path, collector);
    const phoneId = readString(info, "phone_id", path, collector);
    if (phoneId !== undefined) {
      checkPhoneId(phoneId, joinPath(path, "phone_id"), collector);
      const first = seen.get(phoneId);
      if (first === undefined) seen.set(phoneId, index);
      else collector.error("phone_id_duplicate", joinPath(path, "phone_id"), `phone ${phoneId} is already in restore_infos[${first}]`);
    }
    const bucket = readString(info, "bucket_name", path, collector);
    if (bucket !== undefined) checkBucketName(bucket, joinPath(path, "bucket_name"), collector);
    const objectPath = readString(info, "object_path", path, collector);
    if (objectPath !== undefined) checkObjectPath(objectPath, joinPath(path, "object_path"), collector);
  });
  return collector.result(input as BatchImportRequest);
}

export type { RestoreInfo };
