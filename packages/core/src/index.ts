export {
  CphApiError,
  CphAuthError,
  CphError,
  CphNetworkError,
  CphValidationError,
  isRetryableApiError,
  isTransientErrorCode,
} from "./errors.js";
export type { CphApiErrorInit, CphErrorCode, NetworkPhase } from "./errors.js";
export { ISSUE_CODES } from "./issues.js";
export type { IssueCode, ValidationIssue, ValidationResult } from "./issues.js";
export { DEFAULT_ALLOWED_ROOTS, LIMITS } from "./limits.js";
export { matchExportPaths, validateDevicePath } from "./device-path.js";
export type { DevicePathOptions } from "./device-path.js";
export { validateBucketName, validateObjectPath } from "./obs.js";
export {
  validateBatchExportRequest,
  validateBatchImportRequest,
  validateRestoreInfo,
  validateStorageInfo,
} from "./validate.js";
export type { ValidationOptions } from "./validate.js";
export {
  batchExportRequestSchema,
  batchExportResponseSchema,
  batchImportRequestSchema,
  cphErrorBodySchema,
  iamTokenRequestSchema,
  iamTokenResponseSchema,
  JOB_STATUS,
  jobSchema,
  jobState,
  cloudPhoneServerSchema,
  listCloudPhoneServersResponseSchema,
  listCloudPhonesResponseSchema,
  listJobsResponseSchema,
  phoneSchema,
  phoneJobSchema,
  restoreInfoSchema,
  showJobResponseSchema,
  storageInfoSchema,
} from "./schemas.js";
export type {
  BatchExportRequest,
  BatchExportResponse,
  BatchImportRequest,
  CloudPhoneServer,
  CphErrorBody,
  IamTokenRequest,
  IamTokenResponse,
  Job,
  JobState,
  ListCloudPhoneServersResponse,
  ListCloudPhonesResponse,
  ListJobsResponse,
  Phone,
  PhoneJob,
  RestoreInfo,
  ShowJobResponse,
  StorageInfo,
} from "./schemas.js";
export {
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  DEFAULT_EXPORTABLE_STATUSES,
  PHONE_STATUS_WORDS,
  parsePhoneStatus,
  phoneStatusWord,
} from "./inventory.js";
export type { ListCloudPhoneServersQuery, ListCloudPhonesQuery } from "./inventory.js";
export { serializeBatchExportBody, serializeBatchImportBody, serializeStorageInfo } from "./serialize.js";
export {
  buildBatchExportRequest,
  buildBatchImportRequest,
  buildIamTokenRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  chunkRestoreInfos,
  chunkStorageInfos,
  RestoreInfoBatcher,
  restoreInfoFromStorageInfo,
  StorageInfoBatcher,
} from "./request.js";
export type { BatchOptions, HttpRequest, IamPasswordAuth, ListJobsQuery } from "./request.js";
export {
  authorizationHeader,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  computeSignature,
  formatSdkDate,
  parseAuthorization,
  parseSdkDate,
  SIGNING_ALGORITHM,
  sha256Hex,
  signRequest,
  timingSafeEqual,
  verifySignature,
  WEB_CRYPTO_HASHER,
} from "./signing.js";
export type {
  CanonicalInput,
  ParsedAuthorization,
  SigningCredentials,
  SigningHasher,
  SignOptions,
  VerifyInput,
  VerifyResult,
} from "./signing.js";
export {
  headerValue,
  parseBatchExportResponse,
  parseErrorBody,
  parseIamTokenResponse,
  parseListCloudPhoneServersResponse,
  parseListCloudPhonesResponse,
  parseListJobsResponse,
  parseRetryAfter,
  parseShowJobResponse,
  toCphError,
} from "./responses.js";
export type { HttpResponseData, IamToken, ParsedErrorBody } from "./responses.js";
export { REDACTED, redactHeaders, redactText } from "./redact.js";
export {
  CAMPAIGN_PHONE_STATES,
  formatMaxErrors,
  formatRate,
  maxErrorsExceeded,
  parseMaxErrors,
  parseRate,
} from "./run-control.js";
export type { CampaignPhoneState, MaxErrors, RunControlParse } from "./run-control.js";
export { formatUtcDate, OBJECT_PATH_PLACEHOLDERS, parseObjectPathTemplate } from "./object-path-template.js";
export type { ObjectPathTemplate, TemplateValues } from "./object-path-template.js";
export { findRegion, GLOBAL_IAM_ENDPOINT, REGIONS, resolveEndpoint, resolveIamEndpoint } from "./regions.js";
export type { Region } from "./regions.js";
export { utf8Bytes, utf8Length, utf8Text } from "./bytes.js";
export { ARCHIVE_VERDICTS, classifyArchive, DEFAULT_CLOCK_SKEW_MS, describeVerdict } from "./verify.js";
export type { ArchiveFacts, ArchiveVerdict, ClassifyArchiveOptions } from "./verify.js";
