/**
 * A phone the caller decided not to send, handed to `exportMany` in the source next to the storage
 * infos: the run reports it as `rejected` with the caller's code and reason, in its place among the
 * results, and sends nothing for it, so that a run over a selection ends with one result per phone
 * (e.g. `not_exportable` for a phone that is off). A journal entry for the phone wins, as for any
 * phone: an earlier run's job is reported, not hidden behind the skip. Only a `SkippedPhone` made
 * with this class skips; no JSON input can.
 */
export class SkippedPhone {
  readonly phoneId: string;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly bucketName: string | undefined;
  readonly objectPath: string | undefined;

  constructor(init: {
    phoneId: string;
    errorCode: string;
    errorMessage: string;
    bucketName?: string | undefined;
    objectPath?: string | undefined;
  }) {
    this.phoneId = init.phoneId;
    this.errorCode = init.errorCode;
    this.errorMessage = init.errorMessage;
    this.bucketName = init.bucketName;
    this.objectPath = init.objectPath;
  }
}
