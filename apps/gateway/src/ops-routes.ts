import { CphApiError, CphError } from "@cph-export/core";
import type { Hono } from "hono";
import { JSON_HEADERS } from "./answers.js";
import { registerDocsPage } from "./docs/register-docs-page.js";
import { GatewayError } from "./errors.js";
import type { GatewayEnv } from "./exchange.js";
import { createOpenApiDocument } from "./openapi.js";
import type { RouteKit } from "./route-kit.js";

/** The operations routes: /healthz, /readyz (upstream and state store), /metrics, /openapi.json, /docs. */
export function mountOpsRoutes(app: Hono<GatewayEnv>, kit: RouteKit): void {
  const { lifecycle, upstream, store, logger, metrics, withDeadline } = kit;
  let openApi: string | undefined;

  app.get("/healthz", (c) => {
    c.var.exchange.route = "/healthz";
    return c.json({ status: "ok" });
  });

  app.get("/readyz", async (c) => {
    c.var.exchange.route = "/readyz";
    if (lifecycle.shuttingDown) {
      c.var.exchange.errorCode = "CPHGW.5031";
      return c.json({ status: "shutting down", checks: { shutdown: "started" } }, 503);
    }
    const checks: Record<string, string> = {};
    await Promise.all([
      withDeadline(c.var.exchange, "authenticate", (signal) => upstream.authenticate({ signal })).then(
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
    c.var.exchange.route = "/metrics";
    return c.body(await metrics.render(), 200, { "Content-Type": metrics.contentType });
  });

  app.get("/openapi.json", (c) => {
    c.var.exchange.route = "/openapi.json";
    openApi ??= JSON.stringify(createOpenApiDocument());
    return c.body(openApi, 200, JSON_HEADERS);
  });
  registerDocsPage(app, (c, route) => {
    c.var.exchange.route = route;
  });
}
