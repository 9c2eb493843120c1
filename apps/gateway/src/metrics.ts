// The gateway's Prometheus metrics, on prom-client: one registry per app, with the default process
// and Node.js metrics (CPU, memory, event loop lag, GC, handles) next to the gateway's own.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Upper bounds (seconds) of the upstream latency histogram. */
export const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export interface GatewayMetricsOptions {
  /** Include prom-client's default process and Node.js metrics; default true. */
  defaultMetrics?: boolean;
}

/** The gateway's metrics; one instance per app. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status">;
  readonly upstreamLatency: Histogram<"operation" | "outcome">;
  readonly idempotency: Counter<"outcome">;
  readonly refusals: Counter<"caller" | "code">;
  #inFlight = 0;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "cph_gateway_requests_total",
      help: "HTTP requests answered, by method, route and status.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: "cph_gateway_upstream_duration_seconds",
      help: "Time of upstream CPH calls, by operation and outcome.",
      labelNames: ["operation", "outcome"],
      buckets: [...UPSTREAM_BUCKETS],
      registers,
    });
    this.idempotency = new Counter({
      name: "cph_gateway_idempotency_total",
      help: "Requests with an Idempotency-Key, by outcome (claimed, replayed, conflict, in_flight).",
      labelNames: ["outcome"],
      registers,
    });
    this.refusals = new Counter({
      name: "cph_gateway_refusals_total",
      help: "Requests refused by authentication or per-caller policy, by caller and CPHGW code.",
      labelNames: ["caller", "code"],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: "cph_gateway_in_flight_requests",
      help: "Requests being handled now.",
      registers,
      collect() {
        this.set(metrics.#inFlight);
      },
    });
  }

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(): void {
    this.#inFlight--;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `GET /metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
