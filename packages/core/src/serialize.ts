import type { StorageInfo } from "./schemas.js";

/** One storage info as JSON with the documented field order; unknown fields are dropped. */
export function serializeStorageInfo(info: StorageInfo): string {
  const ordered: Record<string, unknown> = {
    phone_id: info.phone_id,
    include_files: info.include_files,
  };
  if (info.exclude_files !== undefined) ordered["exclude_files"] = info.exclude_files;
  ordered["bucket_name"] = info.bucket_name;
  ordered["object_path"] = info.object_path;
  return JSON.stringify(ordered);
}

/** The exact batch-storage body text for these storage infos. */
export function serializeBatchExportBody(infos: readonly StorageInfo[]): string {
  return `{"storage_infos":[${infos.map(serializeStorageInfo).join(",")}]}`;
}
