// The OpenAPI 3.1 description of the gateway, generated from the zod schemas the gateway and core use.
import {
  batchExportRequestSchema,
  batchImportRequestSchema,
  batchExportResponseSchema,
  cphErrorBodySchema,
  LIMITS,
  listCloudPhoneServersResponseSchema,
  listCloudPhonesResponseSchema,
  listJobsResponseSchema,
  PHONE_STATUS_WORDS,
  showJobResponseSchema,
} from "@cph-export/core";
import { z } from "zod";
import { GATEWAY_ERRORS } from "./errors.js";

/** The body of every error the gateway gives itself (`CPHGW.*` codes). */
export const gatewayErrorSchema = z.object({
  error_code: z.string().meta({
    description: "A CPHGW.* code (see x-cphgw-error-codes), or an upstream CPH/APIGW code passed through.",
  }),
  error_msg: z.string().meta({ description: "What went wrong and what to do." }),
  request_id: z.string().meta({
    description:
      "The gateway's request id (also in X-Request-Id), or the upstream's for passed-through errors.",
  }),
  details: z
    .array(
      z.object({
        code: z
          .string()
          .meta({ description: "Stable issue code, e.g. path_dot_segment or bucket_not_allowed." }),
        path: z
          .string()
          .meta({ description: "JSON path of the offending value, e.g. storage_infos[3].include_files[0]." }),
        message: z.string(),
      }),
    )
    .optional()
    .meta({ description: "Every issue found, for validation (400) and policy (403) refusals." }),
});

/** The ListJobs query parameters. */
export const listJobsQuerySchema = z.object({
  request_ids: z
    .string()
    .optional()
    .meta({
      description: `Comma-separated request ids of batch-storage calls, at most ${LIMITS.listJobsMaxRequestIds}; wins over request_id.`,
    }),
  request_id: z.string().optional().meta({ description: "One request id." }),
  offset: z.string().regex(/^\d+$/).optional().meta({ description: "From 0; default 0." }),
  limit: z
    .string()
    .regex(/^\d+$/)
    .optional()
    .meta({ description: `1-${LIMITS.listJobsMaxLimit}; default ${LIMITS.listJobsMaxLimit}.` }),
});

const pageQuery = {
  offset: z.string().regex(/^\d+$/).optional().meta({ description: "From 0; default 0." }),
  limit: z
    .string()
    .regex(/^\d+$/)
    .optional()
    .meta({ description: `1-${LIMITS.listJobsMaxLimit}; default ${LIMITS.listJobsMaxLimit}.` }),
};

/** The ListCloudPhones query parameters. */
export const listPhonesQuerySchema = z.object({
  ...pageQuery,
  phone_name: z.string().optional().meta({ description: "Fuzzy match on the phone name." }),
  server_id: z
    .string()
    .optional()
    .meta({ description: "One server; outside a confined caller's servers the page is empty." }),
  status: z
    .string()
    .optional()
    .meta({
      description: `A CPH status number, or one of the words ${PHONE_STATUS_WORDS.filter(
        (entry) => entry.codes.length === 1,
      )
        .map((entry) => entry.word)
        .join(", ")}.`,
    }),
  type: z.string().regex(/^\d+$/).optional().meta({ description: "0 ordinary, 1 trial." }),
});

/** The ListCloudPhoneServers query parameters. */
export const listServersQuerySchema = z.object({
  ...pageQuery,
  server_name: z.string().optional().meta({ description: "Fuzzy match on the server name." }),
  server_id: z.string().optional().meta({ description: "One server." }),
});

export interface OpenApiOptions {
  /** The gateway's own URL, listed under `servers`. */
  serverUrl?: string;
  /** Default the gateway's package version. */
  version?: string;
}

type JsonObject = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as JsonObject;
  delete json["$schema"];
  return json;
}

const ERROR_RESPONSES: Record<string, string> = {
  "400": "Invalid request (CPHGW.4001-4006) or an upstream CPS error passed through.",
  "401":
    "Not authenticated (CPHGW.4011-4014); APIGW.03xx codes mean the gateway's own upstream credentials were refused.",
  "403": "Refused by the caller's policy (CPHGW.4031-4036).",
  "409": "The Idempotency-Key is in flight (CPHGW.4091).",
  "413": "Body over the limit (CPHGW.4131).",
  "422": "The Idempotency-Key was used with another request (CPHGW.4221).",
  "429":
    "Caller rate limit (CPHGW.4291) or upstream throttling (APIGW.0308) passed through; see Retry-After.",
  "502": "Upstream unreachable or unreadable (CPHGW.5021-5024).",
  "503": "Shared state store unavailable (CPHGW.5032).",
  "504": "Upstream deadline passed; the call was aborted (CPHGW.5041).",
};

function errorResponses(statuses: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const status of statuses) {
    out[status] = {
      description: ERROR_RESPONSES[status],
      content: { "application/json": { schema: { $ref: "#/components/schemas/GatewayError" } } },
    };
  }
  return out;
}

const PROJECT_PARAMETER = {
  name: "project_id",
  in: "path",
  required: true,
  schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
  description: "The CPH project id; must be one of the caller's projects.",
};
const REQUEST_ID_HEADER = {
  "X-Request-Id": {
    description: "The gateway's request id (the caller's own when it sent a sane one).",
    schema: { type: "string" },
  },
};
const COMMON_ERRORS = ["400", "401", "403", "429", "502", "503", "504"] as const;

/**
 * The gateway's OpenAPI 3.1 document: the three CPH-compatible routes with their request and
 * response schemas (from core's zod schemas), security schemes, and every `CPHGW.*` code.
 */
export function createOpenApiDocument(options: OpenApiOptions = {}): JsonObject {
  const queryParameters = (shape: Record<string, z.ZodType>) =>
    Object.entries(shape).map(([name, schema]) => {
      const json = schemaOf(schema, "input");
      const description = json["description"];
      delete json["description"];
      return { name, in: "query", required: false, schema: json, description };
    });
  const parameters = queryParameters(listJobsQuerySchema.shape);
  const batch = (operationId: string, summary: string, requestSchema: string) => ({
    post: {
      operationId,
      summary,
      parameters: [
        PROJECT_PARAMETER,
        {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          schema: { type: "string", maxLength: 257 },
          description:
            "Same key and body within 24 h replays the first answer (with Idempotent-Replayed: true); " +
            "another body is 422; a duplicate while the first is in flight is 409. Keys are scoped per caller.",
        },
      ],
      requestBody: {
        required: true,
        content: { "application/json": { schema: { $ref: `#/components/schemas/${requestSchema}` } } },
      },
      responses: {
        "200": {
          description: "Accepted; phones refused by CPH are listed inside with error_code.",
          headers: {
            ...REQUEST_ID_HEADER,
            "Idempotent-Replayed": {
              description: "true on a replayed answer.",
              schema: { type: "string" },
            },
          },
          content: {
            "application/json": { schema: { $ref: "#/components/schemas/BatchExportResponse" } },
          },
        },
        ...errorResponses([...COMMON_ERRORS, "409", "413", "422"]),
      },
    },
  });
  const listing = (
    operationId: string,
    summary: string,
    shape: Record<string, z.ZodType>,
    schema: string,
  ) => ({
    get: {
      operationId,
      summary,
      parameters: [PROJECT_PARAMETER, ...queryParameters(shape)],
      responses: {
        "200": {
          description: "One page; page until a page is shorter than limit (there is no total).",
          headers: REQUEST_ID_HEADER,
          content: { "application/json": { schema: { $ref: `#/components/schemas/${schema}` } } },
        },
        ...errorResponses(COMMON_ERRORS),
      },
    },
  });
  return {
    openapi: "3.1.0",
    info: {
      title: "cph-gateway",
      version: options.version ?? "0.1.0",
      description:
        "Internal facade for the Huawei Cloud CPH export API: same routes and bodies as CPH, with caller " +
        "authentication, per-caller policy, validation, idempotency and rate limits.",
    },
    ...(options.serverUrl === undefined ? {} : { servers: [{ url: options.serverUrl }] }),
    security: [{ bearerApiKey: [] }, { sdkHmacSha256: [] }],
    paths: {
      "/v1/{project_id}/cloud-phone/phones/batch-storage": batch(
        "BatchExportCloudPhoneData",
        "Export the data of cloud phones to OBS (one job per phone).",
        "BatchExportRequest",
      ),
      "/v1/{project_id}/cloud-phone/phones/batch-restore": batch(
        "BatchImportCloudPhoneData",
        "Restore the data of cloud phones from OBS archives (one job per phone); needs the restore operation.",
        "BatchImportRequest",
      ),
      "/v1/{project_id}/cloud-phone/jobs/{job_id}": {
        get: {
          operationId: "ShowJob",
          summary: "One job.",
          parameters: [
            PROJECT_PARAMETER,
            {
              name: "job_id",
              in: "path",
              required: true,
              schema: { type: "string", pattern: "^[A-Za-z0-9._-]{1,128}$" },
            },
          ],
          responses: {
            "200": {
              description: "The job.",
              headers: REQUEST_ID_HEADER,
              content: { "application/json": { schema: { $ref: "#/components/schemas/ShowJobResponse" } } },
            },
            ...errorResponses(COMMON_ERRORS),
          },
        },
      },
      "/v1/{project_id}/cloud-phone/jobs": {
        get: {
          operationId: "ListJobs",
          summary: "The jobs of up to 20 batch-storage request ids.",
          parameters: [PROJECT_PARAMETER, ...parameters],
          responses: {
            "200": {
              description: "The jobs.",
              headers: REQUEST_ID_HEADER,
              content: { "application/json": { schema: { $ref: "#/components/schemas/ListJobsResponse" } } },
            },
            ...errorResponses(COMMON_ERRORS),
          },
        },
      },
      "/v1/{project_id}/cloud-phone/phones": listing(
        "ListCloudPhones",
        "The phones of the project, or of the caller's servers when its policy names servers.",
        listPhonesQuerySchema.shape,
        "ListCloudPhonesResponse",
      ),
      "/v1/{project_id}/cloud-phone/servers": listing(
        "ListCloudPhoneServers",
        "The servers of the project, or the caller's servers when its policy names servers.",
        listServersQuerySchema.shape,
        "ListCloudPhoneServersResponse",
      ),
      "/healthz": {
        get: {
          operationId: "Healthz",
          summary: "The process is alive.",
          security: [],
          responses: { "200": { description: "Alive." } },
        },
      },
      "/readyz": {
        get: {
          operationId: "Readyz",
          summary: "Upstream token obtainable and state store reachable; fails once shutdown began.",
          security: [],
          responses: {
            "200": { description: "Ready." },
            "503": { description: "Not ready, or shutting down." },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "Metrics",
          summary: "Prometheus text exposition.",
          security: [],
          responses: { "200": { description: "Metrics." } },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerApiKey: {
          type: "http",
          scheme: "bearer",
          description: "Authorization: Bearer <API key issued by the gateway's operators>.",
        },
        sdkHmacSha256: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description:
            "SDK-HMAC-SHA256 Access=<gateway-issued AK>, SignedHeaders=..., Signature=... as the Huawei Cloud SDKs sign.",
        },
      },
      schemas: {
        BatchExportRequest: schemaOf(batchExportRequestSchema, "input"),
        BatchImportRequest: schemaOf(batchImportRequestSchema, "input"),
        BatchExportResponse: schemaOf(batchExportResponseSchema, "output"),
        ShowJobResponse: schemaOf(showJobResponseSchema, "output"),
        ListJobsResponse: schemaOf(listJobsResponseSchema, "output"),
        ListCloudPhonesResponse: schemaOf(listCloudPhonesResponseSchema, "output"),
        ListCloudPhoneServersResponse: schemaOf(listCloudPhoneServersResponseSchema, "output"),
        GatewayError: schemaOf(gatewayErrorSchema, "output"),
        UpstreamError: schemaOf(cphErrorBodySchema, "output"),
      },
    },
    "x-cphgw-error-codes": Object.fromEntries(
      Object.entries(GATEWAY_ERRORS).map(([code, { status, summary }]) => [code, { status, summary }]),
    ),
  };
}
