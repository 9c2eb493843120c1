import { CphValidationError, type RestoreInfo, type StorageInfo } from "@cph-export/core";
import type { SkippedPhone } from "./skipped-phone.js";

/** What every batch entry has, export (`storage_infos`) or restore (`restore_infos`). */
export type BatchEntry = Pick<StorageInfo, "phone_id" | "bucket_name" | "object_path">;

/** What `exportMany` reads: storage infos to send, and phones the caller has decided to skip. */
export type ExportSource = Iterable<StorageInfo | SkippedPhone> | AsyncIterable<StorageInfo | SkippedPhone>;
export type ExportItem = StorageInfo | SkippedPhone;
/** What `restoreMany` reads: restore infos to send, and phones the caller has decided to skip. */
export type RestoreSource = Iterable<RestoreInfo | SkippedPhone> | AsyncIterable<RestoreInfo | SkippedPhone>;

export function iteratorOf<T>(
  source: Iterable<T | SkippedPhone> | AsyncIterable<T | SkippedPhone>,
): Iterator<T | SkippedPhone> | AsyncIterator<T | SkippedPhone> {
  type ExportItem = T | SkippedPhone;
  if (source && typeof (source as AsyncIterable<ExportItem>)[Symbol.asyncIterator] === "function") {
    return (source as AsyncIterable<ExportItem>)[Symbol.asyncIterator]();
  }
  if (source && typeof (source as Iterable<ExportItem>)[Symbol.iterator] === "function") {
    return (source as Iterable<ExportItem>)[Symbol.iterator]();
  }
  throw new CphValidationError([
    {
      code: "invalid_type",
      path: "source",
      message: "source must be an iterable or async iterable of storage infos",
      severity: "error",
    },
  ]);
}
