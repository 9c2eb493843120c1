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
import type { AppContext, GatewayEnv } from "./exchange.js";
import { parseListJobsQuery } from "./list-jobs-query.js";
import type { BatchEntry, BatchOperation, CallerPolicy } from "./policy.js";
import { type DirectRoute, EMPTY, ROUTES, type RouteKit } from "./route-kit.js";

const JOB_ID = /^[A-Za-z0-9._-]{1,128}$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * batch-storage and batch-restore (validated, under the caller's policy, written anew from what
 * was validated, once per Idempotency-Key) and ShowJob: the routes of a bulk export's every
 * request, served by the node:http lane as well as by hono.
 */
export function cphDirectRoutes(kit: RouteKit, checkServers: ServerCheck): DirectRoute[] {
  const { config, upstream, policies, admit, forward, idempotent } = kit;

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

  const batches = batchRoutes.map(
    (batch): DirectRoute => ({
      method: "POST",
      route: batch.route,
      async handle(x, params, body) {
        const caller = await admit(x, body, params["project_id"] ?? "");
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
        await checkServers(x, policy, infos, batch);
        // Written anew from what was validated and allowed, never the caller's bytes: a body that says
        // a field twice means to JSON.parse what its last value says, and CPH must not read another.
        const request = batch.build(infos);
        const run = () => forward(x, batch.metric, request);
        const header = x.header("idempotency-key");
        if (header === undefined) return run();
        return idempotent(x, caller, header, body, run);
      },
    }),
  );

  const showJob: DirectRoute = {
    method: "GET",
    route: ROUTES.showJob,
    async handle(x, params) {
      await admit(x, EMPTY, params["project_id"] ?? "");
      const jobId = params["job_id"] ?? "";
      if (!JOB_ID.test(jobId)) {
        throw new GatewayError("CPHGW.4005", "the job id must be 1-128 letters, digits, . - or _", {
          details: [
            { code: "job_id_invalid", path: "job_id", message: "not 1-128 letters, digits, . - or _" },
          ],
        });
      }
      const request = buildShowJobRequest({
        endpoint: upstream.endpoint,
        projectId: upstream.projectId,
        jobId,
      });
      return forward(x, "get_job", request);
    },
  };
  return [...batches, showJob];
}

/** ListJobs (it takes a query, so it stays on hono), and 405 for the other methods of the CPH routes. */
export function mountCphRoutes(app: Hono<GatewayEnv>, kit: RouteKit): void {
  const { upstream, admit, send, forward } = kit;
  app.get("/v1/:project_id/cloud-phone/jobs", async (c) => {
    const x = c.var.exchange;
    x.route = ROUTES.listJobs;
    await admit(x, EMPTY, c.req.param("project_id"));
    const query = parseListJobsQuery(c.req.query());
    const request = buildListJobsRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...query,
    });
    return send(x, await forward(x, "list_jobs", request));
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
