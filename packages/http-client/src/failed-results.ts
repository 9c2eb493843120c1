import type { BatchEntry } from "./export-source.js";
import { CphApiError, CphError, CphNetworkError } from "@cph-export/core";
import { RESULT_CODES } from "./batch-result.js";
import type { PhoneResult } from "./types.js";

/** cph-gateway: a request with the same Idempotency-Key is in flight (its outcome is this one's). */
const SAME_KEY_IN_FLIGHT = "CPHGW.4091";

/** The results of a request that failed after its retries: `rejected` when the answer proves nothing was done, else `unknown`. */
export function failedResults(infos: readonly BatchEntry[], error: unknown): PhoneResult[] {
  let shared: Pick<PhoneResult, "state" | "errorCode" | "errorMessage" | "requestId">;
  if (error instanceof CphNetworkError && error.phase === "connect") {
    shared = { state: "rejected", errorCode: RESULT_CODES.notSent, errorMessage: error.message };
  } else if (error instanceof CphApiError && error.errorCode === SAME_KEY_IN_FLIGHT) {
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: `${error.message}: a request with the same Idempotency-Key is in flight and may be exporting these phones; look for their jobs or archives before sending them again`,
      requestId: error.requestId,
    };
  } else if (error instanceof CphApiError && (error.status < 500 || error.retryable)) {
    shared = {
      state: "rejected",
      errorCode: error.errorCode,
      errorMessage: error.errorMessage || error.message,
      requestId: error.requestId,
    };
  } else if (error instanceof CphApiError) {
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: `${error.message}: the service may have processed the request`,
      requestId: error.requestId,
    };
  } else {
    const message = error instanceof Error ? error.message : String(error);
    shared = {
      state: "unknown",
      errorCode: RESULT_CODES.outcomeUnknown,
      errorMessage: message,
      requestId: error instanceof CphError ? error.requestId : undefined,
    };
  }
  return infos.map((info) => ({
    phoneId: info.phone_id,
    bucketName: info.bucket_name,
    objectPath: info.object_path,
    ...shared,
  }));
}
