import type { IssueCode } from "@cph-export/core";

/**
 * The error codes the emulator answers with. `APIGW.*` are the API gateway's documented codes.
 * Which `CPS.*` codes batch-storage returns is unconfirmed upstream; these are the emulator's
 * documented choices (see the README), picked from the codes CPH documents elsewhere.
 */
export const ERROR_CODES = {
  /** Per phone inside a 200: the phone is listed in `phones.missing`. */
  phoneNotFound: {
    code: "CPS.0005",
    body: (phoneId: string) => ({
      error_code: "CPS.0005",
      error_msg: `The cloud phone ${phoneId} does not exist.`,
    }),
  },
  /** Per phone inside a 200: the phone is listed in `phones.unavailable` (restricted: op_restricted). */
  phoneUnavailable: {
    code: "CPS.0006",
    body: (phoneId: string) => ({
      error_code: "CPS.0006",
      error_msg: `The cloud phone ${phoneId} is unavailable: its account is restricted (op_restricted).`,
    }),
  },
  /**
   * Per phone inside a 200: an inventory phone whose status is not running (2). UNCONFIRMED: the
   * real code and wording for this case are not documented; `CPS.0015` is outside the documented
   * 0001-0009 on purpose, so that nobody mistakes it for a confirmed one.
   */
  phoneNotRunning: { code: "CPS.0015" },
  /** A job whose archive could not be written (service internal error). */
  archiveFailed: { code: "CPS.0003" },
} as const;

/**
 * Why a restore job fails. UNCONFIRMED: CPH documents no codes for these; like `CPS.0015` they are
 * outside the documented 0001-0009 on purpose (see the README).
 */
export const RESTORE_ERROR_CODES = {
  /** The object `<bucket>/<object_path>` does not exist. */
  object_missing: "CPS.0016",
  /** The object is not a tar archive (corrupt, or another format), or holds members outside the roots. */
  not_a_tar: "CPS.0017",
  /** The archive was made on a newer Android version than the target phone's image. */
  android_version: "CPS.0018",
} as const;

/** 400 batch-storage validation: `CPS.0009` empty list, `CPS.0004` invalid phone id, else this. */
export const INVALID_PARAMETER = "CPH.INVALID_PARAMETER";
/** 404 ShowJob of a job id this project does not have. */
export const JOB_NOT_FOUND = "CPH.JOB_NOT_FOUND";

const PHONE_ID_ISSUES: ReadonlySet<IssueCode> = new Set([
  "phone_id_empty",
  "phone_id_too_long",
  "phone_id_charset",
]);

/** The error code of a batch-storage body refused by validation, chosen by its first issue. */
export function validationErrorCode(first: IssueCode | undefined): string {
  if (first === "storage_infos_empty") return "CPS.0009";
  if (first !== undefined && PHONE_ID_ISSUES.has(first)) return "CPS.0004";
  return INVALID_PARAMETER;
}
