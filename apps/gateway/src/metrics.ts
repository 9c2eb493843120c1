// The gateway's Prometheus metrics, on prom-client: one registry per app, with the default process
// and Node.js metrics (CPU, memory, event loop lag, GC, handles) next to the gateway's own.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Upper bounds (seconds) of the upstream latency histogram. */
export const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** What the campaign metrics read. */
export interface CampaignMetricsSource {
  activeCounts(): Promise<Array<{ id: string; counts: Record<string, number> }>>;
  jobCounts(): Promise<Record<string, number>>;
  readonly activity: { active: number; batches: Record<string, number>; phonesSent: number };
}

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

  // prom-client hashes a label object on every call; the children of the label sets seen are kept.
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #upstreamChildren = new Map<string, { observe(value: number): void }>();

  /** Counts one answered request (what `requests.inc` does, without hashing the labels each time). */
  countRequest(method: string, route: string, status: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.#requestChildren.get(key);
    if (child === undefined) {
      child = this.requests.labels({ method, route, status: String(status) });
      this.#requestChildren.set(key, child);
    }
    child.inc();
  }

  /** Records one upstream call's duration (as `upstreamLatency.observe`, with the children kept). */
  observeUpstream(operation: string, outcome: string, seconds: number): void {
    const key = `${operation} ${outcome}`;
    let child = this.#upstreamChildren.get(key);
    if (child === undefined) {
      child = this.upstreamLatency.labels({ operation, outcome });
      this.#upstreamChildren.set(key, child);
    }
    child.observe(seconds);
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

  /**
   * The campaign metrics: phones by state of the running campaigns and queue depth (read from
   * Redis at each scrape), and this replica's worker activity.
   */
  addCampaigns(source: CampaignMetricsSource): void {
    const registers = [this.registry];
    new Gauge({
      name: "cph_gateway_campaign_phones",
      help: "Phones of the running campaigns, by campaign and state.",
      labelNames: ["campaign", "state"],
      registers,
      async collect() {
        this.reset();
        for (const { id, counts } of await source.activeCounts()) {
          for (const [state, count] of Object.entries(counts)) this.set({ campaign: id, state }, count);
        }
      },
    });
    new Gauge({
      name: "cph_gateway_campaign_queue_jobs",
      help: "Batch jobs in the campaign queue (shared by every replica), by state.",
      labelNames: ["state"],
      registers,
      async collect() {
        for (const [state, count] of Object.entries(await source.jobCounts())) this.set({ state }, count);
      },
    });
    new Gauge({
      name: "cph_gateway_campaign_batches_active",
      help: "Campaign batches this replica's worker is running now.",
      registers,
      collect() {
        this.set(source.activity.active);
      },
    });
    new Gauge({
      name: "cph_gateway_campaign_batches_total",
      help: "Campaign batches this replica's worker ended, by outcome (completed, retried, failed); a counter.",
      labelNames: ["outcome"],
      registers,
      collect() {
        for (const [outcome, count] of Object.entries(source.activity.batches)) this.set({ outcome }, count);
      },
    });
    new Gauge({
      name: "cph_gateway_campaign_phones_sent_total",
      help: "Campaign phones this replica's worker sent to CPH; a counter.",
      registers,
      collect() {
        this.set(source.activity.phonesSent);
      },
    });
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
