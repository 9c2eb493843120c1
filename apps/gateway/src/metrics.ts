// Prometheus text exposition (format 0.0.4), written by hand: a few counters, a gauge and a histogram.

/** Upper bounds (seconds) of the upstream latency histogram. */
export const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  // Label values are almost always plain: test once before escaping.
  if (!/[\\\n"]/.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

// Runs for every request (it is the series key): one string, no arrays of entries.
function formatLabels(labels: Labels): string {
  let text = "";
  for (const name in labels) {
    text += `${text === "" ? "{" : ","}${name}="${escapeLabel(labels[name] as string)}"`;
  }
  return text === "" ? "" : `${text}}`;
}

class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = formatLabels(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  get(labels: Labels): number {
    return this.#values.get(formatLabels(labels))?.value ?? 0;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [key, entry] of this.#values) lines.push(`${this.name}${key} ${entry.value}`);
  }
}

class Histogram {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const key = formatLabels(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (let index = 0; index < this.buckets.length; index++) {
      if (value <= (this.buckets[index] as number))
        series.counts[index] = (series.counts[index] as number) + 1;
    }
    series.sum += value;
    series.count++;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const series of this.#series.values()) {
      this.buckets.forEach((bound, index) => {
        lines.push(
          `${this.name}_bucket${formatLabels({ ...series.labels, le: String(bound) })} ${series.counts[index]}`,
        );
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...series.labels, le: "+Inf" })} ${series.count}`);
      lines.push(`${this.name}_sum${formatLabels(series.labels)} ${series.sum}`);
      lines.push(`${this.name}_count${formatLabels(series.labels)} ${series.count}`);
    }
  }
}

/** The gateway's metrics; one instance per app. */
export class GatewayMetrics {
  readonly requests = new Counter(
    "cph_gateway_requests_total",
    "HTTP requests answered, by method, route and status.",
  );
  readonly upstreamLatency = new Histogram(
    "cph_gateway_upstream_duration_seconds",
    "Time of upstream CPH calls, by operation and outcome.",
    UPSTREAM_BUCKETS,
  );
  readonly idempotency = new Counter(
    "cph_gateway_idempotency_total",
    "Requests with an Idempotency-Key, by outcome (claimed, replayed, conflict, in_flight).",
  );
  readonly refusals = new Counter(
    "cph_gateway_refusals_total",
    "Requests refused by authentication or per-caller policy, by caller and CPHGW code.",
  );
  #inFlight = 0;

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(): void {
    this.#inFlight--;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The exposition text for `GET /metrics`. */
  render(): string {
    const lines: string[] = [];
    this.requests.render(lines);
    this.upstreamLatency.render(lines);
    this.idempotency.render(lines);
    this.refusals.render(lines);
    lines.push(
      "# HELP cph_gateway_in_flight_requests Requests being handled now.",
      "# TYPE cph_gateway_in_flight_requests gauge",
      `cph_gateway_in_flight_requests ${this.#inFlight}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
