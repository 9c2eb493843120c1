export { createCphClient } from "./client.js";
export { RESULT_CODES } from "./batch-result.js";
export type { ExportSource, RestoreSource } from "./export-many.js";
export type { PhoneFilter, ServerFilter } from "./inventory.js";
export { SkippedPhone } from "./skipped-phone.js";
export { Journal } from "./journal.js";
export type { JournalEntry, JournalOperation, JournalVerification } from "./journal.js";
export { DEFAULT_RETRY_POLICY, defaultShouldRetry } from "./retry.js";
export { DEFAULT_TIMEOUTS, createDefaultDispatcher } from "./transport.js";
export { DEFAULT_USER_AGENT, VERSION } from "./version.js";
export type {
  BatchExportOptions,
  BatchExportResult,
  BatchRestoreOptions,
  BatchRestoreResult,
  ClientEvent,
  CphClient,
  CphClientOptions,
  Credentials,
  ExportManyOptions,
  ExportProgress,
  JobOutcome,
  PhoneResult,
  PhoneState,
  RequestOptions,
  RetryPolicy,
  Timeouts,
  TrackedJob,
  WaitOptions,
  WaitProgress,
} from "./types.js";
