import { utf8Length } from "./bytes.js";
import {
  type CompiledRoots,
  checkDevicePath,
  describeBadChars,
  type DevicePathOptions,
  isAcceptedDevicePath,
  quote,
  rootsFor,
} from "./device-path.js";
import { IssueCollector, joinPath, type ValidationResult } from "./issues.js";
import { LIMITS } from "./limits.js";
import {
  checkBucketName,
  checkObjectPath,
  checkObjectPathWarnings,
  isAcceptedBucketName,
  isAcceptedObjectPath,
  isPlainObjectPath,
} from "./obs.js";
import type { BatchExportRequest, BatchImportRequest, RestoreInfo, StorageInfo } from "./schemas.js";
import {
  ENVELOPE_BYTES,
  RESTORE_ENVELOPE_BYTES,
  restoreInfoJsonBytes,
  validStorageInfoJsonBytes,
} from "./serialize.js";

export interface ValidationOptions extends DevicePathOptions {
  /** Most storage infos in one request; default 100 (unconfirmed upstream). */
  maxPhonesPerRequest?: number;
  /** Largest request body; default 12 MB, the API gateway's limit. */
  maxBodyBytes?: number;
  /**
   * What a phone id with a character other than `A-Z a-z 0-9 - _` is. The API documents no
   * charset for phone ids (only "at most 32 bytes"; its examples are 32 hex characters), so by
   * default it is a `"warning"` and the request is sent; `"error"` refuses it, as the emulator does.
   */
  phoneIdCharset?: "warning" | "error";
}

const PHONE_ID_CHARSET = /^[A-Za-z0-9_-]*$/;
const STORAGE_INFO_KEYS = new Set([
  "phone_id",
  "include_files",
  "exclude_files",
  "bucket_name",
  "object_path",
]);
const RESTORE_INFO_KEYS = new Set(["phone_id", "bucket_name", "object_path"]);
const EXPORT_BODY_KEYS = new Set(["storage_infos"]);
const IMPORT_BODY_KEYS = new Set(["restore_infos"]);

/** The options of one validation run, resolved once rather than per path. */
interface Context {
  roots: CompiledRoots;
  maxBodyBytes: number;
  strictPhoneIds: boolean;
}

function contextFor(options: ValidationOptions): Context {
  return {
    roots: rootsFor(options),
    maxBodyBytes: options.maxBodyBytes ?? LIMITS.maxBodyBytes,
    strictPhoneIds: options.phoneIdCharset === "error",
  };
}

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
  for (const key in value) {
    if (Object.hasOwn(value, key) && !allowed.has(key)) {
      collector.error(
        "unrecognized_key",
        joinPath(path, key),
        `unknown field ${quote(key)}; the allowed fields are ${[...allowed].join(", ")}`,
      );
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

/** The common case, no issue at all. The charset is ASCII: as many bytes as characters. */
function isPlainPhoneId(value: string): boolean {
  return value.length > 0 && value.length <= LIMITS.phoneIdMaxBytes && PHONE_ID_CHARSET.test(value);
}

/** No error (a phone id outside the usual charset is only a warning unless `strictPhoneIds`). */
function isAcceptedPhoneId(value: string, strictPhoneIds: boolean): boolean {
  if (isPlainPhoneId(value)) return true;
  return !strictPhoneIds && value.length > 0 && utf8Length(value) <= LIMITS.phoneIdMaxBytes;
}

function phoneIdCharsetMessage(value: string): string {
  return `phone_id ${quote(value)} contains ${describeBadChars(value, PHONE_ID_CHARSET)}; phone ids are usually letters, digits, - and _ (32 hex characters in the API's examples)`;
}

function checkPhoneId(value: string, path: string, collector: IssueCollector, strictPhoneIds: boolean): void {
  if (isPlainPhoneId(value)) return;
  if (value.length === 0) {
    collector.error("phone_id_empty", path, "phone_id is empty");
    return;
  }
  const bytes = utf8Length(value);
  if (bytes > LIMITS.phoneIdMaxBytes) {
    collector.error(
      "phone_id_too_long",
      path,
      `phone_id is ${bytes} bytes long; at most ${LIMITS.phoneIdMaxBytes} are allowed`,
    );
  }
  if (!PHONE_ID_CHARSET.test(value)) {
    if (strictPhoneIds) collector.error("phone_id_charset", path, phoneIdCharsetMessage(value));
    else collector.warn("phone_id_charset", path, phoneIdCharsetMessage(value));
  }
}

function checkPathList(
  value: Shape,
  key: "include_files" | "exclude_files",
  path: string,
  collector: IssueCollector,
  roots: CompiledRoots,
): void {
  const field = value[key];
  const fieldPath = joinPath(path, key);
  if (field === undefined) {
    if (key === "include_files")
      collector.error("required", fieldPath, "include_files is required: list the paths to export");
    return;
  }
  if (!Array.isArray(field)) {
    collector.error("invalid_type", fieldPath, `${key} must be an array of paths, not ${typeName(field)}`);
    return;
  }
  if (key === "include_files" && field.length === 0) {
    collector.error(
      "include_files_empty",
      fieldPath,
      "include_files is empty; list at least one path under /data or /cache",
    );
  }
  for (let index = 0; index < field.length; index++) {
    const item: unknown = field[index];
    if (typeof item !== "string") {
      collector.error(
        "invalid_type",
        joinPath(fieldPath, index),
        `each path must be a string, not ${typeName(item)}`,
      );
    } else {
      // The path string is only built when there is an issue to report.
      const before = collector.errors.length;
      checkDevicePath(item, "", collector, roots);
      for (let issue = before; issue < collector.errors.length; issue++) {
        collector.errors[issue]!.path = joinPath(fieldPath, index);
      }
    }
  }
}

function isAcceptedPathList(value: unknown, roots: CompiledRoots): boolean {
  if (!Array.isArray(value)) return false;
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index];
    if (typeof item !== "string" || !isAcceptedDevicePath(item, roots)) return false;
  }
  return true;
}

/**
 * True when a storage info has no error at all, tested without building a path or a message.
 * Validation runs this first and explains with the `check*` functions only when it is false;
 * both use the same per-field predicates, so they cannot disagree on a field.
 */
function isAcceptedStorageInfo(info: Shape, context: Context): boolean {
  for (const key in info) if (!STORAGE_INFO_KEYS.has(key)) return false;
  const { phone_id, include_files, exclude_files, bucket_name, object_path } = info;
  return (
    typeof phone_id === "string" &&
    isAcceptedPhoneId(phone_id, context.strictPhoneIds) &&
    Array.isArray(include_files) &&
    include_files.length > 0 &&
    isAcceptedPathList(include_files, context.roots) &&
    (exclude_files === undefined || isAcceptedPathList(exclude_files, context.roots)) &&
    typeof bucket_name === "string" &&
    isAcceptedBucketName(bucket_name) &&
    typeof object_path === "string" &&
    isAcceptedObjectPath(object_path)
  );
}

/** `storage_infos[3]`, or `""` for an info validated on its own. */
function infoPath(index: number | undefined): string {
  return index === undefined ? "" : `storage_infos[${index}]`;
}

/**
 * Checks one storage info (`index` in `storage_infos`, or undefined on its own) and records its
 * issues under its path. Returns its body size in bytes when it is valid, for the request-level
 * size check. The path string is only built when something is reported.
 */
function checkStorageInfo(
  input: unknown,
  index: number | undefined,
  collector: IssueCollector,
  context: Context,
): number | undefined {
  if (!isRecord(input)) {
    collector.error(
      "invalid_type",
      infoPath(index),
      `each storage info must be an object, not ${typeName(input)}`,
    );
    return undefined;
  }
  if (isAcceptedStorageInfo(input, context)) {
    const phoneId = input["phone_id"] as string;
    if (!isPlainPhoneId(phoneId)) {
      checkPhoneId(phoneId, joinPath(infoPath(index), "phone_id"), collector, false);
    }
    const objectPath = input["object_path"] as string;
    if (!isPlainObjectPath(objectPath)) {
      checkObjectPathWarnings(objectPath, joinPath(infoPath(index), "object_path"), collector);
    }
    return sizeChecked(input as unknown as StorageInfo, index, collector, context);
  }
  const path = infoPath(index);
  const before = collector.errors.length;
  checkUnknownKeys(input, STORAGE_INFO_KEYS, path, collector);
  const phoneId = readString(input, "phone_id", path, collector);
  if (phoneId !== undefined)
    checkPhoneId(phoneId, joinPath(path, "phone_id"), collector, context.strictPhoneIds);
  checkPathList(input, "include_files", path, collector, context.roots);
  checkPathList(input, "exclude_files", path, collector, context.roots);
  const bucket = readString(input, "bucket_name", path, collector);
  if (bucket !== undefined) checkBucketName(bucket, joinPath(path, "bucket_name"), collector);
  const objectPath = readString(input, "object_path", path, collector);
  if (objectPath !== undefined) checkObjectPath(objectPath, joinPath(path, "object_path"), collector);
  // Earlier storage infos' errors are in the same collector: only this one's count here.
  if (collector.errors.length !== before) return undefined;
  return sizeChecked(input as unknown as StorageInfo, index, collector, context);
}

/** The info's body size, or an error when it alone would be over the body limit. */
function sizeChecked(
  info: StorageInfo,
  index: number | undefined,
  collector: IssueCollector,
  context: Context,
): number | undefined {
  const bytes = validStorageInfoJsonBytes(info);
  if (ENVELOPE_BYTES + bytes <= context.maxBodyBytes) return bytes;
  collector.error(
    "storage_info_too_large",
    infoPath(index),
    `this phone's request body alone would be ${ENVELOPE_BYTES + bytes} bytes, over the ${context.maxBodyBytes}-byte limit; list fewer or shorter paths`,
  );
  return undefined;
}

/** Validates one storage info on its own. */
export function validateStorageInfo(
  input: unknown,
  options: ValidationOptions = {},
): ValidationResult<StorageInfo> {
  const collector = new IssueCollector();
  checkStorageInfo(input, undefined, collector, contextFor(options));
  return collector.result(input as StorageInfo);
}

/** The rules of a request's list length, shared by export and restore. */
function checkListSize(
  length: number,
  list: "storage_infos" | "restore_infos",
  options: ValidationOptions,
  collector: IssueCollector,
): void {
  if (length === 0) collector.error("storage_infos_empty", list, `${list} is empty; give at least one phone`);
  const max = options.maxPhonesPerRequest ?? LIMITS.defaultPhonesPerRequest;
  if (length > max) {
    collector.error(
      "storage_infos_too_many",
      list,
      `${length} phones in one request; at most ${max} are allowed`,
    );
  }
}

function checkBodyBytes(
  bodyBytes: number | undefined,
  list: "storage_infos" | "restore_infos",
  context: Context,
  collector: IssueCollector,
): void {
  if (bodyBytes !== undefined && bodyBytes > context.maxBodyBytes) {
    collector.error(
      "body_too_large",
      list,
      `the body would be ${bodyBytes} bytes, over the ${context.maxBodyBytes}-byte limit; send fewer phones per request`,
    );
  }
}

/** One request may name a phone once: reports each later entry with the index of the first. */
class DuplicatePhones {
  readonly #firstIndex = new Map<string, number>();

  constructor(private readonly list: "storage_infos" | "restore_infos") {}

  check(phoneId: unknown, index: number, collector: IssueCollector): void {
    if (typeof phoneId !== "string" || phoneId.length === 0) return;
    const first = this.#firstIndex.get(phoneId);
    if (first === undefined) {
      this.#firstIndex.set(phoneId, index);
      return;
    }
    collector.error(
      "phone_id_duplicate",
      `${this.list}[${index}].phone_id`,
      `phone ${quote(phoneId)} is already in ${this.list}[${first}]; one request may name a phone once, so merge the two or send them in separate requests`,
    );
  }
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
  checkUnknownKeys(input, EXPORT_BODY_KEYS, "", collector);
  const infos = input["storage_infos"];
  if (infos === undefined) {
    collector.error("required", "storage_infos", "storage_infos is required");
    return collector.result(input as BatchExportRequest);
  }
  if (!Array.isArray(infos)) {
    collector.error(
      "invalid_type",
      "storage_infos",
      `storage_infos must be an array, not ${typeName(infos)}`,
    );
    return collector.result(input as BatchExportRequest);
  }
  checkListSize(infos.length, "storage_infos", options, collector);
  const context = contextFor(options);
  const duplicates = new DuplicatePhones("storage_infos");
  // bucket -> object path -> first index; nested rather than a joined key, which costs a string per phone.
  const firstIndexByObject = new Map<string, Map<string, number>>();
  // The body's size from the sizes of its storage infos: envelope, infos and the commas between.
  let bodyBytes: number | undefined = ENVELOPE_BYTES + Math.max(0, infos.length - 1);
  // A for loop, not forEach: forEach would skip the holes of a sparse array, unvalidated.
  for (let index = 0; index < infos.length; index++) {
    const info: unknown = infos[index];
    const bytes = checkStorageInfo(info, index, collector, context);
    bodyBytes = bytes === undefined || bodyBytes === undefined ? undefined : bodyBytes + bytes;
    if (!isRecord(info)) continue;
    duplicates.check(info["phone_id"], index, collector);
    const bucket = info["bucket_name"];
    const objectPath = info["object_path"];
    if (typeof bucket === "string" && typeof objectPath === "string") {
      let objects = firstIndexByObject.get(bucket);
      if (objects === undefined) {
        objects = new Map();
        firstIndexByObject.set(bucket, objects);
      }
      const first = objects.get(objectPath);
      if (first === undefined) objects.set(objectPath, index);
      else {
        collector.warn(
          "object_path_duplicate",
          joinPath(infoPath(index), "object_path"),
          `storage_infos[${first}] writes the same object ${quote(`${bucket}/${objectPath}`)}; one archive would overwrite the other`,
        );
      }
    }
  }
  checkBodyBytes(bodyBytes, "storage_infos", context, collector);
  return collector.result(input as BatchExportRequest);
}

/**
 * Checks one restore info with the export's own field validators (phone id, bucket, object path)
 * and records its issues under `path`. Returns its body size in bytes when it is valid.
 */
function checkRestoreInfo(
  input: unknown,
  path: string,
  collector: IssueCollector,
  context: Context,
): number | undefined {
  if (!isRecord(input)) {
    collector.error("invalid_type", path, `each restore info must be an object, not ${typeName(input)}`);
    return undefined;
  }
  const before = collector.errors.length;
  checkUnknownKeys(input, RESTORE_INFO_KEYS, path, collector);
  const phoneId = readString(input, "phone_id", path, collector);
  if (phoneId !== undefined)
    checkPhoneId(phoneId, joinPath(path, "phone_id"), collector, context.strictPhoneIds);
  const bucket = readString(input, "bucket_name", path, collector);
  if (bucket !== undefined) checkBucketName(bucket, joinPath(path, "bucket_name"), collector);
  const objectPath = readString(input, "object_path", path, collector);
  if (objectPath !== undefined) checkObjectPath(objectPath, joinPath(path, "object_path"), collector);
  if (collector.errors.length !== before) return undefined;
  const bytes = restoreInfoJsonBytes(input as unknown as RestoreInfo);
  if (RESTORE_ENVELOPE_BYTES + bytes <= context.maxBodyBytes) return bytes;
  collector.error(
    "storage_info_too_large",
    path,
    `this phone's request body alone would be ${RESTORE_ENVELOPE_BYTES + bytes} bytes, over the ${context.maxBodyBytes}-byte limit`,
  );
  return undefined;
}

/** Validates one restore info on its own (paths are then relative to it: `phone_id`, `object_path`). */
export function validateRestoreInfo(
  input: unknown,
  options: ValidationOptions = {},
): ValidationResult<RestoreInfo> {
  const collector = new IssueCollector();
  checkRestoreInfo(input, "", collector, contextFor(options));
  return collector.result(input as RestoreInfo);
}

/**
 * Validates a whole batch-restore body and reports every issue at once, with the same codes and
 * validators as `validateBatchExportRequest` (phone id, bucket, object path, list size, body size,
 * one entry per phone) and paths such as `restore_infos[3].object_path`. Two phones restored from
 * one archive is not flagged: restoring a copy onto several phones is legitimate.
 */
export function validateBatchImportRequest(
  input: unknown,
  options: ValidationOptions = {},
): ValidationResult<BatchImportRequest> {
  const collector = new IssueCollector();
  if (!isRecord(input)) {
    collector.error("invalid_type", "", `the request body must be an object, not ${typeName(input)}`);
    return collector.result(input as BatchImportRequest);
  }
  checkUnknownKeys(input, IMPORT_BODY_KEYS, "", collector);
  const infos = input["restore_infos"];
  if (!Array.isArray(infos)) {
    if (infos === undefined) collector.error("required", "restore_infos", "restore_infos is required");
    else
      collector.error(
        "invalid_type",
        "restore_infos",
        `restore_infos must be an array, not ${typeName(infos)}`,
      );
    return collector.result(input as BatchImportRequest);
  }
  checkListSize(infos.length, "restore_infos", options, collector);
  const context = contextFor(options);
  const duplicates = new DuplicatePhones("restore_infos");
  let bodyBytes: number | undefined = RESTORE_ENVELOPE_BYTES + Math.max(0, infos.length - 1);
  for (let index = 0; index < infos.length; index++) {
    const info: unknown = infos[index];
    const bytes = checkRestoreInfo(info, joinPath("restore_infos", index), collector, context);
    bodyBytes = bytes === undefined || bodyBytes === undefined ? undefined : bodyBytes + bytes;
    if (isRecord(info)) duplicates.check(info["phone_id"], index, collector);
  }
  checkBodyBytes(bodyBytes, "restore_infos", context, collector);
  return collector.result(input as BatchImportRequest);
}

export type { RestoreInfo };
