import { describe, expect, it } from "vitest";
import { GatewayMetrics } from "./metrics.js";

describe("GatewayMetrics", () => {
  it("escapes label values as the Prometheus text format requires", async () => {
    const metrics = new GatewayMetrics();
    metrics.refusals.inc({ caller: 'a"b\\c\nd', code: "CPHGW.4011" });
    expect(await metrics.render()).toContain(
      'cph_gateway_refusals_total{caller="a\\"b\\\\c\\nd",code="CPHGW.4011"} 1',
    );
  });

  it("keeps cumulative histogram buckets, sum and count", async () => {
    const metrics = new GatewayMetrics();
    for (const seconds of [0.004, 0.02, 0.02, 40])
      metrics.upstreamLatency.observe({ operation: "get_job", outcome: "ok" }, seconds);
    const text = await metrics.render();
    const bucket = (le: string) =>
      `cph_gateway_upstream_duration_seconds_bucket{le="${le}",operation="get_job",outcome="ok"}`;
    expect(text).toContain(`${bucket("0.005")} 1`);
    expect(text).toContain(`${bucket("0.025")} 3`);
    expect(text).toContain(`${bucket("30")} 3`);
    expect(text).toContain(`${bucket("+Inf")} 4`);
    expect(text).toContain('cph_gateway_upstream_duration_seconds_count{operation="get_job",outcome="ok"} 4');
    expect(text).toContain(
      'cph_gateway_upstream_duration_seconds_sum{operation="get_job",outcome="ok"} 40.044',
    );
  });
});
