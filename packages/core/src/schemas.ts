import { z } from "zod";

// Request schemas are strict: a typo in a field name is an error, not a silently dropped field.
export const storageInfoSchema = z.strictObject({
  phone_id: z.string(),
  include_files: z.array(z.string()),
  exclude_files: z.array(z.string()).optional(),
  bucket_name: z.string(),
  object_path: z.string(),
});
export type StorageInfo = z.infer<typeof storageInfoSchema>;

export const batchExportRequestSchema = z.strictObject({ storage_infos: z.array(storageInfoSchema) });
export type BatchExportRequest = z.infer<typeof batchExportRequestSchema>;

export const restoreInfoSchema = z.strictObject({
  phone_id: z.string(),
  bucket_name: z.string(),
  object_path: z.string(),
});
export type RestoreInfo = z.infer<typeof restoreInfoSchema>;

export const batchImportRequestSchema = z.strictObject({ restore_infos: z.array(restoreInfoSchema) });
export type BatchImportRequest = z.infer<typeof batchImportRequestSchema>;

// Response schemas are tolerant: every field may be missing or null; unknown fields are dropped.
const optionalString = z.string().nullish();

export const phoneJobSchema = z.object({
  phone_id: optionalString,
  job_id: optionalString,
  error_code: optionalString,
  error_msg: optionalString,
});
export type PhoneJob = z.infer<typeof phoneJobSchema>;

export const batchExportResponseSchema = z.object({
  request_id: optionalString,
  jobs: z.array(phoneJobSchema).nullish(),
});
export type BatchExportResponse = z.infer<typeof batchExportResponseSchema>;

export const jobSchema = z.object({
  job_id: optionalString,
  phone_id: optionalString,
  server_id: optionalString,
  request_id: optionalString,
  begin_time: optionalString,
  end_time: optionalString,
  // Documented as an integer; tolerate a numeric string rather than drop the job.
  status: z.union([z.number(), z.string()]).nullish(),
  error_code: optionalString,
  error_msg: optionalString,
  execute_msg: optionalString,
});
export type Job = z.infer<typeof jobSchema>;

export const showJobResponseSchema = jobSchema.extend({ request_id: optionalString });
export type ShowJobResponse = z.infer<typeof showJobResponseSchema>;

export const listJobsResponseSchema = z.object({
  request_id: optionalString,
  count: z.number().nullish(),
  jobs: z.array(jobSchema).nullish(),
});
export type ListJobsResponse = z.infer<typeof listJobsResponseSchema>;

// Documented as integers. A numeric string ("2") is read as its number rather than drop the phone;
// anything else that is not an integer (null, "", "abc", 2.5) reads as no status at all.
const statusNumber = z
  .union([z.number(), z.string()])
  .nullish()
  .transform((value): number | undefined => {
    if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
    if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
    return undefined;
  })
  .optional();

export const phoneSchema = z.object({
  phone_name: optionalString,
  server_id: optionalString,
  phone_id: optionalString,
  phone_model_name: optionalString,
  image_id: optionalString,
  vnc_enable: z.union([z.string(), z.boolean()]).nullish(),
  status: statusNumber,
  type: statusNumber,
  metadata: z.object({ order_id: optionalString, product_id: optionalString }).nullish(),
  create_time: optionalString,
  update_time: optionalString,
});
export type Phone = z.infer<typeof phoneSchema>;

export const listCloudPhonesResponseSchema = z.object({
  request_id: optionalString,
  phones: z.array(phoneSchema).nullish(),
});
export type ListCloudPhonesResponse = z.infer<typeof listCloudPhonesResponseSchema>;

export const cloudPhoneServerSchema = z.object({
  server_id: optionalString,
  server_name: optionalString,
  server_model_name: optionalString,
  phone_model_name: optionalString,
  status: statusNumber,
  create_time: optionalString,
  update_time: optionalString,
});
export type CloudPhoneServer = z.infer<typeof cloudPhoneServerSchema>;

export const listCloudPhoneServersResponseSchema = z.object({
  request_id: optionalString,
  servers: z.array(cloudPhoneServerSchema).nullish(),
});
export type ListCloudPhoneServersResponse = z.infer<typeof listCloudPhoneServersResponseSchema>;

export const iamTokenRequestSchema = z.strictObject({
  auth: z.strictObject({
    identity: z.strictObject({
      methods: z.array(z.literal("password")).min(1),
      password: z.strictObject({
        user: z.strictObject({
          domain: z.strictObject({ name: z.string().min(1) }),
          name: z.string().min(1),
          password: z.string().min(1),
        }),
      }),
    }),
    scope: z.strictObject({
      project: z.union([
        z.strictObject({ id: z.string().min(1) }),
        z.strictObject({ name: z.string().min(1) }),
      ]),
    }),
  }),
});
export type IamTokenRequest = z.infer<typeof iamTokenRequestSchema>;

export const iamTokenResponseSchema = z.object({
  token: z.object({
    expires_at: z.string(),
    issued_at: optionalString,
    project: z.object({ id: optionalString, name: optionalString }).nullish(),
    user: z.object({ id: optionalString, name: optionalString }).nullish(),
  }),
});
export type IamTokenResponse = z.infer<typeof iamTokenResponseSchema>;

/** Every error body shape the official SDKs accept. */
export const cphErrorBodySchema = z.union([
  z.object({ error_code: z.string(), error_msg: z.string().nullish(), request_id: optionalString }),
  z.object({ errorCode: z.string(), errorMsg: z.string().nullish(), request_id: optionalString }),
  z.object({ code: z.string(), message: z.string().nullish(), request_id: optionalString }),
  z.object({
    error: z.object({ code: z.string(), message: z.string().nullish() }),
    request_id: optionalString,
  }),
]);
export type CphErrorBody = z.infer<typeof cphErrorBodySchema>;

/** Job states derived from the documented `status` values (1, 2, -1). */
export type JobState = "running" | "succeeded" | "failed" | "unknown";

export const JOB_STATUS = { running: 1, succeeded: 2, failed: -1 } as const;

/** Maps a job's `status` to a state; an undocumented value is `unknown`, never a guess. */
export function jobState(status: unknown): JobState {
  const numeric = typeof status === "string" && /^-?\d+$/.test(status) ? Number(status) : status;
  if (numeric === JOB_STATUS.running) return "running";
  if (numeric === JOB_STATUS.succeeded) return "succeeded";
  if (numeric === JOB_STATUS.failed) return "failed";
  return "unknown";
}
