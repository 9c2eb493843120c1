import type { BatchEntry } from "./export-source.js";
import { RESULT_CODES } from "./batch-result.js";
import type { JournalEntry } from "./journal.js";
import type { PhoneResult } from "./types.js";

/** The result an earlier run's journal gives a phone, or undefined when the phone is to be sent again. */
export function fromJournal(info: BatchEntry, entry: JournalEntry, index: number): PhoneResult | undefined {
  const base = {
    phoneId: info.phone_id,
    bucketName: info.bucket_name,
    objectPath: info.object_path,
    index,
    fromJournal: true,
  };
  const ids = { jobId: entry.jobId, requestId: entry.requestId };
  switch (entry.state) {
    case "accepted":
    case "succeeded":
      return { ...base, ...ids, state: entry.state };
    case "failed":
      return {
        ...base,
        ...ids,
        state: "failed",
        errorCode: entry.errorCode,
        errorMessage: entry.errorMessage,
      };
    case "sent":
    case "unknown": {
      const detail =
        entry.state === "sent" ? "the earlier run stopped before its answer arrived" : entry.errorMessage;
      return {
        ...base,
        ...ids,
        state: "unknown",
        errorCode: RESULT_CODES.unknownInJournal,
        errorMessage: `outcome unknown in journal${detail ? ` (${detail})` : ""}; check the bucket, then rerun with retryUnknown to send it again`,
      };
    }
    default:
      return undefined;
  }
}
