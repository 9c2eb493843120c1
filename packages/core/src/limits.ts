/** Limits from api/CPH-API.md. The unconfirmed ones are defaults that callers may override. */
export const LIMITS = {
  phoneIdMaxBytes: 32,
  devicePathMaxBytes: 4096,
  objectPathMaxChars: 1024,
  bucketMinChars: 3,
  bucketMaxChars: 63,
  /** Unconfirmed upstream; sibling batch calls cap at 100. */
  defaultPhonesPerRequest: 100,
  /** API gateway body limit (HTTP 413, APIGW.0201). */
  maxBodyBytes: 12 * 1024 * 1024,
  listJobsMaxRequestIds: 20,
  listJobsMaxLimit: 100,
  signatureClockSkewMs: 15 * 60 * 1000,
} as const;

export const DEFAULT_ALLOWED_ROOTS: readonly string[] = ["/data", "/cache"];
