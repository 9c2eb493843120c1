import { CAMPAIGN_PAGE_ROUTES } from "./campaign-page.js";
import { CphApiError, CphAuthError, CphNetworkError, signRequest, utf8Bytes } from "@cph-export/core";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ROUTES, SECURE_HEADERS } from "./app.js";
import { DOCS_ROUTES } from "./docs/register-docs-page.js";
import {
  exportBody,
  PROJECT,
  SECRETS,
  storageInfo,
  TEAM_A_KEY,
  TEAM_A_ROTATED_KEY,
  TEAM_B_AK,
  TEAM_B_SK,
  testApp,
  testConfig,
} from "./test-support/fixtures.js";

const BASE = "http://gateway.test";
const EXPORT_PATH = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

function post(harness: ReturnType<typeof testApp>, body: string, headers: Record<string, string> = {}) {
  return harness.app.request(EXPORT_PATH, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...harness.bearer(), ...headers },
    body,
  });
}

async function signed(
  method: "GET" | "POST",
  path: string,
  body: string | undefined,
  options: { secretKey?: string; date?: Date } = {},
) {
  const request = await signRequest(
    {
      method,
      url: `${BASE}${path}`,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: utf8Bytes(body) }),
    },
    {
      accessKey: TEAM_B_AK,
      secretKey: options.secretKey ?? TEAM_B_SK,
      projectId: PROJECT,
      ...(options.date ? { date: options.date } : {}),
    },
  );
  return { method, headers: request.headers, ...(body === undefined ? {} : { body }) };
}

function expectNoSecrets(lines: readonly string[]): void {
  const text = lines.join("");
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("caller authentication", () => {
  it("forwards a request with a known bearer key and answers with the upstream's body", async () => {
    const harness = testApp();
    const response = await post(harness, exportBody(2));
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body["request_id"]).toBe("upstream-1");
    expect(body["jobs"]).toEqual([
      { phone_id: "phone0000", job_id: "job-1-0" },
      { phone_id: "phone0001", job_id: "job-1-1" },
    ]);
    expect(harness.upstream.calls[0]?.argument).toEqual([storageInfo(0), storageInfo(1)]);
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const log = harness.lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === "request");
    expect(log).toMatchObject({
      caller: "team-a",
      method: "POST",
      route: "/v1/{project_id}/cloud-phone/phones/batch-storage",
      status: 200,
    });
    expect(typeof log.latency_ms).toBe("number");
    // The part of it spent waiting for CPH: what the gateway itself took is the difference.
    expect(log.upstream_ms).toBeGreaterThanOrEqual(0);
    expect(log.upstream_ms).toBeLessThanOrEqual(log.latency_ms);
    expectNoSecrets(harness.lines);
  });

  it("accepts every key of a rotation", async () => {
    const harness = testApp();
    expect((await post(harness, exportBody(1), harness.bearer(TEAM_A_ROTATED_KEY))).status).toBe(200);
  });

  it.each([
    ["no Authorization", undefined, "CPHGW.4011"],
    ["an unknown bearer key", "Bearer not-a-known-key", "CPHGW.4012"],
    ["an unsupported scheme", "Basic dXNlcjpwYXNz", "CPHGW.4011"],
    ["a malformed signature header", "SDK-HMAC-SHA256 Access=GATEWAYTEAMBAK000001", "CPHGW.4013"],
  ])("refuses %s with 401 and never calls the upstream", async (_, authorization, code) => {
    const harness = testApp();
    const response = await harness.app.request(EXPORT_PATH, {
      method: "POST",
      headers: authorization === undefined ? {} : { Authorization: authorization },
      body: exportBody(1),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    const body = await json(response);
    expect(body["error_code"]).toBe(code);
    expect(body["request_id"]).toBe(response.headers.get("x-request-id"));
    expect(harness.upstream.calls).toHaveLength(0);
    const refusal = harness.lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === "refused");
    expect(refusal).toMatchObject({ error_code: code, caller: null });
    expect(await harness.metrics.render()).toContain(
      `cph_gateway_refusals_total{caller="-",code="${code}"} 1`,
    );
  });

  it("accepts a request signed with SDK-HMAC-SHA256 by a gateway-issued access key", async () => {
    const harness = testApp();
    const body = exportBody(1, { bucket_name: "team-b-backups", object_path: "anything/x.tar" });
    const response = await harness.app.request(EXPORT_PATH, await signed("POST", EXPORT_PATH, body));
    expect(response.status).toBe(200);
    const listPath = `/v1/${PROJECT}/cloud-phone/jobs?request_ids=r1,r2&limit=10`;
    const list = await harness.app.request(listPath, await signed("GET", listPath, undefined));
    expect(list.status).toBe(200);
    // As sent to CPH: core's builder states the default offset.
    expect(harness.upstream.calls[1]?.argument).toEqual({ requestIds: ["r1", "r2"], offset: 0, limit: 10 });
    const entry = harness.lines.map((line) => JSON.parse(line)).find((line) => line.msg === "request");
    expect(entry).toMatchObject({ caller: "team-b", access_key: TEAM_B_AK });
    expectNoSecrets(harness.lines);
  });

  it("refuses a wrong secret, a tampered body and a stale date", async () => {
    const harness = testApp();
    const body = exportBody(1, { bucket_name: "team-b-backups" });
    const wrongKey = await harness.app.request(
      EXPORT_PATH,
      await signed("POST", EXPORT_PATH, body, { secretKey: "another-secret-key-of-16" }),
    );
    expect((await json(wrongKey))["error_code"]).toBe("CPHGW.4013");
    const tampered = await signed("POST", EXPORT_PATH, body);
    const tamperedResponse = await harness.app.request(EXPORT_PATH, {
      ...tampered,
      body: body.replace("phone0000", "phone0001"),
    });
    expect((await json(tamperedResponse))["error_code"]).toBe("CPHGW.4013");
    const stale = await harness.app.request(
      EXPORT_PATH,
      await signed("POST", EXPORT_PATH, body, { date: new Date(Date.now() - 20 * 60 * 1000) }),
    );
    expect(stale.status).toBe(401);
    expect((await json(stale))["error_code"]).toBe("CPHGW.4014");
    expect(harness.upstream.calls).toHaveLength(0);
  });
});

describe("per-caller policy", () => {
  it("refuses a project the caller may not use", async () => {
    const harness = testApp();
    const response = await harness.app.request(`/v1/ffffffffffffffffffffffffffffffff/cloud-phone/jobs/job1`, {
      headers: harness.bearer(),
    });
    expect(response.status).toBe(403);
    expect((await json(response))["error_code"]).toBe("CPHGW.4031");
    expect(harness.upstream.calls).toHaveLength(0);
  });

  it("allows buckets by exact name and by pattern, and names every refused one", async () => {
    const harness = testApp();
    const allowed = JSON.stringify({
      storage_infos: [
        storageInfo(0, { bucket_name: "team-a-x" }),
        storageInfo(1, { bucket_name: "shared-bucket" }),
      ],
    });
    expect((await post(harness, allowed)).status).toBe(200);
    const refused = JSON.stringify({
      storage_infos: [
        storageInfo(0, { bucket_name: "team-b-backups" }),
        storageInfo(1, { bucket_name: "team-a-ok" }),
        storageInfo(2, { bucket_name: "xteam-a-1" }),
      ],
    });
    const response = await post(harness, refused);
    expect(response.status).toBe(403);
    const body = await json(response);
    expect(body["error_code"]).toBe("CPHGW.4032");
    expect((body["details"] as Array<{ path: string }>).map((detail) => detail.path)).toEqual([
      "storage_infos[0].bucket_name",
      "storage_infos[2].bucket_name",
    ]);
    expect(harness.upstream.count("batchExport")).toBe(1);
  });

  it("refuses object paths outside the caller's prefixes, and dot segments", async () => {
    const harness = testApp();
    const response = await post(
      harness,
      JSON.stringify({
        storage_infos: [
          storageInfo(0, { object_path: "team-b/x.tar" }),
          storageInfo(1, { object_path: "team-a/../team-b/x.tar" }),
          storageInfo(2),
        ],
      }),
    );
    expect(response.status).toBe(403);
    const body = await json(response);
    expect(body["error_code"]).toBe("CPHGW.4033");
    expect(body["details"]).toEqual([
      expect.objectContaining({ code: "object_path_not_allowed", path: "storage_infos[0].object_path" }),
      expect.objectContaining({ code: "object_path_dot_segment", path: "storage_infos[1].object_path" }),
    ]);
    expect(harness.upstream.calls).toHaveLength(0);
  });

  it("refuses more phones than the caller may send at once", async () => {
    const harness = testApp();
    expect((await post(harness, exportBody(3))).status).toBe(200);
    const response = await post(harness, exportBody(4));
    expect(response.status).toBe(403);
    expect((await json(response))["error_code"]).toBe("CPHGW.4034");
    expect(harness.upstream.count("batchExport")).toBe(1);
  });

  it("limits requests per minute per caller with Retry-After, and the window ends", async () => {
    let time = Date.parse("2025-01-01T00:00:00Z");
    const config = testConfig();
    const teamA = config.callers[0]!;
    teamA.requestsPerMinute = 2;
    const harness = testApp({ config, now: () => time });
    const jobPath = `/v1/${PROJECT}/cloud-phone/jobs/job1`;
    expect((await harness.app.request(jobPath, { headers: harness.bearer() })).status).toBe(200);
    time += 10_000;
    expect((await harness.app.request(jobPath, { headers: harness.bearer() })).status).toBe(200);
    const limited = await harness.app.request(jobPath, { headers: harness.bearer() });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("50");
    expect((await json(limited))["error_code"]).toBe("CPHGW.4291");
    // Another caller has its own window.
    const other = await harness.app.request(
      jobPath,
      await signed("GET", jobPath, undefined, { date: new Date(time) }),
    );
    expect(other.status).toBe(200);
    time += 50_000;
    expect((await harness.app.request(jobPath, { headers: harness.bearer() })).status).toBe(200);
    expect(harness.upstream.count("getJob")).toBe(4);
    expect(await harness.metrics.render()).toContain(
      'cph_gateway_refusals_total{caller="team-a",code="CPHGW.4291"} 1',
    );
  });
});

describe("validation", () => {
  it("answers 400 with every issue and its path, in the CPH error shape", async () => {
    const harness = testApp();
    const body = JSON.stringify({
      storage_infos: [
        {
          phone_id: "phone1",
          include_files: ["/data/../system"],
          bucket_name: "team-a-x",
          object_path: "team-a/a.tar",
        },
        {
          phone_id: "phone2",
          include_files: [],
          bucket_name: "Team-A",
          object_path: "team-a/b.tar",
          extra: 1,
        },
      ],
    });
    const response = await post(harness, body);
    expect(response.status).toBe(400);
    const parsed = await json(response);
    expect(parsed["error_code"]).toBe("CPHGW.4001");
    expect(parsed["request_id"]).toBe(response.headers.get("x-request-id"));
    const details = parsed["details"] as Array<{ code: string; path: string; message: string }>;
    expect(details.map((detail) => [detail.code, detail.path])).toEqual(
      expect.arrayContaining([
        ["path_dot_segment", "storage_infos[0].include_files[0]"],
        ["unrecognized_key", "storage_infos[1].extra"],
        ["include_files_empty", "storage_infos[1].include_files"],
        ["bucket_charset", "storage_infos[1].bucket_name"],
      ]),
    );
    for (const detail of details) expect(detail.message.length).toBeGreaterThan(0);
    expect(harness.upstream.calls).toHaveLength(0);
  });

  it("answers 400 CPHGW.4002 for a body that is not JSON", async () => {
    const harness = testApp();
    const response = await post(harness, "{not json");
    expect(response.status).toBe(400);
    expect((await json(response))["error_code"]).toBe("CPHGW.4002");
  });

  it("checks the ListJobs query and the job id", async () => {
    const harness = testApp();
    const tooMany = Array.from({ length: 21 }, (_, index) => `r${index}`).join(",");
    const response = await harness.app.request(
      `/v1/${PROJECT}/cloud-phone/jobs?request_ids=${tooMany}&limit=0&offset=x`,
      {
        headers: harness.bearer(),
      },
    );
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body["error_code"]).toBe("CPHGW.4003");
    expect(
      (body["details"] as Array<{ code: string; path: string }>).map((detail) => [detail.code, detail.path]),
    ).toEqual([
      ["request_ids_too_many", "request_ids"],
      ["offset_invalid", "offset"],
      ["limit_invalid", "limit"],
    ]);
    const missing = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs`, {
      headers: harness.bearer(),
    });
    expect((await json(missing))["details"]).toEqual([
      expect.objectContaining({ code: "request_ids_empty", path: "request_ids" }),
    ]);
    const single = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs?request_id=abc`, {
      headers: harness.bearer(),
    });
    expect(single.status).toBe(200);
    const job = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/bad%20id`, {
      headers: harness.bearer(),
    });
    expect(job.status).toBe(400);
    expect((await json(job))["error_code"]).toBe("CPHGW.4005");
    expect(harness.upstream.count("listJobs")).toBe(1);
    expect(harness.upstream.count("getJob")).toBe(0);
  });

  it("answers 413 over the body limit without reading further", async () => {
    const harness = testApp({ config: testConfig({ bodyLimitBytes: 1024 }) });
    const response = await post(harness, exportBody(3, { include_files: ["/data/" + "a".repeat(400)] }));
    expect(response.status).toBe(413);
    expect((await json(response))["error_code"]).toBe("CPHGW.4131");
    expect(harness.upstream.calls).toHaveLength(0);
  });

  it("answers 404 and 405 with gateway codes", async () => {
    const harness = testApp();
    const missing = await harness.app.request("/v2/nothing", { headers: harness.bearer() });
    expect(missing.status).toBe(404);
    expect((await json(missing))["error_code"]).toBe("CPHGW.4041");
    const wrongMethod = await harness.app.request(EXPORT_PATH, { headers: harness.bearer() });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect((await json(wrongMethod))["error_code"]).toBe("CPHGW.4051");
  });

  it("keeps a sane X-Request-Id and replaces another", async () => {
    const harness = testApp();
    const kept = await harness.app.request("/healthz", { headers: { "X-Request-Id": "trace-123.abc" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-123.abc");
    const replaced = await harness.app.request("/healthz", {
      headers: { "X-Request-Id": "bad id\u00e9<script>" },
    });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("secure headers", () => {
  it("are exactly hono's secureHeaders() defaults", async () => {
    const reference = new Hono();
    reference.use(secureHeaders());
    reference.get("/", (c) => c.body(null, 204));
    const answer = await reference.request("/");
    const expected = Object.fromEntries(
      Object.entries(SECURE_HEADERS).map(([name, value]) => [name.toLowerCase(), value]),
    );
    expect(Object.fromEntries(answer.headers)).toEqual(expected);
  });

  it("and the request id are on every kind of answer, the route's own headers kept", async () => {
    const harness = testApp();
    const trace = { "X-Request-Id": "trace-secure-1" };
    const answers = {
      exported: await post(harness, exportBody(1), trace),
      invalid: await post(harness, "{", trace),
      refused: await harness.app.request(EXPORT_PATH, { method: "POST", headers: trace, body: "{}" }),
      missing: await harness.app.request("/nothing", { headers: trace }),
      health: await harness.app.request("/healthz", { headers: trace }),
      docs: await harness.app.request(DOCS_ROUTES.page, { headers: trace }),
    };
    for (const [kind, answer] of Object.entries(answers)) {
      for (const [name, value] of Object.entries(SECURE_HEADERS)) {
        expect([kind, name, answer.headers.get(name)]).toEqual([kind, name, value]);
      }
      expect([kind, answer.headers.get("x-request-id")]).toEqual([kind, "trace-secure-1"]);
    }
    expect(answers.exported.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(answers.refused.status).toBe(401);
    expect(answers.refused.headers.get("www-authenticate")).toBe('Bearer realm="cph-gateway"');
    expect(answers.docs.headers.get("content-security-policy")).toContain("default-src");
  });
});

describe("request ids upstream", () => {
  it("sends the caller's X-Request-Id upstream with every route, and validated storage infos as such", async () => {
    const harness = testApp();
    const trace = { "X-Request-Id": "trace-77.up" };
    expect((await post(harness, exportBody(2), trace)).status).toBe(200);
    const job = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/job-1`, {
      headers: { ...harness.bearer(), ...trace },
    });
    expect(job.status).toBe(200);
    const list = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs?request_ids=r1`, {
      headers: { ...harness.bearer(), ...trace },
    });
    expect(list.status).toBe(200);
    expect(harness.upstream.calls.map((call) => [call.operation, call.options?.headers])).toEqual([
      ["batchExport", trace],
      ["getJob", trace],
      ["listJobs", trace],
    ]);
    expect(harness.upstream.calls[0]?.options?.signal).toBeInstanceOf(AbortSignal);
  });

  it("reads the headers Node parsed when @hono/node-server passes them, repeated ones joined", async () => {
    const harness = testApp();
    const path = `/v1/${PROJECT}/cloud-phone/jobs/job-1`;
    const incoming = (rawHeaders: string[]) => ({ incoming: { url: path, rawHeaders } });
    // Only the raw headers carry credentials and the id: the web Request has none.
    const read = await harness.app.request(
      path,
      {},
      incoming(["authorization", `Bearer ${TEAM_A_KEY}`, "X-REQUEST-ID", "raw-id-1"]),
    );
    expect(read.status).toBe(200);
    expect(read.headers.get("x-request-id")).toBe("raw-id-1");
    expect(harness.upstream.calls[0]?.options?.headers).toEqual({ "X-Request-Id": "raw-id-1" });
    const twice = await harness.app.request(
      path,
      {},
      incoming([
        "Authorization",
        `Bearer ${TEAM_A_KEY}`,
        "authorization",
        "Bearer other",
        "x-request-id",
        "a",
      ]),
    );
    expect(twice.status).toBe(401);
    expect((await json(twice))["error_code"]).toBe("CPHGW.4011");
    const none = await harness.app.request(path, {}, incoming(["X-Request-Id", "raw-id-2"]));
    expect(none.status).toBe(401);
    expect(none.headers.get("x-request-id")).toBe("raw-id-2");
    expect(harness.upstream.calls).toHaveLength(1);
  });

  it("sends the id it made when the caller sent none or an unusable one", async () => {
    const harness = testApp();
    const made = await post(harness, exportBody(1));
    const replaced = await post(harness, exportBody(1), { "X-Request-Id": "bad id<script>" });
    const sent = harness.upstream.calls.map((call) => call.options?.headers?.["X-Request-Id"]);
    expect(sent).toEqual([made.headers.get("x-request-id"), replaced.headers.get("x-request-id")]);
    expect(sent.every((id) => /^[0-9a-f-]{36}$/.test(id ?? ""))).toBe(true);
  });
});

describe("what goes upstream and comes back", () => {
  it("sends the body written anew from what it validated, so a field given twice means one thing", async () => {
    const harness = testApp();
    // JSON.parse keeps the last of two equal keys; a server reading the first would export to
    // team-b's bucket, which team-a may not use. The gateway sends only what it checked.
    const body =
      '{"storage_infos":[{"object_path":"team-a/p.tar","bucket_name":"team-b-backups","phone_id":"phone0001",' +
      '"include_files":["/data/media"],"bucket_name":"team-a-backups"}]}';
    expect((await post(harness, body)).status).toBe(200);
    const sent = new TextDecoder().decode(harness.upstream.calls[0]?.request?.body);
    expect(sent).toBe(
      '{"storage_infos":[{"phone_id":"phone0001","include_files":["/data/media"],' +
        '"bucket_name":"team-a-backups","object_path":"team-a/p.tar"}]}',
    );
    const refused = await post(harness, body.replace('"team-a-backups"}', '"team-b-backups"}'));
    expect(refused.status).toBe(403);
    expect(harness.upstream.calls).toHaveLength(1);
  });

  it("gives calls in flight signals of their own, reusing one only after a call that was not aborted", async () => {
    const harness = testApp();
    const signals = () => harness.upstream.calls.map((call) => call.options?.signal);
    // A controller is spare once the event loop turned after its call.
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    await post(harness, exportBody(1));
    await turn();
    await post(harness, exportBody(1));
    await turn();
    const [first, second] = signals();
    expect(second).toBe(first);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    harness.upstream.script.batchExport = async (argument) => {
      await gate;
      return { response: { jobs: (argument as Array<{ phone_id: string }>).map((info) => info) } };
    };
    const both = [post(harness, exportBody(1)), post(harness, exportBody(2))];
    await vi.waitFor(() => expect(harness.upstream.count("batchExport")).toBe(4));
    release();
    expect((await Promise.all(both)).map((response) => response.status)).toEqual([200, 200]);
    const [, , third, fourth] = signals();
    expect(third).not.toBe(fourth);
    expect([third, fourth]).toContain(first);
    expect(signals().every((signal) => signal?.aborted === false)).toBe(true);

    // A call the deadline aborted keeps its signal: the next call gets one that is not aborted.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    harness.upstream.script.batchExport = () => new Promise(() => {});
    const timedOut = post(harness, exportBody(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await timedOut).status).toBe(504);
    const aborted = signals().at(-1);
    expect(aborted?.aborted).toBe(true);
    delete harness.upstream.script.batchExport;
    await turn();
    expect((await post(harness, exportBody(1))).status).toBe(200);
    const next = signals().at(-1);
    expect(next).not.toBe(aborted);
    expect(next?.aborted).toBe(false);
  });

  it("passes CPH's answer text on as it came, fields it does not know included", async () => {
    const harness = testApp();
    const raw = '{"request_id":"up-1","jobs":[{"phone_id":"phone0000","job_id":"j-1","new_field":[1,2]}]}\n';
    harness.upstream.script.batchExport = async () => ({ bodyText: raw });
    const exported = await post(harness, exportBody(1));
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(await exported.text()).toBe(raw);
    const job = '{"job_id":"j1","status":2,"extension":{"a":"b"}}';
    harness.upstream.script.getJob = async () => ({ bodyText: job });
    const shown = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, {
      headers: harness.bearer(),
    });
    expect(await shown.text()).toBe(job);
  });

  it("answers 502 CPHGW.5023 for a 2xx that is not a JSON object, and keeps it for a duplicate", async () => {
    const harness = testApp();
    harness.upstream.script.batchExport = async () => ({ bodyText: "<html>maintenance</html>" });
    const first = await post(harness, exportBody(1), { "Idempotency-Key": "html-1" });
    expect(first.status).toBe(502);
    expect((await json(first))["error_code"]).toBe("CPHGW.5023");
    // The call reached CPH and may have been processed: a duplicate gets the same answer, not a resend.
    const again = await post(harness, exportBody(1), { "Idempotency-Key": "html-1" });
    expect(again.status).toBe(502);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(harness.upstream.count("batchExport")).toBe(1);
    for (const text of ["", "  ", "[]", '"{}"', "{", "}"]) {
      harness.upstream.script.getJob = async () => ({ bodyText: text });
      const shown = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, {
        headers: harness.bearer(),
      });
      expect(shown.status, JSON.stringify(text)).toBe(502);
    }
    harness.upstream.script.getJob = async () => ({ bodyText: " \r\n\t{}\n" });
    const spaced = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, {
      headers: harness.bearer(),
    });
    expect(spaced.status).toBe(200);
  });
});

describe("upstream answers", () => {
  it("passes a CPH error through with its status, code, request id and Retry-After", async () => {
    const harness = testApp();
    harness.upstream.script.batchExport = async () => {
      throw new CphApiError({
        status: 429,
        errorCode: "APIGW.0308",
        errorMessage: "throttled",
        requestId: "up-429",
        retryAfterMs: 2500,
      });
    };
    const response = await post(harness, exportBody(1));
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await json(response)).toEqual({
      error_code: "APIGW.0308",
      error_msg: "throttled",
      request_id: "up-429",
    });
    harness.upstream.script.getJob = async () => {
      throw new CphApiError({
        status: 400,
        errorCode: "CPS.0005",
        errorMessage: "phone not found",
        requestId: "up-400",
      });
    };
    const job = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, {
      headers: harness.bearer(),
    });
    expect(job.status).toBe(400);
    expect((await json(job))["error_code"]).toBe("CPS.0005");
  });

  it("says plainly when CPH refuses the gateway's own credentials, and does not store that answer", async () => {
    const harness = testApp();
    let calls = 0;
    harness.upstream.script.batchExport = async () => {
      calls++;
      throw new CphAuthError({
        status: 401,
        errorCode: "APIGW.0303",
        errorMessage: "X-Sdk-Date expired",
        requestId: "up-401",
      });
    };
    const first = await post(harness, exportBody(1), { "Idempotency-Key": "auth-1" });
    expect(first.status).toBe(401);
    const body = await json(first);
    expect(body["error_code"]).toBe("APIGW.0303");
    expect(body["error_msg"]).toMatch(
      /gateway's own upstream credentials, not the caller's \(X-Sdk-Date expired\)/,
    );
    const second = await post(harness, exportBody(1), { "Idempotency-Key": "auth-1" });
    expect(second.status).toBe(401);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(calls).toBe(2);
  });

  it("answers 502 when the upstream cannot be reached and 504 when it misses the deadline", async () => {
    const harness = testApp();
    harness.upstream.script.batchExport = async () => {
      throw new CphNetworkError("connect ECONNREFUSED", { phase: "connect" });
    };
    const unreachable = await post(harness, exportBody(1));
    expect(unreachable.status).toBe(502);
    expect((await json(unreachable))["error_code"]).toBe("CPHGW.5021");
    const warning = harness.lines
      .map((line) => JSON.parse(line))
      .find((entry) => entry.msg === "upstream call failed");
    expect(warning).toMatchObject({
      level: "warn",
      operation: "batch_export",
      error: "connect ECONNREFUSED",
      request_id: unreachable.headers.get("x-request-id"),
    });

    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let aborted: unknown;
    harness.upstream.script.batchExport = (_, signal) =>
      new Promise((_, reject) => {
        signal?.addEventListener("abort", () => {
          aborted = signal.reason;
          reject(new Error("aborted by the gateway"));
        });
      });
    const pending = post(harness, exportBody(1));
    await vi.advanceTimersByTimeAsync(1000);
    const timedOut = await pending;
    expect(timedOut.status).toBe(504);
    expect((await json(timedOut))["error_code"]).toBe("CPHGW.5041");
    expect(aborted).toBeDefined();
  });

  it("answers 504 even when the upstream ignores the abort", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const harness = testApp();
    harness.upstream.script.getJob = () => new Promise(() => {});
    const pending = harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, { headers: harness.bearer() });
    await vi.advanceTimersByTimeAsync(1000);
    expect((await pending).status).toBe(504);
  });

  it("answers 500 CPHGW.5001 for a bug, without its message in the body", async () => {
    const harness = testApp();
    harness.upstream.script.getJob = async () => {
      throw new TypeError("internal detail");
    };
    const response = await harness.app.request(`/v1/${PROJECT}/cloud-phone/jobs/j1`, {
      headers: harness.bearer(),
    });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).toContain("CPHGW.5001");
    expect(text).not.toContain("internal detail");
  });
});

describe("idempotency", () => {
  it("replays the first answer for the same key and body, and marks it", async () => {
    const harness = testApp();
    const first = await post(harness, exportBody(2), { "Idempotency-Key": '"key-1"' });
    const second = await post(harness, exportBody(2), { "Idempotency-Key": "key-1" });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.text()).toBe(await first.text());
    expect(harness.upstream.count("batchExport")).toBe(1);
    expect(await harness.metrics.render()).toContain('cph_gateway_idempotency_total{outcome="replayed"} 1');
  });

  it("refuses the same key with another body (422) and scopes keys per caller", async () => {
    const harness = testApp();
    await post(harness, exportBody(1), { "Idempotency-Key": "key-2" });
    const conflict = await post(harness, exportBody(2), { "Idempotency-Key": "key-2" });
    expect(conflict.status).toBe(422);
    expect((await json(conflict))["error_code"]).toBe("CPHGW.4221");
    const body = exportBody(1, { bucket_name: "team-b-backups" });
    const request = await signed("POST", EXPORT_PATH, body);
    const otherCaller = await harness.app.request(EXPORT_PATH, {
      ...request,
      headers: { ...request.headers, "Idempotency-Key": "key-2" },
    });
    expect(otherCaller.status).toBe(200);
    expect(otherCaller.headers.get("idempotent-replayed")).toBeNull();
    expect(harness.upstream.count("batchExport")).toBe(2);
  });

  it("refuses a duplicate while the first is in flight (409), then replays", async () => {
    const harness = testApp();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const original = harness.upstream.script.batchExport;
    harness.upstream.script.batchExport = async (argument) => {
      await gate;
      return {
        requestId: "slow",
        response: {
          request_id: "slow",
          jobs: (argument as Array<{ phone_id: string }>).map((info) => ({
            phone_id: info.phone_id,
            job_id: "j",
          })),
        },
        phones: [],
      };
    };
    const first = post(harness, exportBody(1), { "Idempotency-Key": "key-3" });
    await vi.waitFor(() => expect(harness.upstream.count("batchExport")).toBe(1));
    const duplicate = await post(harness, exportBody(1), { "Idempotency-Key": "key-3" });
    expect(duplicate.status).toBe(409);
    expect((await json(duplicate))["error_code"]).toBe("CPHGW.4091");
    release();
    expect((await first).status).toBe(200);
    if (original) harness.upstream.script.batchExport = original;
    else delete harness.upstream.script.batchExport;
    const replay = await post(harness, exportBody(1), { "Idempotency-Key": "key-3" });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(harness.upstream.count("batchExport")).toBe(1);
  });

  it("lets a retry through after throttling or an unreachable upstream, but replays an unknown outcome", async () => {
    const harness = testApp();
    harness.upstream.script.batchExport = async () => {
      throw new CphApiError({ status: 429, errorCode: "APIGW.0308", errorMessage: "throttled" });
    };
    expect((await post(harness, exportBody(1), { "Idempotency-Key": "key-4" })).status).toBe(429);
    harness.upstream.script.batchExport = async () => {
      throw new CphNetworkError("refused", { phase: "connect" });
    };
    expect((await post(harness, exportBody(1), { "Idempotency-Key": "key-4" })).status).toBe(502);
    harness.upstream.script.batchExport = async () => {
      throw new CphNetworkError("socket hang up", { phase: "response" });
    };
    expect((await post(harness, exportBody(1), { "Idempotency-Key": "key-4" })).status).toBe(502);
    delete harness.upstream.script.batchExport;
    const replay = await post(harness, exportBody(1), { "Idempotency-Key": "key-4" });
    expect(replay.status).toBe(502);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await json(replay))["error_code"]).toBe("CPHGW.5022");
    expect(harness.upstream.count("batchExport")).toBe(3);
  });

  it("forgets a key after its time to live", async () => {
    let time = 0;
    const harness = testApp({ now: () => time });
    await post(harness, exportBody(1), { "Idempotency-Key": "key-5" });
    time += 24 * 60 * 60 * 1000 - 1;
    expect(
      (await post(harness, exportBody(1), { "Idempotency-Key": "key-5" })).headers.get("idempotent-replayed"),
    ).toBe("true");
    time += 1;
    expect(
      (await post(harness, exportBody(1), { "Idempotency-Key": "key-5" })).headers.get("idempotent-replayed"),
    ).toBeNull();
    expect(harness.upstream.count("batchExport")).toBe(2);
  });

  it("refuses a malformed key", async () => {
    const harness = testApp();
    const response = await post(harness, exportBody(1), { "Idempotency-Key": "" });
    expect(response.status).toBe(400);
    expect((await json(response))["error_code"]).toBe("CPHGW.4004");
    expect(harness.upstream.calls).toHaveLength(0);
  });
});

describe("operations routes", () => {
  it("reports health, readiness and shutdown", async () => {
    const lifecycle = { shuttingDown: false };
    const harness = testApp({ lifecycle });
    expect((await harness.app.request("/healthz")).status).toBe(200);
    const ready = await harness.app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({ status: "ready", checks: { upstream: "ok", memory: "ok" } });
    harness.upstream.script.authenticate = async () => {
      throw new CphApiError({ status: 401, errorCode: "APIGW.0301", errorMessage: "bad password" });
    };
    const notReady = await harness.app.request("/readyz");
    expect(notReady.status).toBe(503);
    expect(await json(notReady)).toMatchObject({ checks: { upstream: "failed: APIGW.0301" } });
    delete harness.upstream.script.authenticate;
    lifecycle.shuttingDown = true;
    const stopping = await harness.app.request("/readyz");
    expect(stopping.status).toBe(503);
    expect(stopping.headers.get("connection")).toBe("close");
  });

  it("exposes Prometheus metrics for requests, upstream latency, idempotency and refusals", async () => {
    const harness = testApp();
    await post(harness, exportBody(1), { "Idempotency-Key": "m1" });
    await post(harness, exportBody(1), { "Idempotency-Key": "m1" });
    await post(harness, exportBody(1, { bucket_name: "nope-bucket" }));
    const text = await (await harness.app.request("/metrics")).text();
    expect(text).toContain(
      'cph_gateway_requests_total{method="POST",route="/v1/{project_id}/cloud-phone/phones/batch-storage",status="200"} 2',
    );
    expect(text).toContain(
      'cph_gateway_requests_total{method="POST",route="/v1/{project_id}/cloud-phone/phones/batch-storage",status="403"} 1',
    );
    expect(text).toContain(
      'cph_gateway_upstream_duration_seconds_count{operation="batch_export",outcome="ok"} 1',
    );
    expect(text).toContain(
      'cph_gateway_upstream_duration_seconds_bucket{le="+Inf",operation="batch_export",outcome="ok"} 1',
    );
    expect(text).toContain('cph_gateway_idempotency_total{outcome="claimed"} 1');
    expect(text).toContain('cph_gateway_refusals_total{caller="team-a",code="CPHGW.4032"} 1');
    expect(text).toMatch(/cph_gateway_in_flight_requests 1\n$/);
  });

  it("documents exactly the routes the app serves (the document cannot drift from the routes)", async () => {
    const harness = testApp();
    const document = await json(await harness.app.request("/openapi.json"));
    const documented = Object.entries(document["paths"] as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const undocumented = new Set<string>([
      ...Object.values(DOCS_ROUTES),
      "/openapi.json",
      CAMPAIGN_PAGE_ROUTES.script,
      CAMPAIGN_PAGE_ROUTES.style,
    ]);
    const served = [
      ...new Set(
        harness.app.routes
          .filter((route) => route.method === "GET" || route.method === "POST")
          .map((route) => route.path.replace(/:([a-z_]+)/g, "{$1}"))
          .flatMap((path) => (undocumented.has(path) ? [] : [path]))
          .flatMap((path) => {
            const methods = harness.app.routes.filter(
              (route) => route.path.replace(/:([a-z_]+)/g, "{$1}") === path && route.method !== "ALL",
            );
            return methods.map((route) => `${route.method} ${path}`);
          }),
      ),
    ].sort();
    expect(served).toEqual(documented);
  });

  it("serves an OpenAPI document generated from the schemas", async () => {
    const harness = testApp();
    const document = await json(await harness.app.request("/openapi.json"));
    expect(document["openapi"]).toBe("3.1.0");
    const paths = document["paths"] as Record<string, unknown>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(Object.values(ROUTES)));
    const schemas = (
      document["components"] as { schemas: Record<string, { properties?: Record<string, unknown> }> }
    ).schemas;
    expect(Object.keys(schemas["BatchExportRequest"]?.properties ?? {})).toEqual(["storage_infos"]);
    expect(Object.keys(schemas["GatewayError"]?.properties ?? {})).toEqual([
      "error_code",
      "error_msg",
      "request_id",
      "details",
    ]);
    expect(Object.keys(document["x-cphgw-error-codes"] as object)).toContain("CPHGW.4221");
  });
});
