import { CphValidationError, type StorageInfo } from "@cph-export/core";
import type { SkippedPhone } from "./skipped-phone.js";

/** What `exportMany` reads: storage infos to send, and phones the caller has decided to skip. */
export type ExportSource = Iterable<StorageInfo | SkippedPhone> | AsyncIterable<StorageInfo | SkippedPhone>;
export type ExportItem = StorageInfo | SkippedPhone;

export function iteratorOf(source: ExportSource): Iterator<ExportItem> | AsyncIterator<ExportItem> {
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
