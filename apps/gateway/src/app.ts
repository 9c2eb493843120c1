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
import { cphDirectRoutes, mountCphRoutes } from "./cph-routes.js";
import { mountFleetRoutes } from "./fleet-routes.js";
import type { Logger } from "./logger.js";
import { AbortControllerPool } from "./controller-pool.js";
import { readBody } from "./read-body.js";
import {
  Exchange,
  type GatewayEnv,
  type HeaderSource,
  headerOf,
  parseIdempotencyKey,
  requestParts,
} from "./exchange.js";
import { GatewayMetrics } from "./metrics.js";
import { mountOpsRoutes } from "./ops-routes.js";
import { CallerPolicy } from "./policy.js";
import { createNodeLane, type NodeLane } from "./node-lane.js";
import {
  type DirectRoute,
  EMPTY,
  type Lifecycle,
  type Pipeline,
  type Reply,
  type RouteKit,
  type Upstream,
} from "./route-kit.js";
import type { StateStore } from "./state-store.js";

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
export type { NodeLane } from "./node-lane.js";
export { ROUTES } from "./route-kit.js";

/** The hono app `createApp` returns. */
export type GatewayApp = Hono<GatewayEnv>;

/** The gateway twice over, on one pipeline: as a hono app, and as a node:http request listener. */
export interface Gateway {
  /** Every route, through hono (what `app.fetch`, `app.request` and embedders use). */
  app: GatewayApp;
  /**
   * What the gateway's own server runs: the hot CPH routes (the batches and ShowJob) served
   * straight from node:http, everything else handed to `app` through @hono/node-server.
   */
  listener: NodeLane;
}

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
  return createGateway(dependencies).app;
}

/** `createApp`'s app together with the node:http listener that serves the same routes. */
export function createGateway(dependencies: AppDependencies): Gateway {
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

  function begin(method: string, target: string, headers: HeaderSource): Exchange {
    const incoming = headerOf(headers, "x-request-id");
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : createRequestId();
    metrics.requestStarted();
    return new Exchange(method, target, requestId, headers);
  }

  function finish(x: Exchange, status: number): void {
    metrics.requestFinished();
    const route = x.route ?? "unmatched";
    const { caller, errorCode } = x;
    metrics.countRequest(x.method, route, status);
    if (errorCode !== undefined && /^CPHGW\.4(01|03|29)/.test(errorCode)) {
      metrics.refusals.inc({ caller: caller ?? "-", code: errorCode });
    }
    logger.info("request", {
      request_id: x.requestId,
      caller: caller ?? null,
      access_key: x.accessKey,
      method: x.method,
      route,
      path: x.path,
      status,
      latency_ms: Math.round((performance.now() - x.started) * 1000) / 1000,
      upstream_ms: x.upstreamMs,
      error_code: errorCode,
      idempotency: x.idempotency,
    });
  }

  app.use(async (c, next) => {
    const { target, headers } = requestParts(c);
    const x = begin(c.req.method, target, headers);
    c.set("exchange", x);
    try {
      await next();
    } finally {
      // Other answers (operations routes, docs) get these here, on the response object itself:
      // c.header() after the answer would rebuild it. Touching `headers` makes @hono/node-server
      // build a Headers object, which `respond`'s answers avoid.
      if (!complete.has(c.res)) {
        const answer = c.res.headers;
        for (const name in SECURE_HEADERS) answer.set(name, SECURE_HEADERS[name] as string);
        answer.set("X-Request-Id", x.requestId);
        if (lifecycle.shuttingDown) answer.set("Connection", "close");
      }
      finish(x, c.res.status);
    }
  });

  function errorReply(x: Exchange, error: unknown): Reply {
    if (error instanceof GatewayError) return gatewayErrorReply(x, error);
    if (error instanceof CphError) return upstreamErrorAnswer(error, x.requestId);
    logger.error("unexpected error", {
      request_id: x.requestId,
      error:
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : String(error),
    });
    return gatewayErrorReply(
      x,
      new GatewayError("CPHGW.5001", "unexpected gateway failure; report it with the request id"),
    );
  }

  app.onError((error, c) => send(c.var.exchange, errorReply(c.var.exchange, error)));

  app.notFound((c) =>
    send(
      c.var.exchange,
      gatewayErrorReply(
        c.var.exchange,
        new GatewayError(
          "CPHGW.4041",
          `no route ${c.req.method} ${c.req.path}; see /openapi.json for the routes`,
        ),
      ),
    ),
  );

  function gatewayErrorReply(x: Exchange, error: GatewayError): Reply {
    if (error.status === 401 || error.status === 403 || error.status === 429) {
      logger.warn("refused", {
        request_id: x.requestId,
        caller: x.caller ?? null,
        access_key: x.accessKey,
        error_code: error.errorCode,
        reason: error.message,
      });
    }
    return {
      status: error.status,
      headers: { ...JSON_HEADERS, ...error.headers },
      body: errorBody(error.errorCode, error.message, x.requestId, error.details),
      errorCode: error.errorCode,
    };
  }

  function replyHeaders(x: Exchange, headers: Readonly<Record<string, string>>): Record<string, string> {
    // Object.assign: a spread of these many headers into a literal took ten times as long.
    const all: Record<string, string> = Object.assign({}, headers, SECURE_HEADERS);
    all["X-Request-Id"] = x.requestId;
    if (lifecycle.shuttingDown) all["Connection"] = "close";
    return all;
  }

  /**
   * An answer with every header it will have, as one plain object: @hono/node-server then writes
   * it as it is, where `c.body` and later `headers.set` calls build and copy Headers objects.
   */
  function send(x: Exchange, answer: Reply): Response {
    if (answer.errorCode !== undefined) x.errorCode = answer.errorCode;
    const response = new Response(answer.body, {
      status: answer.status,
      headers: replyHeaders(x, answer.headers),
    });
    complete.add(response);
    return response;
  }

  /** Runs one upstream call under the per-request deadline; the call is aborted when it passes. */
  async function withDeadline<T>(
    x: Exchange,
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
          request_id: x.requestId,
          operation,
          timeout_ms: timeoutMs,
        });
        throw controller.signal.reason;
      }
      outcome = error instanceof CphApiError ? "http_error" : "network_error";
      if (outcome === "network_error") {
        // The answer only says 502; the cause (refused, reset, unreadable) is for the operators.
        logger.warn("upstream call failed", {
          request_id: x.requestId,
          operation,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      controllers.recycle(lease);
      const elapsedMs = performance.now() - started;
      x.upstreamMs = Math.round(elapsedMs * 1000) / 1000;
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
  async function admit(x: Exchange, body: Uint8Array, projectId: string): Promise<CallerConfig> {
    const authorization = x.header("authorization");
    const access =
      authorization === undefined ? undefined : /Access=([A-Za-z0-9]{1,128})/.exec(authorization)?.[1];
    if (access !== undefined) x.accessKey = access;
    const caller = await registry.authenticate({
      method: x.method,
      url: x.target,
      authorization,
      // Only a signature needs every header: built then, not for a bearer key.
      get headers() {
        return x.headers;
      },
      body,
      now: new Date(now()),
    });
    x.caller = caller.name;
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
    x: Exchange,
    operation: string,
    request: HttpRequest,
  ): Promise<Answer & { errorCode?: string }> {
    const requestId = x.requestId;
    let answer: HttpResponseData;
    try {
      answer = await withDeadline(x, operation, (signal) =>
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
    x: Exchange,
    caller: CallerConfig,
    header: string,
    body: Uint8Array,
    run: () => Promise<Answer & { errorCode?: string }>,
  ): Promise<Reply> {
    const key = `${caller.name}:${parseIdempotencyKey(header)}`;
    const fingerprint = createHash("sha256").update(`${x.method} ${x.target}\n`).update(body).digest("hex");
    const claim = await withStore(() => store.claimIdempotencyKey(key, fingerprint, lockTtlMs));
    if (claim.outcome !== "claimed") {
      if (claim.fingerprint !== fingerprint) {
        metrics.idempotency.inc({ outcome: "conflict" });
        x.idempotency = "conflict";
        throw new GatewayError(
          "CPHGW.4221",
          "this Idempotency-Key was already used with a different request (path or body); use a new key for a new request",
        );
      }
      if (claim.outcome === "in-flight") {
        metrics.idempotency.inc({ outcome: "in_flight" });
        x.idempotency = "in_flight";
        throw new GatewayError(
          "CPHGW.4091",
          "a request with this Idempotency-Key is still in flight; retry after it finished",
          {
            headers: { "Retry-After": "1" },
          },
        );
      }
      metrics.idempotency.inc({ outcome: "replayed" });
      x.idempotency = "replayed";
      const replay = claim.response;
      const errorCode = replay.status >= 400 ? readErrorCode(replay.body) : undefined;
      return { ...replay, headers: { ...replay.headers, [REPLAYED_HEADER]: "true" }, errorCode };
    }
    metrics.idempotency.inc({ outcome: "claimed" });
    x.idempotency = "claimed";
    let answer: (Answer & { errorCode?: string }) | undefined;
    try {
      answer = await run();
      return answer;
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
          request_id: x.requestId,
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
  const direct = cphDirectRoutes(kit, checkServers);
  mountDirectRoutes(app, direct, config.bodyLimitBytes, send);
  mountCphRoutes(app, kit);
  mountCampaignRoutes(app, kit, dependencies.campaigns, checkServers);
  const pipeline: Pipeline = {
    begin,
    finish,
    errorReply,
    replyHeaders,
    bodyLimitBytes: config.bodyLimitBytes,
  };
  return { app, listener: createNodeLane(pipeline, direct, app) };
}

/**
 * Puts direct routes on the hono app, with the same handlers the node:http lane calls: one
 * behaviour whichever entry a request came by (hono serves the paths the lane leaves to it, such
 * as a trailing slash or a percent-encoded segment, and every request of `app.fetch`).
 */
function mountDirectRoutes(
  app: GatewayApp,
  routes: readonly DirectRoute[],
  bodyLimitBytes: number,
  send: RouteKit["send"],
): void {
  for (const route of routes) {
    const path = route.route.replace(/\{(\w+)\}/g, ":$1");
    app.on(route.method, path, async (c) => {
      const x = c.var.exchange;
      x.route = route.route;
      const body =
        route.method === "POST" ? await readBody(c.req.raw, c.env?.incoming, bodyLimitBytes) : EMPTY;
      const reply = await route.handle(x, c.req.param() as Record<string, string>, body);
      return send(x, reply);
    });
  }
}
