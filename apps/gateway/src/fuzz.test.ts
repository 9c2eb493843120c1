// Fuzzing createApp in-process: whatever arrives, the answer is a well-formed 2xx/4xx, never a 5xx
// or a crash, a refused or invalid request never reaches the upstream, and no secret is logged.
import { fc, test } from "@fast-check/vitest";
import { describe, expect, test as plainTest } from "vitest";
import { PROJECT, SECRETS, storageInfo, TEAM_A_KEY, TEAM_B_AK, testApp } from "./test-support/fixtures.js";

const harness = testApp();
const printable = (maxLength: number) =>
  fc.string({
    unit: fc.constantFrom(...Array.from({ length: 95 }, (_, code) => String.fromCharCode(code + 32))),
    maxLength,
  });

const validInfo = fc
  .integer({ min: 0, max: 50 })
  .map((index) => storageInfo(index) as Record<string, unknown>);
const mutatedInfo = fc
  .tuple(
    validInfo,
    fc.constantFrom("phone_id", "include_files", "exclude_files", "bucket_name", "object_path", "extra"),
    fc.anything(),
  )
  .map(([info, field, value]) => ({ ...info, [field]: value }));
const body = fc.oneof(
  {
    arbitrary: fc
      .array(fc.oneof(validInfo, mutatedInfo), { maxLength: 5 })
      .map((infos) => JSON.stringify({ storage_infos: infos })),
    weight: 4,
  },
  fc
    .uniqueArray(validInfo, { minLength: 1, maxLength: 3, selector: (info) => info["phone_id"] })
    .map((infos) => JSON.stringify({ storage_infos: infos })),
  fc.json(),
  fc.jsonValue().map((value) => JSON.stringify({ storage_infos: value })),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
);
const authorization = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${TEAM_A_KEY}`), weight: 6 },
  printable(60).map((value) => `Bearer ${value}`),
  printable(120).map((value) => `SDK-HMAC-SHA256 ${value}`),
  fc.constant(
    `SDK-HMAC-SHA256 Access=${TEAM_B_AK}, SignedHeaders=host;x-sdk-date, Signature=${"a".repeat(64)}`,
  ),
  printable(60),
  fc.constant(""),
);
const exportPath = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;
const anyPath = fc.oneof(
  fc.constant(exportPath),
  fc.webSegment().map((segment) => `/v1/${segment}/cloud-phone/phones/batch-storage`),
  fc.webSegment().map((segment) => `/v1/${PROJECT}/cloud-phone/jobs/${segment}`),
  fc.webQueryParameters().map((query) => `/v1/${PROJECT}/cloud-phone/jobs?${query}`),
  fc.webPath(),
  fc.constantFrom("/healthz", "/readyz", "/metrics", "/openapi.json"),
);
const target = fc.oneof(
  { arbitrary: fc.tuple(fc.constant("POST"), fc.constant(exportPath)), weight: 5 },
  {
    arbitrary: fc.tuple(
      fc.constant("GET"),
      fc.oneof(
        fc.webSegment().map((segment) => `/v1/${PROJECT}/cloud-phone/jobs/${segment}`),
        fc.webQueryParameters().map((query) => `/v1/${PROJECT}/cloud-phone/jobs?request_ids=a,b&${query}`),
      ),
    ),
    weight: 3,
  },
  { arbitrary: fc.tuple(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"), anyPath), weight: 2 },
);
const headers = fc.record(
  {
    authorization,
    "idempotency-key": fc.oneof(
      { arbitrary: fc.constantFrom("k1", "k2", '"k3"'), weight: 3 },
      printable(300),
    ),
    "x-request-id": printable(150),
    "content-type": fc.constantFrom("application/json", "text/plain", "application/json;charset=UTF-8"),
    "x-sdk-date": fc.constantFrom("20250101T000000Z", "garbage", ""),
  },
  { requiredKeys: ["authorization"] },
);

describe("fuzzed requests against createApp", () => {
  test.prop([target, headers, body], { numRuns: 400 })(
    "get a well-formed answer below 500, and reach the upstream only when accepted",
    async ([method, url], requestHeaders, requestBody) => {
      const before = harness.upstream.calls.length;
      const response = await harness.app.request(url, {
        method,
        headers: requestHeaders,
        ...(method === "GET" || method === "DELETE" ? {} : { body: requestBody }),
      });
      expect(response.status).toBeLessThan(500);
      expect(response.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      const text = await response.text();
      if (response.status >= 400) {
        const parsed = JSON.parse(text) as { error_code: string; error_msg: string; request_id: string };
        expect(parsed.error_code).toMatch(/^CPHGW\.\d{4}$/);
        expect(parsed.error_msg.length).toBeGreaterThan(0);
        expect(parsed.request_id).toBe(response.headers.get("x-request-id"));
        expect(harness.upstream.calls.length).toBe(before);
      }
      if (harness.upstream.calls.length > before) {
        expect(response.status).toBe(200);
        expect(harness.upstream.calls.length).toBe(before + 1);
      }
    },
  );

  test.prop([fc.constantFrom(...SECRETS)])("never logs a secret", (secret) => {
    expect(harness.lines.join("")).not.toContain(secret);
  });

  plainTest("reached the upstream and refused requests along the way (the fuzz is not vacuous)", () => {
    const statuses = new Set(
      harness.lines.map((line) => JSON.parse(line) as { status?: number }).map((entry) => entry.status),
    );
    expect(harness.upstream.calls.length).toBeGreaterThan(20);
    for (const status of [200, 400, 401, 404]) expect(statuses).toContain(status);
  });
});
