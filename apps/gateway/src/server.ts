import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Credentials } from "@cph-export/http-client";
import { type CphClient, createCphClient } from "@cph-export/http-client";
import { Redis } from "ioredis";
import { type CampaignClient, CampaignRunner } from "./campaign-runner.js";
import type { Campaigns } from "./campaign-service.js";
import { CampaignStore } from "./campaign-store.js";
import { createGateway, type Upstream } from "./app.js";
import type { GatewayConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { GatewayMetrics } from "./metrics.js";
import { createRedisStateStore } from "./redis-store.js";
import { createMemoryStateStore, type StateStore } from "./state-store.js";

/** The gateway's version, sent upstream in the User-Agent. */
export const GATEWAY_VERSION = "0.1.0";

export interface StartGatewayOptions {
  config: GatewayConfig;
  /** Upstream credentials (from `readEnvironment`). */
  credentials: Credentials;
  /** Shared state in Redis when given; in memory otherwise. */
  redisUrl?: string | undefined;
  logger: Logger;
  /** Override `config.listen`. */
  port?: number | undefined;
  host?: string | undefined;
  /** For tests: the client campaigns send with (default: one built from the config, with retries). */
  campaignClient?: (CampaignClient & { close?: () => Promise<void> }) | undefined;
  /** For tests: an upstream other than the http-client built from the config. */
  upstream?: (Upstream & { close?: () => Promise<void> }) | undefined;
}

export interface RunningGateway {
  /** `http://host:port` of the listener. */
  url: string;
  /**
   * Graceful stop: readiness fails, (after `shutdown.drainDelayMs`) the listener closes, in-flight
   * requests finish (cut after `shutdown.graceMs`), then the upstream client and the store close.
   * `forced` tells whether connections had to be cut. Calling it again returns the same promise.
   */
  shutdown(): Promise<{ forced: boolean }>;
}

function upstreamClient(
  config: GatewayConfig,
  credentials: Credentials,
  logger: Logger,
  maxAttempts = config.upstream.maxAttempts,
): CphClient {
  const { upstream } = config;
  const timeout = upstream.timeoutMs;
  const resolvedCredentials: Credentials =
    credentials.type === "password"
      ? { ...credentials, iamEndpoint: upstream.iamEndpoint ?? upstream.endpoint ?? credentials.iamEndpoint }
      : credentials;
  return createCphClient({
    ...(upstream.endpoint === undefined ? { region: upstream.region } : { endpoint: upstream.endpoint }),
    projectId: upstream.projectId,
    credentials: resolvedCredentials,
    retry: { maxAttempts },
    // The gateway's own deadline (an AbortSignal) ends every call first; these only bound the parts.
    timeouts: { connectMs: Math.min(timeout, 10_000), headersMs: timeout + 1000, bodyMs: timeout + 1000 },
    userAgent: `cph-gateway/${GATEWAY_VERSION}`,
    // Only these are logged: the request and response events of every call are not even built.
    eventTypes: ["token", "retry"],
    onEvent: (event) => {
      if (event.type === "token" || event.type === "retry") {
        logger.info(`upstream ${event.type}`, {
          url: event.url,
          status: event.status,
          attempt: event.attempt,
          delay_ms: event.delayMs,
          message: event.message,
        });
      }
    },
  });
}

/** Builds the dependencies, starts the HTTP listener and returns its URL and a graceful `shutdown`. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const upstream = options.upstream ?? upstreamClient(config, options.credentials, logger);
  const store: StateStore =
    options.redisUrl === undefined
      ? createMemoryStateStore()
      : createRedisStateStore({
          url: options.redisUrl,
          keyPrefix: config.redis.keyPrefix,
          onError: throttledWarning(logger, "redis connection problem"),
        });
  const metrics = new GatewayMetrics();
  const lifecycle = { shuttingDown: false };
  let campaigns: (Campaigns & { close(): Promise<void> }) | undefined;
  if (options.redisUrl !== undefined) {
    campaigns = startCampaigns(options, options.redisUrl);
    metrics.addCampaigns({
      activeCounts: () => campaigns!.store.activeCounts(),
      jobCounts: () => campaigns!.runner.jobCounts(),
      activity: campaigns.runner.activity,
    });
  }
  const { listener } = createGateway({ config, upstream, store, logger, metrics, lifecycle, campaigns });
  const server = createServer(listener);
  // Bounds slow clients; generous next to the upstream deadline so that no answer is cut.
  server.requestTimeout = Math.max(60_000, config.upstream.timeoutMs * 2);
  server.headersTimeout = 30_000;

  const host = options.host ?? config.listen.host;
  const port = options.port ?? config.listen.port;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;

  let stopping: Promise<{ forced: boolean }> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      lifecycle.shuttingDown = true;
      logger.info("shutdown started", {
        in_flight: metrics.inFlight,
        drain_delay_ms: config.shutdown.drainDelayMs,
      });
      if (config.shutdown.drainDelayMs > 0)
        await new Promise((resolve) => setTimeout(resolve, config.shutdown.drainDelayMs));
      let forced = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Answers sent from now on carry Connection: close; idle keep-alive sockets go right away.
      server.closeIdleConnections();
      const grace = setTimeout(() => {
        forced = true;
        logger.warn("shutdown grace period over; cutting connections", { in_flight: metrics.inFlight });
        server.closeAllConnections();
      }, config.shutdown.graceMs);
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      await closed;
      clearTimeout(grace);
      clearInterval(idle);
      await campaigns?.close();
      await Promise.allSettled([upstream.close?.(), store.close()]);
      logger.info("shutdown complete", { forced });
      return { forced };
    })();
    return stopping;
  };
  return { url, shutdown };
}

/** The campaign store, the queue and this replica's worker, on their own Redis connections. */
function startCampaigns(
  options: StartGatewayOptions,
  redisUrl: string,
): Campaigns & { close(): Promise<void> } {
  const { config, logger } = options;
  const onRedisError = throttledWarning(logger, "campaign redis connection problem");
  const client =
    options.campaignClient ??
    upstreamClient(config, options.credentials, logger, config.campaigns.maxAttempts);
  const redis = new Redis(redisUrl, {
    keyPrefix: config.redis.keyPrefix,
    maxRetriesPerRequest: 3,
    commandTimeout: 5000,
  });
  redis.on("error", onRedisError);
  const store = new CampaignStore(redis, { retentionMs: config.campaigns.retentionMs });
  const runner = new CampaignRunner({
    redisUrl,
    prefix: `${config.redis.keyPrefix}bull`,
    store,
    client,
    logger,
    settings: config.campaigns,
    onRedisError,
  });
  return {
    store,
    runner,
    client,
    async close() {
      await runner.close(config.shutdown.graceMs).catch((error: unknown) =>
        logger.warn("campaign worker did not close cleanly", {
          error: error instanceof Error ? error.message : String(error),
        }),
      );
      if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await client.close?.();
    },
  };
}

function throttledWarning(logger: Logger, message: string): (error: Error) => void {
  let last = 0;
  return (error) => {
    const time = Date.now();
    if (time - last < 5000) return;
    last = time;
    logger.warn(message, { error: error.message });
  };
}
