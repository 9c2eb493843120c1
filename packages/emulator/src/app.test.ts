import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  buildBatchExportRequest,
  buildListJobsRequest,
  buildShowJobRequest,
  parseBatchExportResponse,
  parseErrorBody,
  signRequest,
  toCphError,
  type HttpRequest,
} from "@cph-export/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { EmulatorApp } from "./app.js";
import { DEMO_CREDENTIALS } from "./config.js";
import {
  BASE,
  createHarness,
  demoToken,
  EXPORT_PATH,
  eventually,
  exportWithToken,
  JOBS_PATH,
  PROJECT,
  storageInfo,
} from "./test-support/fixtures.js";

const harness = createHarness();
afterEach(() => harness.cleanup());

const OTHER_PROJECT = "fedcba9876543210fedcba9876543210";
const TWO_PROJECTS = {
  projects: [
    { id: PROJECT, name: "cn-north-4" },
    { id: OTHER_PROJECT, name: "cn-east-3" },
  ],
  accessKeys: [
    { accessKey: "NORTHONLYKEY", secretKey: "north-only-secret", projects: [PROJECT] },
    { accessKey: "TEMPKEY", secretKey: "temp-secret", securityToken: "temp-security-token" },
  ],
};

async function send(app: EmulatorApp, request: HttpRequest): Promise<Response> {
  const init: RequestInit = { method: request.method, headers: request.headers };
  if (request.body) init.body = request.body;
  return app.request(request.url, init);
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

const signDemo = (request: HttpRequest, date?: Date) =>
  signRequest(request, {
    accessKey: DEMO_CREDENTIALS.accessKey,
    secretKey: DEMO_CREDENTIALS.secretKey,
    projectId: PROJECT,
    ...(date ? { date } : {}),
  });

describe("IAM tokens", () => {
  it("issues a token for the demo user scoped by project id or name, with expires_at after the TTL", async () => {
    const now = new Date("2025-03-01T10:00:00Z");
    const app = await harness.app({ clock: () => now, config: { tokenTtlSeconds: 3600 } });
    const response = await app.request(`${BASE}/v3/auth/tokens`, {
      method: "POST",
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ["password"],
            password: {
              user: { domain: { name: "demo-account" }, name: "demo-user", password: "demo-password-0001" },
            },
          },
          scope: { project: { name: "cn-north-4" } },
        },
      }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-subject-token")).toMatch(/^MII/);
    const body = (await response.json()) as { token: Record<string, unknown> };
    expect(body.token).toMatchObject({
      expires_at: "2025-03-01T11:00:00.000Z",
      issued_at: "2025-03-01T10:00:00.000Z",
      methods: ["password"],
      project: { id: PROJECT, name: "cn-north-4" },
      user: { name: "demo-user", domain: { name: "demo-account" } },
    });
    await expect(demoToken(app, { id: PROJECT })).resolves.toMatch(/^MII/);
  });

  it("refuses a wrong password with 401 in the IAM (Keystone) shape", async () => {
    const app = await harness.app();
    const response = await app.request(`${BASE}/v3/auth/tokens`, {
      method: "POST",
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ["password"],
            password: { user: { domain: { name: "demo-account" }, name: "demo-user", password: "nope" } },
          },
          scope: { project: { id: PROJECT } },
        },
      }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("x-subject-token")).toBeNull();
    expect(await response.json()).toEqual({
      error: { code: 401, message: "The username or password is wrong.", title: "Unauthorized" },
    });
  });

  it("refuses a project the user cannot scope to, and a malformed body", async () => {
    const app = await harness.app({
      config: {
        ...TWO_PROJECTS,
        users: [{ domain: "acme", name: "ops", password: "pw-ops-1", projects: [PROJECT] }],
      },
    });
    const auth = (project: object) =>
      JSON.stringify({
        auth: {
          identity: {
            methods: ["password"],
            password: { user: { domain: { name: "acme" }, name: "ops", password: "pw-ops-1" } },
          },
          scope: { project },
        },
      });
    const denied = await app.request(`${BASE}/v3/auth/tokens`, {
      method: "POST",
      body: auth({ id: OTHER_PROJECT }),
    });
    expect(denied.status).toBe(401);
    const allowed = await app.request(`${BASE}/v3/auth/tokens`, {
      method: "POST",
      body: auth({ id: PROJECT }),
    });
    expect(allowed.status).toBe(201);
    const malformed = await app.request(`${BASE}/v3/auth/tokens`, { method: "POST", body: '{"auth":{}}' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toContain(
      "auth.identity",
    );
  });

  it("a token expires after tokenTtlSeconds on the emulator's clock", async () => {
    let now = new Date("2025-03-01T10:00:00Z");
    const app = await harness.app({ clock: () => now, config: { tokenTtlSeconds: 60 } });
    const token = await demoToken(app);
    const list = () =>
      app.request(`${BASE}${JOBS_PATH}?request_id=abc`, { headers: { "X-Auth-Token": token } });
    expect((await list()).status).toBe(200);
    now = new Date("2025-03-01T10:01:00Z");
    const expired = await list();
    expect(expired.status).toBe(401);
    expect(await json(expired)).toMatchObject({
      error_code: "APIGW.0301",
      error_msg: expect.stringContaining("expired"),
    });
  });
});

describe("authentication of CPH calls", () => {
  it("answers 401 APIGW.0301 without credentials or with an unknown token, with X-Request-Id in header and body", async () => {
    const app = await harness.app();
    for (const headers of [{}, { "X-Auth-Token": "MIIforged" }]) {
      const response = await app.request(`${BASE}${JOBS_PATH}?request_id=a`, { headers });
      expect(response.status).toBe(401);
      const body = await json(response);
      expect(body["error_code"]).toBe("APIGW.0301");
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f]{32}$/);
      expect(body["request_id"]).toBe(response.headers.get("x-request-id"));
    }
  });

  it("refuses a token of another project with 403 APIGW.0302", async () => {
    const app = await harness.app({ config: TWO_PROJECTS });
    const token = await demoToken(app, { id: OTHER_PROJECT });
    const response = await app.request(`${BASE}${JOBS_PATH}?request_id=a`, {
      headers: { "X-Auth-Token": token },
    });
    expect(response.status).toBe(403);
    expect((await json(response))["error_code"]).toBe("APIGW.0302");
  });

  it("accepts a request signed with the demo AK/SK by core's signRequest", async () => {
    const app = await harness.app();
    const request = buildBatchExportRequest({
      endpoint: BASE,
      projectId: PROJECT,
      storageInfos: [storageInfo("phone-a")],
    });
    const response = await send(app, await signDemo(request));
    expect(response.status).toBe(200);
    const parsed = parseBatchExportResponse({ status: 200, headers: {}, bodyText: await response.text() });
    expect(parsed.jobs?.[0]).toMatchObject({
      phone_id: "phone-a",
      job_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it("refuses a tampered body, a tampered signed header and an unknown key with APIGW.0301", async () => {
    const app = await harness.app();
    const request = buildBatchExportRequest({
      endpoint: BASE,
      projectId: PROJECT,
      storageInfos: [storageInfo("phone-a")],
    });
    const signed = await signDemo(request);
    const tamperedBody = new TextEncoder().encode(
      new TextDecoder().decode(signed.body).replace("phone-a", "phone-b"),
    );
    const tamperedHeader = { ...signed.headers, "X-Project-Id": OTHER_PROJECT.replace("f", "e") };
    const unknownKey = {
      ...signed.headers,
      Authorization: signed.headers["Authorization"]!.replace(DEMO_CREDENTIALS.accessKey, "NOSUCHKEY"),
    };
    for (const attempt of [
      { ...signed, body: tamperedBody },
      { ...signed, headers: tamperedHeader },
      { ...signed, headers: unknownKey },
    ]) {
      const response = await send(app, attempt);
      expect(response.status).toBe(401);
      expect((await json(response))["error_code"]).toBe("APIGW.0301");
    }
  });

  it("refuses a signature dated more than 15 minutes from the server clock with APIGW.0303", async () => {
    const now = new Date("2025-06-01T12:00:00Z");
    const app = await harness.app({ clock: () => now });
    const request = buildShowJobRequest({ endpoint: BASE, projectId: PROJECT, jobId: "0".repeat(32) });
    const old = await send(app, await signDemo(request, new Date("2025-06-01T11:44:59Z")));
    expect(old.status).toBe(401);
    expect((await json(old))["error_code"]).toBe("APIGW.0303");
    const recent = await send(app, await signDemo(request, new Date("2025-06-01T11:45:30Z")));
    expect(recent.status).toBe(404);
  });

  it("checks the project a key may call and the X-Project-Id it signs", async () => {
    const app = await harness.app({ config: TWO_PROJECTS });
    const north = (projectId: string) =>
      buildListJobsRequest({ endpoint: BASE, projectId, requestIds: ["r"] });
    const sign = (request: HttpRequest, projectId: string) =>
      signRequest(request, { accessKey: "NORTHONLYKEY", secretKey: "north-only-secret", projectId });
    expect((await send(app, await sign(north(PROJECT), PROJECT))).status).toBe(200);
    const other = await send(app, await sign(north(OTHER_PROJECT), OTHER_PROJECT));
    expect(other.status).toBe(403);
    expect((await json(other))["error_code"]).toBe("APIGW.0302");
    const mismatch = await send(app, await sign(north(PROJECT), OTHER_PROJECT));
    expect(mismatch.status).toBe(403);
  });

  it("requires the signed security token of a temporary key", async () => {
    const app = await harness.app({ config: TWO_PROJECTS });
    const request = buildListJobsRequest({ endpoint: BASE, projectId: PROJECT, requestIds: ["r"] });
    const withToken = await signRequest(request, {
      accessKey: "TEMPKEY",
      secretKey: "temp-secret",
      securityToken: "temp-security-token",
    });
    expect((await send(app, withToken)).status).toBe(200);
    const without = await signRequest(request, { accessKey: "TEMPKEY", secretKey: "temp-secret" });
    const refused = await send(app, without);
    expect(refused.status).toBe(401);
    expect((await json(refused))["error_code"]).toBe("APIGW.0301");
  });

  describe("official signing vectors at their date", () => {
    interface Vector {
      name: string;
      ak: string;
      sk: string;
      method: string;
      path: string;
      headers: Record<string, string>;
      body: string;
      expectedAuthorization: string;
    }
    const file = fileURLToPath(new URL("../../core/src/test-support/signing-vectors.json", import.meta.url));
    const vectors = (JSON.parse(readFileSync(file, "utf8")) as { vectors: Vector[] }).vectors.filter(
      (vector) => ["cph-export-host-date", "cph-export-project-header"].includes(vector.name),
    );

    it.each(vectors.map((vector) => [vector.name, vector] as const))(
      "%s is accepted",
      async (_name, vector) => {
        expect(vector).toBeDefined();
        const app = await harness.app({
          clock: () => new Date("2024-01-01T00:05:00Z"),
          config: { accessKeys: [{ accessKey: vector.ak, secretKey: vector.sk }] },
        });
        const response = await app.request(`http://${vector.headers["Host"]}${vector.path}`, {
          method: vector.method,
          headers: { ...vector.headers, Authorization: vector.expectedAuthorization },
          body: vector.body,
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { jobs: Array<{ phone_id: string; job_id?: string }> };
        expect(body.jobs).toEqual([
          { phone_id: "1234567b8bab40ffb711234cb80d0234", job_id: expect.stringMatching(/^[0-9a-f]{32}$/) },
        ]);
        const tampered = await app.request(`http://${vector.headers["Host"]}${vector.path}`, {
          method: vector.method,
          headers: { ...vector.headers, Authorization: vector.expectedAuthorization },
          body: vector.body.replace("mybucket", "yourbucket"),
        });
        expect(tampered.status).toBe(401);
      },
    );

    it("found both vectors", () => expect(vectors).toHaveLength(2));
  });
});

describe("batch-storage", () => {
  it("answers validation failures with 400, a CPH body, a code per case and every issue with its path", async () => {
    const app = await harness.app();
    const token = await demoToken(app);
    const empty = await exportWithToken(app, token, []);
    expect(empty.status).toBe(400);
    expect(await json(empty)).toMatchObject({
      error_code: "CPS.0009",
      details: [{ code: "storage_infos_empty", path: "storage_infos", message: expect.any(String) }],
    });
    const badPhone = await exportWithToken(app, token, [storageInfo("bad phone!", { object_path: "p.tar" })]);
    expect(await json(badPhone)).toMatchObject({
      error_code: "CPS.0004",
      details: [{ code: "phone_id_charset", path: "storage_infos[0].phone_id" }],
    });
    const many = await exportWithToken(app, token, [
      storageInfo("p1", { include_files: ["/data/../system"], exclude_files: ["relative"] }),
      storageInfo("p2", { bucket_name: "Bad_Bucket" }),
    ]);
    const body = (await json(many)) as {
      error_code: string;
      error_msg: string;
      details: Array<{ code: string; path: string }>;
    };
    expect(many.status).toBe(400);
    expect(body.error_code).toBe("CPH.INVALID_PARAMETER");
    expect(body.details.map((issue) => [issue.code, issue.path])).toEqual(
      expect.arrayContaining([
        ["path_dot_segment", "storage_infos[0].include_files[0]"],
        ["path_not_absolute", "storage_infos[0].exclude_files[0]"],
        ["bucket_charset", "storage_infos[1].bucket_name"],
      ]),
    );
    expect(body.error_msg).toContain("storage_infos[0].include_files[0]");
    // The client-side parser reads the body as an API error with the same code.
    expect(parseErrorBody(400, JSON.stringify(body)).errorCode).toBe("CPH.INVALID_PARAMETER");
  });

  it("refuses more phones than maxPhonesPerRequest, a body that is not JSON, and a body over 12 MB", async () => {
    const app = await harness.app({ config: { maxPhonesPerRequest: 2 } });
    const token = await demoToken(app);
    const three = await exportWithToken(app, token, [storageInfo("a"), storageInfo("b"), storageInfo("c")]);
    expect(await json(three)).toMatchObject({
      error_code: "CPH.INVALID_PARAMETER",
      details: [{ code: "storage_infos_too_many" }],
    });
    const notJson = await app.request(`${BASE}${EXPORT_PATH}`, {
      method: "POST",
      headers: { "X-Auth-Token": token },
      body: "{nope",
    });
    expect(notJson.status).toBe(400);
    expect((await json(notJson))["error_code"]).toBe("CPH.INVALID_PARAMETER");
    const big = await app.request(`${BASE}${EXPORT_PATH}`, {
      method: "POST",
      headers: { "X-Auth-Token": token },
      body: new Uint8Array(12 * 1024 * 1024 + 1),
    });
    expect(big.status).toBe(413);
    expect((await json(big))["error_code"]).toBe("APIGW.0201");
  });

  it("answers missing and unavailable phones inside the 200 and gives the others jobs", async () => {
    const app = await harness.app({ config: { phones: { missing: ["gone"], unavailable: ["restricted"] } } });
    const token = await demoToken(app);
    const response = await exportWithToken(app, token, [
      storageInfo("ok-1"),
      storageInfo("gone"),
      storageInfo("restricted"),
    ]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { request_id: string; jobs: Array<Record<string, string>> };
    expect(body.request_id).toBe(response.headers.get("x-request-id"));
    expect(body.jobs[0]).toEqual({ phone_id: "ok-1", job_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(body.jobs[1]).toEqual({
      phone_id: "gone",
      error_code: "CPS.0005",
      error_msg: expect.stringContaining("gone"),
    });
    expect(body.jobs[2]).toEqual({
      phone_id: "restricted",
      error_code: "CPS.0006",
      error_msg: expect.any(String),
    });
    const ledger = (await (await app.request("/__emulator/ledger")).json()) as {
      entries: Array<{ phone_id: string }>;
    };
    expect(ledger.entries.map((entry) => entry.phone_id)).toEqual(["ok-1"]);
  });
});

describe("jobs", () => {
  it("run for jobDurationMs, then succeed (status 2, null errors) or fail with the configured code", async () => {
    const now = new Date("2025-05-05T05:05:05.500Z");
    const app = await harness.app({
      clock: () => now,
      config: { jobDurationMs: 30, phones: { failing: { "bad-disk": "CPS.0010" } } },
    });
    const token = await demoToken(app);
    const response = await exportWithToken(app, token, [storageInfo("good"), storageInfo("bad-disk")]);
    const { jobs } = (await response.json()) as { jobs: Array<{ job_id: string }> };
    const show = async (jobId: string) =>
      (await (
        await app.request(`${BASE}${JOBS_PATH}/${jobId}`, { headers: { "X-Auth-Token": token } })
      ).json()) as Record<string, unknown>;
    const first = await show(jobs[0]!.job_id);
    expect(first).toMatchObject({
      status: 1,
      begin_time: "2025-05-05T05:05:05Z",
      end_time: null,
      phone_id: "good",
    });
    const done = await eventually(async () => {
      const job = await show(jobs[0]!.job_id);
      return job["status"] === 1 ? undefined : job;
    });
    expect(done).toEqual({
      job_id: jobs[0]!.job_id,
      phone_id: "good",
      server_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      request_id: response.headers.get("x-request-id"),
      begin_time: "2025-05-05T05:05:05Z",
      end_time: "2025-05-05T05:05:05Z",
      status: 2,
      error_code: null,
      error_msg: null,
      execute_msg: expect.stringContaining("backups/phones/good.tar"),
    });
    const failed = await eventually(async () => {
      const job = await show(jobs[1]!.job_id);
      return job["status"] === 1 ? undefined : job;
    });
    expect(failed).toMatchObject({
      status: -1,
      error_code: "CPS.0010",
      error_msg: expect.stringContaining("bad-disk"),
    });
    const ledger = (await (await app.request("/__emulator/ledger")).json()) as {
      entries: Array<{ outcome: string }>;
    };
    expect(ledger.entries.map((entry) => entry.outcome)).toEqual(["succeeded", "failed"]);
  });

  it("ShowJob answers 404 for a job of another project or no job", async () => {
    const app = await harness.app({ config: TWO_PROJECTS });
    const token = await demoToken(app);
    const { jobs } = (await (await exportWithToken(app, token, [storageInfo("p")])).json()) as {
      jobs: Array<{ job_id: string }>;
    };
    const otherToken = await demoToken(app, { id: OTHER_PROJECT });
    const other = await app.request(`${BASE}/v1/${OTHER_PROJECT}/cloud-phone/jobs/${jobs[0]!.job_id}`, {
      headers: { "X-Auth-Token": otherToken },
    });
    expect(other.status).toBe(404);
    expect((await json(other))["error_code"]).toBe("CPH.JOB_NOT_FOUND");
  });

  it("ListJobs takes request_id or request_ids (which wins), pages with offset and limit, and checks them", async () => {
    const app = await harness.app({ config: { jobDurationMs: 60_000 } });
    const token = await demoToken(app);
    const requestIds: string[] = [];
    for (const batch of [
      ["a1", "a2", "a3"],
      ["b1", "b2"],
    ]) {
      const response = await exportWithToken(
        app,
        token,
        batch.map((id) => storageInfo(id)),
      );
      requestIds.push(response.headers.get("x-request-id")!);
    }
    const list = async (query: string) =>
      app.request(`${BASE}${JOBS_PATH}?${query}`, { headers: { "X-Auth-Token": token } });
    const phones = async (query: string) => {
      const body = (await (await list(query)).json()) as {
        count: number;
        jobs: Array<{ phone_id: string; request_id: string }>;
      };
      return { count: body.count, phones: body.jobs.map((job) => job.phone_id) };
    };
    expect(await phones(`request_id=${requestIds[1]}`)).toEqual({ count: 2, phones: ["b1", "b2"] });
    expect(await phones(`request_ids=${requestIds[0]},${requestIds[1]}`)).toEqual({
      count: 5,
      phones: ["a1", "a2", "a3", "b1", "b2"],
    });
    expect(await phones(`request_id=${requestIds[1]}&request_ids=${requestIds[0]}`)).toEqual({
      count: 3,
      phones: ["a1", "a2", "a3"],
    });
    expect(await phones(`request_ids=${requestIds.join(",")}&offset=1&limit=2`)).toEqual({
      count: 5,
      phones: ["a2", "a3"],
    });
    for (const bad of ["offset=-1", "limit=0", "limit=101", "offset=x", "limit=1.5"]) {
      const response = await list(`request_id=${requestIds[0]}&${bad}`);
      expect(response.status, bad).toBe(400);
      expect((await json(response))["error_code"], bad).toBe("CPS.0002");
    }
    const tooMany = await list(
      `request_ids=${Array.from({ length: 21 }, (_, index) => `r${index}`).join(",")}`,
    );
    expect(tooMany.status).toBe(400);
    expect((await list("")).status).toBe(400);
    const twenty = await list(
      `request_ids=${Array.from({ length: 20 }, (_, index) => `r${index}`).join(",")}`,
    );
    expect(twenty.status).toBe(200);
  });
});

describe("faults and control routes", () => {
  it("throttles above throttleRps per API with 429 APIGW.0308 and Retry-After, on the emulator's clock", async () => {
    let nowMs = Date.parse("2025-01-01T00:00:00Z");
    const app = await harness.app({ clock: () => new Date(nowMs), config: { faults: { throttleRps: 2 } } });
    const token = await demoToken(app);
    const list = () =>
      app.request(`${BASE}${JOBS_PATH}?request_id=r`, { headers: { "X-Auth-Token": token } });
    expect((await list()).status).toBe(200);
    nowMs += 400;
    expect((await list()).status).toBe(200);
    const throttled = await list();
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("1");
    expect(
      toCphError({ status: 429, headers: { "retry-after": "1" }, bodyText: await throttled.text() }),
    ).toMatchObject({
      errorCode: "APIGW.0308",
      retryAfterMs: 1000,
    });
    // Another API has its own budget.
    const show = await app.request(`${BASE}${JOBS_PATH}/x`, { headers: { "X-Auth-Token": token } });
    expect(show.status).toBe(404);
    nowMs += 601;
    expect((await list()).status).toBe(200);
    const stats = (await (await app.request("/__emulator/stats")).json()) as Record<string, number>;
    expect(stats).toMatchObject({ throttled: 1 });
  });

  it("errorRate answers 503 APIGW.0201 before processing: no job, no ledger entry", async () => {
    const app = await harness.app();
    const token = await demoToken(app);
    const set = await app.request("/__emulator/faults", {
      method: "POST",
      body: JSON.stringify({ errorRate: 1 }),
    });
    expect(await set.json()).toEqual({ faults: { errorRate: 1 } });
    const response = await exportWithToken(app, token, [storageInfo("p")]);
    expect(response.status).toBe(503);
    expect((await json(response))["error_code"]).toBe("APIGW.0201");
    expect(await (await app.request("/__emulator/ledger")).json()).toEqual({ entries: [] });
    expect(await (await app.request("/__emulator/stats")).json()).toMatchObject({ errors: 1 });
  });

  it("dropRate creates and records the jobs; in-process the lost answer is a 504", async () => {
    const app = await harness.app({ config: { faults: { dropRate: 1 } } });
    const token = await demoToken(app);
    const response = await exportWithToken(app, token, [storageInfo("p1"), storageInfo("p2")]);
    expect(response.status).toBe(504);
    const ledger = (await (await app.request("/__emulator/ledger")).json()) as {
      entries: Array<Record<string, unknown>>;
    };
    expect(ledger.entries).toEqual([
      expect.objectContaining({ phone_id: "p1", dropped: true, outcome: "running" }),
      expect.objectContaining({ phone_id: "p2", dropped: true }),
    ]);
    expect(await (await app.request("/__emulator/stats")).json()).toMatchObject({
      drops: 1,
      droppedPhones: 2,
    });
  });

  it("draws errors from the seeded generator: the same seed gives the same answers", async () => {
    const run = async () => {
      const app = await harness.app({ config: { faults: { errorRate: 0.5, seed: 42 } } });
      const token = await demoToken(app);
      const statuses: number[] = [];
      for (let index = 0; index < 12; index++)
        statuses.push((await exportWithToken(app, token, [storageInfo(`p${index}`)])).status);
      return statuses;
    };
    const first = await run();
    expect(first).toEqual(await run());
    expect(first).toContain(200);
    expect(first).toContain(503);
  });

  it("adds latencyMs before answering", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      const app = await harness.app({ config: { faults: { latencyMs: 40 } } });
      let answered = false;
      const pending = Promise.resolve(app.request(`${BASE}${JOBS_PATH}?request_id=r`)).then((response) => {
        answered = true;
        return response;
      });
      await vi.advanceTimersByTimeAsync(39);
      expect(answered).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(answered).toBe(true);
      expect((await pending).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
  });

  it("validates faults, resets state, lists a phone's files, and can be disabled", async () => {
    const app = await harness.app();
    const bad = await app.request("/__emulator/faults", {
      method: "POST",
      body: JSON.stringify({ errorRate: 2, nope: 1 }),
    });
    expect(bad.status).toBe(400);
    expect((await json(bad))["error_msg"]).toMatch(/errorRate.*nope|nope.*errorRate/s);
    const token = await demoToken(app);
    await exportWithToken(app, token, [storageInfo("p")]);
    expect(
      ((await (await app.request("/__emulator/ledger")).json()) as { entries: unknown[] }).entries,
    ).toHaveLength(1);
    expect((await app.request("/__emulator/reset", { method: "POST" })).status).toBe(200);
    expect(await (await app.request("/__emulator/ledger")).json()).toEqual({ entries: [] });
    expect(await (await app.request("/__emulator/stats")).json()).toEqual({
      requests: 0,
      throttled: 0,
      errors: 0,
      drops: 0,
      droppedPhones: 0,
      listPhones: 0,
      listServers: 0,
    });
    // Tokens survive a reset.
    expect((await exportWithToken(app, token, [storageInfo("p")])).status).toBe(200);
    const files = (await (await app.request("/__emulator/phones/p/files")).json()) as { files: string[] };
    expect(files.files.length).toBeGreaterThan(10);

    const closed = await harness.app({ config: { controlRoutes: false } });
    const hidden = await closed.request("/__emulator/ledger");
    expect(hidden.status).toBe(404);
    expect((await json(hidden))["error_code"]).toBe("APIGW.0101");
  });

  it("answers an unknown route or method with 404 APIGW.0101", async () => {
    const app = await harness.app();
    for (const [method, path] of [
      ["GET", "/v2/nothing"],
      ["GET", EXPORT_PATH],
      ["DELETE", `${JOBS_PATH}/abc`],
    ] as const) {
      const response = await app.request(path, { method });
      expect(response.status).toBe(404);
      expect((await json(response))["error_code"]).toBe("APIGW.0101");
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});

describe("request log", () => {
  it("logs one JSON line per request with the credentials redacted", async () => {
    const lines: string[] = [];
    const app = await harness.app({ log: (line) => lines.push(line) });
    const token = await demoToken(app);
    const request = buildBatchExportRequest({
      endpoint: BASE,
      projectId: PROJECT,
      storageInfos: [storageInfo("p")],
    });
    const signed = await signDemo(request);
    await send(app, signed);
    await exportWithToken(app, token, [storageInfo("p")]);
    expect(lines).toHaveLength(3);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((entry) => entry["status"])).toEqual([201, 200, 200]);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        method: "POST",
        request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        ms: expect.any(Number),
      });
    }
    const text = lines.join("\n");
    const signature = /Signature=([0-9a-f]{64})/.exec(signed.headers["Authorization"]!)![1]!;
    for (const secret of [token, DEMO_CREDENTIALS.password, DEMO_CREDENTIALS.secretKey, signature])
      expect(text).not.toContain(secret);
    expect(text).toContain(`Access=${DEMO_CREDENTIALS.accessKey}`);
  });
});
