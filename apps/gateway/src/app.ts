import { createHash, randomUUID } from "node:crypto";
import {
  buildBatchExportRequest,
  buildBatchImportRequest,
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  CphApiError,
  CphError,
  type HttpRequest,
  type StorageInfo,
  type HttpResponseData,
  LIMITS,
  parseListCloudPhoneServersResponse,
  parseListCloudPhonesResponse,
  type ValidationResult,
  validateBatchExportRequest,
  validateBatchImportRequest,
} from "@cph-export/core";
import type { CphClient } from "@cph-export/http-client";
import { Hono } from "hono";
import {
  type Answer,
  errorBody,
  isJsonObjectText,
  issueDetails,
  JSON_HEADERS,
  readErrorCode,
  SECURE_HEADERS,
  traced,
  upstreamErrorAnswer,
} from "./answers.js";
import { CallerRegistry } from "./auth.js";
import type { CallerConfig, GatewayConfig } from "./config.js";
import { registerDocsPage } from "./docs/register-docs-page.js";
import { GatewayError } from "./errors.js";
import {
  listPhonesWithin,
  listServersWithin,
  type PhonesQuery,
  parseListPhonesQuery,
  parseListServersQuery,
  phonesOutsideError,
  ServerPhoneIndex,
  type ServersQuery,
  serversInScope,
} from "./fleet.js";
import type { Logger } from "./logger.js";
import { AbortControllerPool } from "./controller-pool.js";
import {
  type AppContext,
  type GatewayEnv,
  parseIdempotencyKey,
  receivedTarget,
  requestHeader,
} from "./incoming.js";
import { parseListJobsQuery } from "./list-jobs-query.js";
import { GatewayMetrics } from "./metrics.js";
import { createOpenApiDocument } from "./openapi.js";
import { type BatchEntry, type BatchOperation, CallerPolicy } from "./policy.js";
import { readBody } from "./read-body.js";
import type { StateStore, StoredResponse } from "./state-store.js";

/**
 * What the gateway needs of the upstream: a subset of the http-client's `CphClient`. It builds each
 * request with core from what it validated and passes CPH's answer on as it came (`send`).
 */
export type Upstream = Pick<CphClient, "endpoint" | "projectId" | "authenticate" | "send">;

/** Tells the app that shutdown began: readiness fails and connections are closed after each answer. */
export interface Lifecycle {
  readonly shuttingDown: boolean;
}

export interface AppDependencies {
  config: GatewayConfig;
  upstream: Upstream;
  store: StateStore;
  logger: Logger;
  /** Milliseconds since the epoch; default `Date.now`. Used for signature dates. */
  now?: () => number;
  metrics?: GatewayMetrics;
  lifecycle?: Lifecycle;
  /** Makes request ids; default `randomUUID`. */
  createRequestId?: () => string;
}

export { SECURE_HEADERS } from "./answers.js";
export { parseListJobsQuery } from "./list-jobs-query.js";

/** The route labels used in logs and metrics. */
export const ROUTES = {
  batchStorage: "/v1/{project_id}/cloud-phone/phones/batch-storage",
  batchRestore: "/v1/{project_id}/cloud-phone/phones/batch-restore",
  showJob: "/v1/{project_id}/cloud-phone/jobs/{job_id}",
  listJobs: "/v1/{project_id}/cloud-phone/jobs",
  listPhones: "/v1/{project_id}/cloud-phone/phones",
  listServers: "/v1/{project_id}/cloud-phone/servers",
} as const;

/** The hono app `createApp` returns. */
export type GatewayApp = Hono<GatewayEnv>;

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const JOB_ID = /^[A-Za-z0-9._-]{1,128}$/;
const EMPTY = new Uint8Array(0);
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const REPLAYED_HEADER = "Idempotent-Replayed";

/**
 * The gateway as a hono app: CPH-compatible routes with caller auth, policy, validation and
 * idempotency in front of `upstream`, plus `/healthz`, `/readyz`, `/metrics` and `/openapi.json`.
 * Has no globals: everything it uses is in `dependencies`.
 */
export function createApp(dependencies: AppDependencies): GatewayApp {
  const { config, upstream, store, logger } = dependencies;
  const now = dependencies.now ?? Date.now;
  const metrics = dependencies.metrics ?? new GatewayMetrics();
  const lifecycle = dependencies.lifecycle ?? { shuttingDown: false };
  const createRequestId = dependencies.createRequestId ?? randomUUID;
  const registry = new CallerRegistry(config.callers);
  const policies = new Map(config.callers.map((caller) => [caller.name, new CallerPolicy(caller)]));
  const timeoutMs = config.upstream.timeoutMs;
  const lockTtlMs = timeoutMs + 60_000;
  const controllers = new AbortControllerPool();
  const phoneIndex = new ServerPhoneIndex({ ttlMs: config.policyCacheMs, now });
  let openApi: string | undefined;

  const app = new Hono<GatewayEnv>({ strict: false });
  /** Answers built by `respond`, which carry the secure headers and the request id already. */
  const complete = new WeakSet<Response>();

  app.use(async (c, next) => {
    const started = performance.now();
    const incoming = requestHeader(c, "x-request-id");
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : createRequestId();
    c.set("requestId", requestId);
    metrics.requestStarted();
    try {
      await next();
    } finally {
      metrics.requestFinished();
    }
    // Other answers (operations routes, docs) get them here, on the response object itself: c.header()
    // after the answer would rebuild it. Touching `headers` makes @hono/node-server build a Headers
    // object, which `respond`'s answers avoid.
    if (!complete.has(c.res)) {
      const headers = c.res.headers;
      for (const name in SECURE_HEADERS) headers.set(name, SECURE_HEADERS[name] as string);
      headers.set("X-Request-Id", requestId);
    }
    if (lifecycle.shuttingDown) c.res.headers.set("Connection", "close");
    const route = c.get("route") ?? "unmatched";
    const status = c.res.status;
    const caller = c.get("caller");
    const errorCode = c.get("errorCode");
    metrics.requests.inc({ method: c.req.method, route, status: String(status) });
    if (errorCode !== undefined && /^CPHGW\.4(01|03|29)/.test(errorCode)) {
      metrics.refusals.inc({ caller: caller ?? "-", code: errorCode });
    }
    logger.info("request", {
      request_id: requestId,
      caller: caller ?? null,
      access_key: c.get("accessKey"),
      method: c.req.method,
      route,
      path: c.req.path,
      status,
      latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
      upstream_ms: c.get("upstreamMs"),
      error_code: errorCode,
      idempotency: c.get("idempotency"),
    });
  });

  app.onError((error, c) => {
    const requestId = c.get("requestId");
    if (error instanceof GatewayError) return gatewayErrorResponse(c, error);
    if (error instanceof CphError) return send(c, upstreamErrorAnswer(error, requestId));
    logger.error("unexpected error", {
      request_id: requestId,
      error:
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : String(error),
    });
    return gatewayErrorResponse(
      c,
      new GatewayError("CPHGW.5001", "unexpected gateway failure; report it with the request id"),
    );
  });

  app.notFound((c) =>
    gatewayErrorResponse(
      c,
      new GatewayError(
        "CPHGW.4041",
        `no route ${c.req.method} ${c.req.path}; see /openapi.json for the routes`,
      ),
    ),
  );

  function gatewayErrorResponse(c: AppContext, error: GatewayError): Response {
    c.set("errorCode", error.errorCode);
    if (error.status === 401 || error.status === 403 || error.status === 429) {
      logger.warn("refused", {
        request_id: c.get("requestId"),
        caller: c.get("caller") ?? null,
        access_key: c.get("accessKey"),
        error_code: error.errorCode,
        reason: error.message,
      });
    }
    return respond(
      c,
      errorBody(error.errorCode, error.message, c.get("requestId"), error.details),
      error.status,
      { ...JSON_HEADERS, ...error.headers },
    );
  }

  function send(c: AppContext, answer: StoredResponse & { errorCode?: string | undefined }): Response {
    if (answer.errorCode !== undefined) c.set("errorCode", answer.errorCode);
    return respond(c, answer.body, answer.status, answer.headers);
  }

  /**
   * An answer with every header it will have, as one plain object: @hono/node-server then writes
   * it as it is, where `c.body` and later `headers.set` calls build and copy Headers objects.
   */
  function respond(c: AppContext, body: string, status: number, headers: Record<string, string>): Response {
    // Object.assign: a spread of these many headers into a literal took ten times as long.
    const all: Record<string, string> = Object.assign({}, headers, SECURE_HEADERS);
    all["X-Request-Id"] = c.get("requestId");
    const response = new Response(body, { status, headers: all });
    complete.add(response);
    return response;
  }

  /** Runs one upstream call under the per-request deadline; the call is aborted when it passes. */
  async function withDeadline<T>(
    c: AppContext,
    operation: string,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const lease = controllers.lease();
    const { controller } = lease;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new GatewayError(
          "CPHGW.5041",
          `the upstream did not answer within ${timeoutMs} ms; the call was aborted and its outcome is unknown`,
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    const started = performance.now();
    let outcome = "ok";
    try {
      return await Promise.race([call(controller.signal), deadline]);
    } catch (error) {
      if (controller.signal.aborted) {
        outcome = "timeout";
        logger.warn("upstream deadline passed", {
          request_id: c.get("requestId"),
          operation,
          timeout_ms: timeoutMs,
        });
        throw controller.signal.reason;
      }
      outcome = error instanceof CphApiError ? "http_error" : "network_error";
      if (outcome === "network_error") {
        // The answer only says 502; the cause (refused, reset, unreadable) is for the operators.
        logger.warn("upstream call failed", {
          request_id: c.get("requestId"),
          operation,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      controllers.recycle(lease);
      const elapsedMs = performance.now() - started;
      c.set("upstreamMs", Math.round(elapsedMs * 1000) / 1000);
      metrics.upstreamLatency.observe({ operation, outcome }, elapsedMs / 1000);
    }
  }

  async function withStore<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      logger.error("state store failed", { error: error instanceof Error ? error.message : String(error) });
      throw new GatewayError("CPHGW.5032", "the gateway's shared state store is unavailable; retry later", {
        headers: { "Retry-After": "1" },
      });
    }
  }

  /** Authentication, project rule and rate limit: what every CPH route does first. */
  async function admit(c: AppContext, body: Uint8Array): Promise<CallerConfig> {
    const authorization = requestHeader(c, "authorization");
    const access =
      authorization === undefined ? undefined : /Access=([A-Za-z0-9]{1,128})/.exec(authorization)?.[1];
    if (access !== undefined) c.set("accessKey", access);
    const caller = await registry.authenticate({
      method: c.req.method,
      url: receivedTarget(c),
      authorization,
      // Only a signature needs every header: built then, not for a bearer key.
      get headers() {
        return c.req.raw.headers;
      },
      body,
      now: new Date(now()),
    });
    c.set("caller", caller.name);
    (policies.get(caller.name) as CallerPolicy).checkProject(c.req.param("project_id") ?? "");
    const window = await withStore(() => store.hitRateWindow(caller.name, 60_000));
    if (window.count > caller.requestsPerMinute) {
      const retryAfter = Math.max(1, Math.ceil(window.resetInMs / 1000));
      throw new GatewayError(
        "CPHGW.4291",
        `caller ${caller.name} is over its limit of ${caller.requestsPerMinute} requests per minute; retry after ${retryAfter} s`,
        { headers: { "Retry-After": String(retryAfter) } },
      );
    }
    return caller;
  }

  /**
   * Sends a request built from validated input upstream, under the deadline, with the request id;
   * any answer (error included) comes back as data. CPH's 2xx body is passed on as it came (not
   * parsed and written again), unless it is not a JSON object at all.
   */
  async function forward(
    c: AppContext,
    operation: string,
    request: HttpRequest,
  ): Promise<Answer & { errorCode?: string }> {
    const requestId = c.get("requestId");
    let answer: HttpResponseData;
    try {
      answer = await withDeadline(c, operation, (signal) =>
        upstream.send(request, { signal, headers: traced(requestId) }),
      );
    } catch (error) {
      return upstreamErrorAnswer(error, requestId);
    }
    if (!isJsonObjectText(answer.bodyText)) {
      logger.warn("upstream answer not JSON", { request_id: requestId, operation, status: answer.status });
      return upstreamErrorAnswer(
        new CphError(
          "ERR_CPH_API",
          `the upstream answered HTTP ${answer.status} with a body that is not JSON`,
        ),
        requestId,
      );
    }
    return { status: answer.status, headers: JSON_HEADERS, body: answer.bodyText, storable: true };
  }

  async function idempotent(
    c: AppContext,
    caller: CallerConfig,
    header: string,
    body: Uint8Array,
    run: () => Promise<Answer & { errorCode?: string }>,
  ): Promise<Response> {
    const key = `${caller.name}:${parseIdempotencyKey(header)}`;
    const fingerprint = createHash("sha256")
      .update(`${c.req.method} ${receivedTarget(c)}\n`)
      .update(body)
      .digest("hex");
    const claim = await withStore(() => store.claimIdempotencyKey(key, fingerprint, lockTtlMs));
    if (claim.outcome !== "claimed") {
      if (claim.fingerprint !== fingerprint) {
        metrics.idempotency.inc({ outcome: "conflict" });
        c.set("idempotency", "conflict");
        throw new GatewayError(
          "CPHGW.4221",
          "this Idempotency-Key was already used with a different request (path or body); use a new key for a new request",
        );
      }
      if (claim.outcome === "in-flight") {
        metrics.idempotency.inc({ outcome: "in_flight" });
        c.set("idempotency", "in_flight");
        throw new GatewayError(
          "CPHGW.4091",
          "a request with this Idempotency-Key is still in flight; retry after it finished",
          {
            headers: { "Retry-After": "1" },
          },
        );
      }
      metrics.idempotency.inc({ outcome: "replayed" });
      c.set("idempotency", "replayed");
      const replay = claim.response;
      const errorCode = replay.status >= 400 ? readErrorCode(replay.body) : undefined;
      return send(c, { ...replay, headers: { ...replay.headers, [REPLAYED_HEADER]: "true" }, errorCode });
    }
    metrics.idempotency.inc({ outcome: "claimed" });
    c.set("idempotency", "claimed");
    let answer: (Answer & { errorCode?: string }) | undefined;
    try {
      answer = await run();
      return send(c, answer);
    } finally {
      const settle = answer?.storable
        ? store.completeIdempotencyKey(
            key,
            claim.token,
            fingerprint,
            { status: answer.status, headers: answer.headers, body: answer.body },
            config.idempotency.ttlMs,
          )
        : store.releaseIdempotencyKey(key, claim.token);
      await settle.catch((error: unknown) => {
        logger.error("idempotency record not saved", {
          request_id: c.get("requestId"),
          caller: caller.name,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  /** One ListCloudPhones page upstream, under the deadline, read with core's tolerant schema. */
  async function fetchPhones(c: AppContext, query: PhonesQuery) {
    const request = buildListCloudPhonesRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...query,
    });
    const answer = await withDeadline(c, "list_phones", (signal) =>
      upstream.send(request, { signal, headers: traced(c.get("requestId")) }),
    );
    return parseListCloudPhonesResponse(answer).phones ?? [];
  }

  async function fetchServer(c: AppContext, serverId: string, query: ServersQuery) {
    const request = buildListCloudPhoneServersRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...(query.serverName === undefined ? {} : { serverName: query.serverName }),
      serverId,
    });
    const answer = await withDeadline(c, "list_servers", (signal) =>
      upstream.send(request, { signal, headers: traced(c.get("requestId")) }),
    );
    return parseListCloudPhoneServersResponse(answer).servers ?? [];
  }

  /** Every phone id on one server, for the export check of a caller confined to servers. */
  async function serverPhoneIds(c: AppContext, serverId: string): Promise<string[]> {
    const ids: string[] = [];
    const limit = LIMITS.listJobsMaxLimit;
    for (let offset = 0; ; offset += limit) {
      const page = await fetchPhones(c, { serverId, offset, limit });
      for (const phone of page) if (phone.phone_id) ids.push(phone.phone_id);
      if (page.length < limit) return ids;
    }
  }

  /** A listing the gateway put together from several upstream calls, as CPH would answer it. */
  async function assembled(c: AppContext, list: () => Promise<Record<string, unknown>>): Promise<Answer> {
    try {
      const body = { request_id: c.get("requestId"), ...(await list()) };
      return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(body), storable: true };
    } catch (error) {
      return upstreamErrorAnswer(error, c.get("requestId"));
    }
  }

  /** Refuses (403 CPHGW.4035) an export naming phones off the servers of a confined caller. */
  async function checkServers(
    c: AppContext,
    policy: CallerPolicy,
    storageInfos: readonly BatchEntry[],
    batch: { field: string; operation: BatchOperation },
  ) {
    const servers = policy.servers;
    if (servers === undefined) return;
    let outside: number[];
    try {
      outside = await phoneIndex.outside(
        servers,
        storageInfos.map((info) => info.phone_id),
        (serverId) => serverPhoneIds(c, serverId),
      );
    } catch (error) {
      if (error instanceof CphApiError) throw error;
      throw new GatewayError(
        "CPHGW.5024",
        "the phones of the caller's servers could not be listed to check the request; nothing was sent, a retry is safe",
      );
    }
    if (outside.length > 0) {
      throw phonesOutsideError(
        policy.caller.name,
        servers,
        storageInfos,
        outside,
        batch.field,
        batch.operation,
      );
    }
  }

  app.get("/healthz", (c) => {
    c.set("route", "/healthz");
    return c.json({ status: "ok" });
  });

  app.get("/readyz", async (c) => {
    c.set("route", "/readyz");
    if (lifecycle.shuttingDown) {
      c.set("errorCode", "CPHGW.5031");
      return c.json({ status: "shutting down", checks: { shutdown: "started" } }, 503);
    }
    const checks: Record<string, string> = {};
    await Promise.all([
      withDeadline(c, "authenticate", (signal) => upstream.authenticate({ signal })).then(
        () => {
          checks["upstream"] = "ok";
        },
        (error: unknown) => {
          checks["upstream"] =
            `failed: ${error instanceof CphApiError ? error.errorCode : error instanceof GatewayError ? error.errorCode : error instanceof CphError ? error.code : "error"}`;
          logger.warn("readiness: upstream check failed", {
            error: error instanceof Error ? error.message : String(error),
          });
        },
      ),
      store.ping().then(
        () => {
          checks[store.kind] = "ok";
        },
        (error: unknown) => {
          checks[store.kind] = "failed";
          logger.warn("readiness: state store check failed", {
            error: error instanceof Error ? error.message : String(error),
          });
        },
      ),
    ]);
    const ready = Object.values(checks).every((value) => value === "ok");
    return c.json({ status: ready ? "ready" : "not ready", checks }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    c.set("route", "/metrics");
    return c.body(await metrics.render(), 200, { "Content-Type": metrics.contentType });
  });

  app.get("/openapi.json", (c) => {
    c.set("route", "/openapi.json");
    openApi ??= JSON.stringify(createOpenApiDocument());
    return c.body(openApi, 200, JSON_HEADERS);
  });
  registerDocsPage(app);

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

  app.get("/v1/:project_id/cloud-phone/phones", async (c) => {
    c.set("route", ROUTES.listPhones);
    const caller = await admit(c, EMPTY);
    const query = parseListPhonesQuery(c.req.query());
    const servers = (policies.get(caller.name) as CallerPolicy).servers;
    if (servers === undefined) {
      const request = buildListCloudPhonesRequest({
        endpoint: upstream.endpoint,
        projectId: upstream.projectId,
        ...query,
      });
      return send(c, await forward(c, "list_phones", request));
    }
    const scope = serversInScope(servers, query.serverId);
    return send(
      c,
      await assembled(c, async () => ({
        phones: await listPhonesWithin(scope, query, (page) => fetchPhones(c, page)),
      })),
    );
  });

  app.get("/v1/:project_id/cloud-phone/servers", async (c) => {
    c.set("route", ROUTES.listServers);
    const caller = await admit(c, EMPTY);
    const query = parseListServersQuery(c.req.query());
    const servers = (policies.get(caller.name) as CallerPolicy).servers;
    if (servers === undefined) {
      const request = buildListCloudPhoneServersRequest({
        endpoint: upstream.endpoint,
        projectId: upstream.projectId,
        ...query,
      });
      return send(c, await forward(c, "list_servers", request));
    }
    const scope = serversInScope(servers, query.serverId);
    return send(
      c,
      await assembled(c, async () => ({
        servers: await listServersWithin(scope, query, (serverId, page) => fetchServer(c, serverId, page)),
      })),
    );
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

  return app;
}

/** A validation result with its value mapped (the issues stay). */
function mapResult<T, U>(result: ValidationResult<T>, map: (value: T) => U): ValidationResult<U> {
  return result.ok ? { ...result, value: map(result.value) } : (result as unknown as ValidationResult<U>);
}
