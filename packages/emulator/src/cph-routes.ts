import {
  LIMITS,
  utf8Text,
  validateBatchExportRequest,
  validateBatchImportRequest,
  type ValidationResult,
} from "@cph-export/core";
import type { Hono } from "hono";
import { authenticate, type TokenStore } from "./auth.js";
import type { ResolvedEmulatorConfig } from "./config.js";
import { INVALID_PARAMETER, JOB_NOT_FOUND, validationErrorCode } from "./errors.js";
import {
  cphTime,
  DROP,
  type EmulatorContext,
  type EmulatorEnv,
  errorBody,
  headerRecord,
  parseWholeNumber,
  readBody,
  receivedUrl,
} from "./http-io.js";
import type { ApiWrapper } from "./iam-routes.js";
import { type ListAnswer, listPhonesAnswer, listServersAnswer } from "./list-routes.js";
import type { EmulatorState, JobRecord } from "./state.js";

// The CPH API the toolkit calls: batch-storage and batch-restore, ShowJob and ListJobs, and the
// phone and server listings, each authenticated (token or AK/SK) and subject to the faults.

function jobBody(job: JobRecord) {
  return {
    job_id: job.jobId,
    phone_id: job.phoneId,
    server_id: job.serverId,
    request_id: job.requestId,
    begin_time: cphTime(job.begin),
    end_time: job.end ? cphTime(job.end) : null,
    status: job.status,
    error_code: job.errorCode,
    error_msg: job.errorMsg,
    execute_msg: job.executeMsg,
  };
}

/** Mounts the CPH routes on the emulator's app. */
export function mountCphRoutes(
  app: Hono<EmulatorEnv>,
  {
    config,
    state,
    tokens,
    clock,
    api,
  }: {
    config: ResolvedEmulatorConfig;
    state: EmulatorState;
    tokens: TokenStore;
    clock: () => Date;
    api: ApiWrapper;
  },
): void {
  const tooLarge = (c: EmulatorContext) =>
    errorBody(
      c,
      413,
      "APIGW.0201",
      `Request entity too large: the body is over ${LIMITS.maxBodyBytes} bytes`,
    );

  /** Authenticates a CPH call; undefined when it may go on, else the error answer. */
  const guard = async (c: EmulatorContext, body: Uint8Array): Promise<Response | undefined> => {
    const outcome = await authenticate({
      method: c.req.method,
      url: receivedUrl(c),
      headers: headerRecord(c),
      body,
      projectId: c.req.param("projectId") ?? "",
      config,
      tokens,
      now: clock(),
    });
    return outcome.ok ? undefined : errorBody(c, outcome.status, outcome.errorCode, outcome.message);
  };

  /**
   * batch-storage and batch-restore: the same auth, body limit, faults, validation answer and
   * response shape; only the validator and what accepting a phone does differ.
   */
  const batchRoute = <T>(
    name: string,
    validate: (json: unknown) => ValidationResult<T>,
    infosOf: (body: T) => readonly unknown[],
    accept: (projectId: string, requestId: string, body: T, dropped: boolean) => unknown[],
  ) =>
    api(name, async (c) => {
      const bytes = await readBody(c, LIMITS.maxBodyBytes);
      if (!bytes) return tooLarge(c);
      const denied = await guard(c, bytes);
      if (denied) return denied;
      if (state.chance(state.faults.errorRate)) {
        state.stats.errors++;
        return errorBody(
          c,
          503,
          "APIGW.0201",
          "Backend unavailable (an emulated fault); nothing was processed, retry later",
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(bytes));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return errorBody(c, 400, INVALID_PARAMETER, `the request body is not JSON: ${reason}`);
      }
      const result = validate(json);
      if (!result.ok) {
        const details = result.issues.map(({ code, path, message }) => ({ code, path, message }));
        const first = result.issues[0];
        const more =
          result.issues.length > 1 ? ` (and ${result.issues.length - 1} more issues in details)` : "";
        return errorBody(
          c,
          400,
          validationErrorCode(first?.code),
          `${first?.path || "body"}: ${first?.message ?? "invalid"}${more}`,
          {
            details,
          },
        );
      }
      const dropped = state.chance(state.faults.dropRate);
      const requestId = c.get("requestId");
      const jobs = accept(c.req.param("projectId") ?? "", requestId, result.value, dropped);
      if (dropped) {
        state.stats.drops++;
        state.stats.droppedPhones += infosOf(result.value).length;
        return DROP;
      }
      return c.json({ request_id: requestId, jobs }, 200);
    });

  // Strict phone ids: the emulator's documented choice (CPS.0004), where the client only warns.
  const strict = { maxPhonesPerRequest: config.maxPhonesPerRequest, phoneIdCharset: "error" } as const;
  app.post(
    "/v1/:projectId/cloud-phone/phones/batch-storage",
    batchRoute(
      "batch-storage",
      (json) => validateBatchExportRequest(json, strict),
      (body) => body.storage_infos,
      (projectId, requestId, body, dropped) =>
        state.acceptExport(projectId, requestId, body.storage_infos, dropped),
    ),
  );
  app.post(
    "/v1/:projectId/cloud-phone/phones/batch-restore",
    batchRoute(
      "batch-restore",
      (json) => validateBatchImportRequest(json, strict),
      (body) => body.restore_infos,
      (projectId, requestId, body, dropped) =>
        state.acceptRestore(projectId, requestId, body.restore_infos, dropped),
    ),
  );

  app.get(
    "/v1/:projectId/cloud-phone/jobs/:jobId",
    api("show-job", async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      const job = state.job(c.req.param("projectId") ?? "", c.req.param("jobId") ?? "");
      if (!job)
        return errorBody(c, 404, JOB_NOT_FOUND, `job ${c.req.param("jobId")} does not exist in this project`);
      return c.json(jobBody(job), 200);
    }),
  );

  app.get(
    "/v1/:projectId/cloud-phone/jobs",
    api("list-jobs", async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      const many = c.req.query("request_ids");
      const one = c.req.query("request_id");
      // request_ids wins when both are given, as documented.
      const requestIds = (many ?? one ?? "")
        .split(",")
        .map((id) => id.trim())
        .filter(Boolean);
      if (requestIds.length === 0) {
        return errorBody(
          c,
          400,
          INVALID_PARAMETER,
          "give request_id or request_ids (comma-separated, at most 20)",
        );
      }
      if (requestIds.length > LIMITS.listJobsMaxRequestIds) {
        return errorBody(
          c,
          400,
          INVALID_PARAMETER,
          `${requestIds.length} request ids; at most ${LIMITS.listJobsMaxRequestIds} are allowed`,
        );
      }
      const offset = parseWholeNumber(c.req.query("offset")) ?? 0;
      const limit = parseWholeNumber(c.req.query("limit")) ?? LIMITS.listJobsMaxLimit;
      if (!Number.isInteger(offset) || offset < 0) {
        return errorBody(c, 400, "CPS.0002", "offset must be a whole number of 0 or more");
      }
      if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit) {
        return errorBody(
          c,
          400,
          "CPS.0002",
          `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`,
        );
      }
      const jobs = state.jobsOfRequests(c.req.param("projectId") ?? "", requestIds);
      return c.json(
        {
          request_id: c.get("requestId"),
          count: jobs.length,
          jobs: jobs.slice(offset, offset + limit).map(jobBody),
        },
        200,
      );
    }),
  );

  /** A list route: auth, the `listErrorRate` fault, then the page (or the 400 of a bad query). */
  const listRoute = <T>(
    key: "phones" | "servers",
    answer: (query: (name: string) => string | undefined) => ListAnswer<T>,
  ) => {
    const handler = api(`list-${key}`, async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      if (state.chance(state.faults.listErrorRate)) {
        state.stats.errors++;
        return errorBody(c, 503, "APIGW.0201", "Backend unavailable (an emulated fault); retry later");
      }
      const result = answer((name) => c.req.query(name));
      if (!result.ok) return errorBody(c, 400, result.errorCode, result.message);
      return c.json({ request_id: c.get("requestId"), [key]: result.items }, 200);
    });
    // Every call counts, the throttled and refused ones too: what a client's paging costs.
    return (c: EmulatorContext) => {
      state.stats[key === "phones" ? "listPhones" : "listServers"]++;
      return handler(c);
    };
  };

  app.get(
    "/v1/:projectId/cloud-phone/phones",
    listRoute("phones", (query) => listPhonesAnswer(config.inventory, query)),
  );
  app.get(
    "/v1/:projectId/cloud-phone/servers",
    listRoute("servers", (query) => listServersAnswer(config.inventory, query)),
  );
}
