import type { CphClient } from "@cph-export/http-client";
import type { Answer } from "./answers.js";
import type { CallerConfig, GatewayConfig } from "./config.js";
import type { Exchange, HeaderSource } from "./exchange.js";
import type { Logger } from "./logger.js";
import type { GatewayMetrics } from "./metrics.js";
import type { CallerPolicy } from "./policy.js";
import type { StateStore } from "./state-store.js";
import type { StoredResponse } from "./state-store.js";

/**
 * What the gateway needs of the upstream: a subset of the http-client's `CphClient`. It builds each
 * request with core from what it validated and passes CPH's answer on as it came (`send`).
 */
export type Upstream = Pick<CphClient, "endpoint" | "projectId" | "authenticate" | "send">;

/** Tells the app that shutdown began: readiness fails and connections are closed after each answer. */
export interface Lifecycle {
  readonly shuttingDown: boolean;
}

/** The route labels used in logs and metrics. */
export const ROUTES = {
  batchStorage: "/v1/{project_id}/cloud-phone/phones/batch-storage",
  batchRestore: "/v1/{project_id}/cloud-phone/phones/batch-restore",
  showJob: "/v1/{project_id}/cloud-phone/jobs/{job_id}",
  listJobs: "/v1/{project_id}/cloud-phone/jobs",
  listPhones: "/v1/{project_id}/cloud-phone/phones",
  listServers: "/v1/{project_id}/cloud-phone/servers",
} as const;

export const EMPTY = new Uint8Array(0);

/** An answer as data, with the gateway error code it carries (for the log and metrics). */
export type Reply = StoredResponse & { errorCode?: string | undefined };

/**
 * The request pipeline every route group uses (app.ts builds it): who is calling, what they may
 * do, the upstream call under its deadline, idempotency, and the answer with its headers.
 */
export interface RouteKit {
  config: GatewayConfig;
  upstream: Upstream;
  store: StateStore;
  logger: Logger;
  metrics: GatewayMetrics;
  lifecycle: Lifecycle;
  policies: ReadonlyMap<string, CallerPolicy>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /**
   * Authentication, project rule and rate limit: what every CPH route does first. `projectId` is
   * the path's, or the upstream's for the gateway's own routes (campaigns).
   */
  admit(x: Exchange, body: Uint8Array, projectId: string): Promise<CallerConfig>;
  /** An answer as data, as a hono Response with the secure headers and the request id. */
  send(x: Exchange, answer: Reply): Response;
  /** A request built from validated input, sent upstream under the deadline; any answer comes back as data. */
  forward(
    x: Exchange,
    operation: string,
    request: import("@cph-export/core").HttpRequest,
  ): Promise<Answer & { errorCode?: string }>;
  /** Runs `run` once per Idempotency-Key of the caller; a repeat gets the stored answer. */
  idempotent(
    x: Exchange,
    caller: CallerConfig,
    header: string,
    body: Uint8Array,
    run: () => Promise<Answer & { errorCode?: string }>,
  ): Promise<Reply>;
  /** Runs one upstream call under the per-request deadline; the call is aborted when it passes. */
  withDeadline<T>(x: Exchange, operation: string, call: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/**
 * A route whose whole input is its path parameters and its body (no query), written without hono:
 * `mountDirectRoutes` puts it on the hono app and the node:http lane serves it directly, with the
 * same handler either way.
 */
export interface DirectRoute {
  method: "GET" | "POST";
  /** Its label in logs and metrics, and its path, with `{param}` placeholders. */
  route: string;
  /** `body` is empty for a GET. */
  handle(x: Exchange, params: Readonly<Record<string, string>>, body: Uint8Array): Promise<Reply>;
}

/**
 * What the two entries share: an exchange begins and ends the same way (request id, in-flight
 * gauge, access log, metrics), and an error or an answer becomes the same bytes.
 */
export interface Pipeline {
  /** A request came in: its exchange, with its request id (the caller's, when usable). */
  begin(method: string, target: string, headers: HeaderSource): Exchange;
  /** The answer went out: the metrics and the access log line. */
  finish(x: Exchange, status: number): void;
  /** What any error thrown by a handler answers. */
  errorReply(x: Exchange, error: unknown): Reply;
  /** Every header an answer goes out with: its own, the secure ones, the request id. */
  replyHeaders(x: Exchange, headers: Readonly<Record<string, string>>): Record<string, string>;
  bodyLimitBytes: number;
}
