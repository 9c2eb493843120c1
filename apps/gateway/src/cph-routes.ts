import {
  buildBatchExportRequest,
  buildBatchImportRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  type HttpRequest,
  type StorageInfo,
  type ValidationResult,
  validateBatchExportRequest,
  validateBatchImportRequest,
} from "@cph-export/core";
import type { Hono } from "hono";
import { issueDetails } from "./answers.js";
import { GatewayError } from "./errors.js";
import type { ServerCheck } from "./fleet-routes.js";
import { type AppContext, type GatewayEnv, requestHeader } from "./incoming.js";
import { parseListJobsQuery } from "./list-jobs-query.js";
import type { BatchEntry, BatchOperation, CallerPolicy } from "./policy.js";
import { readBody } from "./read-body.js";
import { EMPTY, ROUTES, type RouteKit } from "./route-kit.js";

const JOB_ID = /^[A-Za-z0-9._-]{1,128}$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * batch-storage and batch-restore (validated, under the caller's policy, written anew from what
 * was validated, once per Idempotency-Key), ShowJob and ListJobs, and 405 for the other methods.
 */
export function mountCphRoutes(app: Hono<GatewayEnv>, kit: RouteKit, checkServers: ServerCheck): void {
  const { config, upstream, policies, admit, send, forward, idempotent } = kit;

  /** What differs between the two batch routes: the body's field, its rules, its request. */
  interface BatchRoute {
    operation: BatchOperation;
    route: string;
    metric: string;
    field: "storage_infos" | "restore_infos";
    validate: (json: unknown) => ValidationResult<BatchEntry[]>;
    build: (infos: BatchEntry[]) => HttpRequest;
  }

  const validation = { maxPhonesPerRequest: config.maxPhonesPerRequest, maxBodyBytes: config.bodyLimitBytes };
  const batchRoutes: BatchRoute[] = [
    {
      operation: "export",
      route: ROUTES.batchStorage,
      metric: "batch_export",
      field: "storage_infos",
      validate: (json) =>
        mapResult(validateBatchExportRequest(json, validation), (body) => body.storage_infos),
      build: (infos) =>
        buildBatchExportRequest({
          endpoint: upstream.endpoint,
          projectId: upstream.projectId,
          storageInfos: infos as StorageInfo[],
        }),
    },
    {
      operation: "restore",
      route: ROUTES.batchRestore,
      metric: "batch_restore",
      field: "restore_infos",
      validate: (json) =>
        mapResult(validateBatchImportRequest(json, validation), (body) => body.restore_infos),
      build: (infos) =>
        buildBatchImportRequest({
          endpoint: upstream.endpoint,
          projectId: upstream.projectId,
          restoreInfos: infos.map(({ phone_id, bucket_name, object_path }) => ({
            phone_id,
            bucket_name,
            object_path,
          })),
        }),
    },
  ];

  for (const batch of batchRoutes) {
    app.post(batch.route.replace("{project_id}", ":project_id"), async (c) => {
      c.set("route", batch.route);
      const body = await readBody(c.req.raw, c.env?.incoming, config.bodyLimitBytes);
      const caller = await admit(c, body);
      const policy = policies.get(caller.name) as CallerPolicy;
      policy.checkOperation(batch.operation);
      let json: unknown;
      try {
        json = JSON.parse(UTF8.decode(body));
      } catch {
        throw new GatewayError(
          "CPHGW.4002",
          `the request body is not UTF-8 JSON; send {"${batch.field}": [...]}`,
          {
            details: [{ code: "invalid_json", path: "", message: "the body could not be parsed as JSON" }],
          },
        );
      }
      const checked = batch.validate(json);
      if (!checked.ok) {
        const count = checked.issues.length;
        throw new GatewayError(
          "CPHGW.4001",
          `the request has ${count} ${count === 1 ? "issue" : "issues"}; the first: ${checked.issues[0]?.path || "body"}: ${checked.issues[0]?.message}`,
          { details: issueDetails(checked.issues) },
        );
      }
      const infos = checked.value;
      policy.checkBatch(batch.operation, infos);
      await checkServers(c, policy, infos, batch);
      // Written anew from what was validated and allowed, never the caller's bytes: a body that says
      // a field twice means to JSON.parse what its last value says, and CPH must not read another.
      const request = batch.build(infos);
      const run = () => forward(c, batch.metric, request);
      const header = requestHeader(c, "idempotency-key");
      if (header === undefined) return send(c, await run());
      return idempotent(c, caller, header, body, run);
    });
  }

  app.get("/v1/:project_id/cloud-phone/jobs/:job_id", async (c) => {
    c.set("route", ROUTES.showJob);
    await admit(c, EMPTY);
    const jobId = c.req.param("job_id");
    if (!JOB_ID.test(jobId)) {
      throw new GatewayError("CPHGW.4005", "the job id must be 1-128 letters, digits, . - or _", {
        details: [{ code: "job_id_invalid", path: "job_id", message: "not 1-128 letters, digits, . - or _" }],
      });
    }
    const request = buildShowJobRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      jobId,
    });
    return send(c, await forward(c, "get_job", request));
  });

  app.get("/v1/:project_id/cloud-phone/jobs", async (c) => {
    c.set("route", ROUTES.listJobs);
    await admit(c, EMPTY);
    const query = parseListJobsQuery(c.req.query());
    const request = buildListJobsRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...query,
    });
    return send(c, await forward(c, "list_jobs", request));
  });

  const methodNotAllowed = (allow: string) => (c: AppContext) => {
    throw new GatewayError("CPHGW.4051", `${c.req.method} is not allowed here; use ${allow}`, {
      headers: { Allow: allow },
    });
  };
  app.all("/v1/:project_id/cloud-phone/phones/batch-storage", methodNotAllowed("POST"));
  app.all("/v1/:project_id/cloud-phone/phones/batch-restore", methodNotAllowed("POST"));
  app.all("/v1/:project_id/cloud-phone/jobs/:job_id", methodNotAllowed("GET"));
  app.all("/v1/:project_id/cloud-phone/jobs", methodNotAllowed("GET"));
  app.all("/v1/:project_id/cloud-phone/phones", methodNotAllowed("GET"));
  app.all("/v1/:project_id/cloud-phone/servers", methodNotAllowed("GET"));
}

/** A validation result with its value mapped (the issues stay). */
function mapResult<T, U>(result: ValidationResult<T>, map: (value: T) => U): ValidationResult<U> {
  return result.ok ? { ...result, value: map(result.value) } : (result as unknown as ValidationResult<U>);
}
