import { createHash, randomUUID } from "node:crypto";
import { CphApiError, CphError, type HttpRequest, type HttpResponseData } from "@cph-export/core";
import { Hono } from "hono";
import {
  type Answer,
  errorBody,
  isJsonObjectText,
  JSON_HEADERS,
  readErrorCode,
  SECURE_HEADERS,
  traced,
  upstreamErrorAnswer,
} from "./answers.js";
import { CallerRegistry } from "./auth.js";
import type { CallerConfig, GatewayConfig } from "./config.js";
import { GatewayError } from "./errors.js";
import { mountCampaignRoutes } from "./campaign-routes.js";
import type { Campaigns } from "./campaign-service.js";
import { mountCphRoutes } from "./cph-routes.js";
import { mountFleetRoutes } from "./fleet-routes.js";
import type { Logger } from "./logger.js";
import { AbortControllerPool } from "./controller-pool.js";
import {
  type AppContext,
  type GatewayEnv,
  parseIdempotencyKey,
  receivedTarget,
  requestHeader,
} from "./incoming.js";
import { GatewayMetrics } from "./metrics.js";
import { mountOpsRoutes } from "./ops-routes.js";
import { CallerPolicy } from "./policy.js";
import type { Lifecycle, RouteKit, Upstream } from "./route-kit.js";
import type { StateStore, StoredResponse } from "./state-store.js";

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
  /** Campaigns (with Redis); without, their routes answer 503 `CPHGW.5035`. */
  campaigns?: Campaigns | undefined;
}

export { SECURE_HEADERS } from "./answers.js";
export { parseListJobsQuery } from "./list-jobs-query.js";

export type { Lifecycle, Upstream } from "./route-kit.js";
export { ROUTES } from "./route-kit.js";

/** The hono app `createApp` returns. */
export type GatewayApp = Hono<GatewayEnv>;

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const REPLAYED_HEADER = "Idempotent-Replayed";

// The gateway's request pipeline (request id, access log, errors, caller admission, the upstream
// call under its deadline, idempotency, answers) and the route groups it mounts: ops-routes.ts,
// fleet-routes.ts (listings), cph-routes.ts (batches and jobs).

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
    metrics.countRequest(c.req.method, route, status);
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
      metrics.observeUpstream(operation, outcome, elapsedMs / 1000);
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
  async function admit(
    c: AppContext,
    body: Uint8Array,
    projectId = c.req.param("project_id") ?? "",
  ): Promise<CallerConfig> {
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
    (policies.get(caller.name) as CallerPolicy).checkProject(projectId);
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

  const kit: RouteKit = {
    config,
    upstream,
    store,
    logger,
    metrics,
    lifecycle,
    policies,
    now,
    admit,
    send,
    forward,
    idempotent,
    withDeadline,
  };
  mountOpsRoutes(app, kit);
  const checkServers = mountFleetRoutes(app, kit);
  mountCphRoutes(app, kit, checkServers);
  mountCampaignRoutes(app, kit, dependencies.campaigns, checkServers);
  return app;
}
