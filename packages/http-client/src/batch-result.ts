import type { BatchExportResponse, PhoneJob, RestoreInfo } from "@cph-export/core";
import type { PhoneResult } from "./types.js";

/** Stable `errorCode`s of results the client decides itself (CPH codes and validation issue codes pass through). */
export const RESULT_CODES = {
  /** The phone appeared earlier in the same run; sent once only. */
  duplicatePhone: "duplicate_phone",
  /** A 200 answer did not mention the phone: its job may or may not exist. */
  notInResponse: "not_in_response",
  /** The request may have reached CPH but its answer was lost (timeout, reset, unreadable body). */
  outcomeUnknown: "outcome_unknown",
  /** An earlier run sent the phone and recorded no definite answer. */
  unknownInJournal: "unknown_in_journal",
  /** The job was still running when the wait ended. */
  waitTimeout: "wait_timeout",
  /** The job could not be followed (polling failed); it was accepted. */
  notFollowed: "not_followed",
  /** The service could not be reached at all after every retry; nothing was sent. */
  notSent: "not_sent",
  /** The phone's status is not one the run exports (off, frozen...); it was not sent. */
  notExportable: "not_exportable",
} as const;

// RestoreInfo: the fields read here, which a storage info has too (export and restore answer alike).
function phoneResultOf(
  info: RestoreInfo,
  job: PhoneJob | undefined,
  requestId: string | undefined,
): PhoneResult {
  // Built field by field: this runs once per phone, and spreads cost allocations at 100,000 phones.
  const result: PhoneResult = {
    phoneId: info.phone_id,
    state: "unknown",
    jobId: undefined,
    requestId,
    bucketName: info.bucket_name,
    objectPath: info.object_path,
  };
  if (!job) {
    result.errorCode = RESULT_CODES.notInResponse;
    result.errorMessage = "not in the response: the service did not say whether it created a job";
    return result;
  }
  result.jobId = job.job_id || undefined;
  if (job.error_code) {
    result.state = "rejected";
    result.errorCode = job.error_code;
    result.errorMessage = job.error_msg ?? "";
  } else if (result.jobId) {
    result.state = "accepted";
  } else {
    result.errorCode = RESULT_CODES.notInResponse;
    result.errorMessage = "the response lists the phone without a job id or an error code";
  }
  return result;
}

/**
 * One result per phone sent, in the order sent: `accepted` with a job id, `rejected` with the
 * per-phone error of a 200, or `unknown` when the answer does not mention the phone.
 */
export function phoneResults(
  infos: readonly RestoreInfo[],
  response: BatchExportResponse,
  requestId: string | undefined,
): PhoneResult[] {
  const byPhone = new Map<string, PhoneJob>();
  for (const job of response.jobs ?? []) {
    if (job.phone_id && !byPhone.has(job.phone_id)) byPhone.set(job.phone_id, job);
  }
  return infos.map((info) => phoneResultOf(info, byPhone.get(info.phone_id), requestId));
}
