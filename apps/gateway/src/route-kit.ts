import type { CphClient } from "@cph-export/http-client";
import type { Answer } from "./answers.js";
import type { CallerConfig, GatewayConfig } from "./config.js";
import type { AppContext } from "./incoming.js";
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
   * Authentication, project rule and rate limit: what every CPH route does first. The project is
   * the path's `project_id` unless given (campaigns use the upstream's).
   */
  admit(c: AppContext, body: Uint8Array, projectId?: string): Promise<CallerConfig>;
  /** An answer as data, sent with the secure headers and the request id. */
  send(c: AppContext, answer: StoredResponse & { errorCode?: string | undefined }): Response;
  /** A request built from validated input, sent upstream under the deadline; any answer comes back as data. */
  forward(
    c: AppContext,
    operation: string,
    request: import("@cph-export/core").HttpRequest,
  ): Promise<Answer & { errorCode?: string }>;
  /** Runs `run` once per Idempotency-Key of the caller; a repeat gets the stored answer. */
  idempotent(
    c: AppContext,
    caller: CallerConfig,
    header: string,
    body: Uint8Array,
    run: () => Promise<Answer & { errorCode?: string }>,
  ): Promise<Response>;
  /** Runs one upstream call under the per-request deadline; the call is aborted when it passes. */
  withDeadline<T>(c: AppContext, operation: string, call: (signal: AbortSignal) => Promise<T>): Promise<T>;
}
