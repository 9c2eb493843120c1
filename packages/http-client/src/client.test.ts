import { inspect } from "node:util";
import {
  buildBatchExportRequest,
  buildShowJobRequest,
  CphApiError,
  CphAuthError,
  CphNetworkError,
  CphValidationError,
  verifySignature,
} from "@cph-export/core";
import { errors } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCphClient } from "./client.js";
import {
  AKSK_CREDENTIALS,
  acceptAll,
  BATCH_PATH,
  CPH_ORIGIN,
  cphError,
  iamToken,
  JOBS_PATH,
  mockClient,
  mockCph,
  PASSWORD_CREDENTIALS,
  PROJECT_ID,
  phone,
  type SeenRequest,
  storageInfo,
  TOKEN_CREDENTIALS,
} from "./test-support/mock-cph.js";
import type { ClientEvent } from "./types.js";
import { DEFAULT_USER_AGENT, VERSION } from "./version.js";

const JOB = { job_id: "job-1", phone_id: phone(1), status: 2 };

/** Verifies a request seen by the mock as signed with AKSK_CREDENTIALS (and the security token, if given). */
function verifyAkSk(sent: SeenRequest, securityToken?: string) {
  return verifySignature({
    method: sent.method,
    url: sent.path,
    headers: sent.headers,
    body: sent.body,
    lookup: (accessKey) =>
      accessKey === "AKTESTEXAMPLE000001"
        ? { accessKey, secretKey: "sk-very-secret-000001", ...(securityToken ? { securityToken } : {}) }
        : undefined,
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("credentials", () => {
  it("sends a static token as X-Auth-Token with the default User-Agent", async () => {
    const { agent, requests } = mockCph(() => ({
      status: 200,
      headers: { "x-request-id": "rq-9" },
      body: JOB,
    }));
    const client = mockClient(agent, { credentials: TOKEN_CREDENTIALS });
    const job = await client.getJob("job-1");
    expect(job.request_id).toBe("rq-9");
    expect(requests).toHaveLength(1);
    expect(requests[0]!.headers["x-auth-token"]).toBe("tok-secret-value-123456");
    expect(requests[0]!.headers["user-agent"]).toBe(`cph-export/${VERSION}`);
    expect(DEFAULT_USER_AGENT).toMatch(/^cph-export\/\d+\.\d+\.\d+/);
    expect(requests[0]!.path).toBe(`${JOBS_PATH}/job-1`);
  });

  it("signs AK/SK requests over the exact body bytes, with X-Project-Id, the security token and the Host sent", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent, {
      credentials: { ...AKSK_CREDENTIALS, securityToken: "sts-token-secret-0001" } as typeof AKSK_CREDENTIALS,
    });
    const result = await client.batchExport([storageInfo(phone(1)), storageInfo(phone(2))]);
    expect(result.phones.map((p) => p.state)).toEqual(["accepted", "accepted"]);
    const sent = requests[0]!;
    expect(sent.headers["host"]).toBe(new URL(CPH_ORIGIN).host);
    expect(sent.headers["x-project-id"]).toBe(PROJECT_ID);
    expect(sent.headers["authorization"]).toMatch(
      /SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token,/,
    );
    expect(await verifyAkSk(sent, "sts-token-secret-0001")).toMatchObject({ ok: true });
    // A tampered body must not verify: the signature covers the bytes.
    const tampered = await verifySignature({
      method: sent.method,
      url: sent.path,
      headers: sent.headers,
      body: new TextEncoder().encode(sent.text.replace("backup-bucket", "backup-bucket2")),
      lookup: (accessKey) => ({
        accessKey,
        secretKey: "sk-very-secret-000001",
        securityToken: "sts-token-secret-0001",
      }),
    });
    expect(tampered.ok).toBe(false);
  });

  it("signs GETs with a query (ListJobs) so that the verifier accepts them", async () => {
    const { agent, requests } = mockCph(() => ({ status: 200, body: { jobs: [] } }));
    const client = mockClient(agent, { credentials: AKSK_CREDENTIALS });
    await client.listJobs({ requestIds: ["a", "b"], offset: 0, limit: 100 });
    const sent = requests[0]!;
    expect(sent.query.get("request_ids")).toBe("a,b");
    const verdict = await verifySignature({
      method: "GET",
      url: `${sent.path}?${sent.query.toString().replaceAll("%2C", ",")}`,
      headers: sent.headers,
      body: sent.body,
      lookup: (accessKey) => ({ accessKey, secretKey: "sk-very-secret-000001" }),
    });
    expect(verdict).toMatchObject({ ok: true });
  });

  it("gets an IAM token for password credentials once and reuses it", async () => {
    const { agent, requests } = mockCph((request) =>
      request.path === "/v3/auth/tokens"
        ? iamToken("iam-token-0001", new Date(Date.now() + 24 * 3600_000))
        : { status: 200, body: JOB },
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    await client.getJob("job-1");
    await client.getJob("job-1");
    const iam = requests.filter((r) => r.path === "/v3/auth/tokens");
    expect(iam).toHaveLength(1);
    expect(JSON.parse(iam[0]!.text)).toEqual({
      auth: {
        identity: {
          methods: ["password"],
          password: {
            user: { domain: { name: "demo-account" }, name: "demo-user", password: "pw-very-secret-0001" },
          },
        },
        scope: { project: { id: PROJECT_ID } },
      },
    });
    const cph = requests.filter((r) => r.origin === CPH_ORIGIN);
    expect(cph.map((r) => r.headers["x-auth-token"])).toEqual(["iam-token-0001", "iam-token-0001"]);
  });

  it("refreshes the token ahead of expires_at (10% of the lifetime, at most 5 minutes)", async () => {
    vi.useFakeTimers({ now: new Date("2025-01-01T00:00:00Z") });
    let issued = 0;
    const { agent, requests } = mockCph((request) =>
      request.path === "/v3/auth/tokens"
        ? iamToken(`iam-token-${++issued}`, new Date(Date.now() + 3600_000))
        : { status: 200, body: JOB },
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    await client.getJob("job-1");
    vi.setSystemTime(new Date("2025-01-01T00:54:59Z"));
    await client.getJob("job-1");
    expect(issued).toBe(1);
    vi.setSystemTime(new Date("2025-01-01T00:55:01Z"));
    await client.getJob("job-1");
    expect(issued).toBe(2);
    expect(requests.filter((r) => r.origin === CPH_ORIGIN).map((r) => r.headers["x-auth-token"])).toEqual([
      "iam-token-1",
      "iam-token-1",
      "iam-token-2",
    ]);
  });

  it("refreshes once on a 401 and retries the request once", async () => {
    let issued = 0;
    let rejectNext = true;
    const { agent, requests } = mockCph((request) => {
      if (request.path === "/v3/auth/tokens")
        return iamToken(`iam-token-${++issued}`, new Date(Date.now() + 24 * 3600_000));
      if (rejectNext) {
        rejectNext = false;
        return cphError(401, "APIGW.0301", "Incorrect IAM authentication information: token expired");
      }
      return acceptAll(request);
    });
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    const result = await client.batchExport([storageInfo(phone(1))]);
    expect(result.phones[0]!.state).toBe("accepted");
    expect(issued).toBe(2);
    expect(requests.filter((r) => r.path === BATCH_PATH).map((r) => r.headers["x-auth-token"])).toEqual([
      "iam-token-1",
      "iam-token-2",
    ]);
  });

  it("does not loop when the fresh token is refused too: CphAuthError after one refresh", async () => {
    let issued = 0;
    const { agent, requests } = mockCph((request) =>
      request.path === "/v3/auth/tokens"
        ? iamToken(`iam-token-${++issued}`, new Date(Date.now() + 24 * 3600_000))
        : cphError(401, "APIGW.0301", "Incorrect IAM authentication information"),
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    const error = await client.getJob("job-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphAuthError);
    expect((error as CphAuthError).code).toBe("ERR_CPH_AUTH");
    expect(issued).toBe(2);
    expect(requests.filter((r) => r.origin === CPH_ORIGIN)).toHaveLength(2);
  });

  it("shares one in-flight token request between concurrent callers", async () => {
    const { agent, requests } = mockCph((request) =>
      request.path === "/v3/auth/tokens"
        ? iamToken("iam-token-shared", new Date(Date.now() + 24 * 3600_000))
        : { status: 200, body: JOB },
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    await Promise.all(Array.from({ length: 8 }, () => client.getJob("job-1")));
    expect(requests.filter((r) => r.path === "/v3/auth/tokens")).toHaveLength(1);
    expect(requests.filter((r) => r.origin === CPH_ORIGIN)).toHaveLength(8);
  });

  it("reports a refused password as CphAuthError without the password, and does not ask IAM again at once", async () => {
    const { agent, requests } = mockCph(() =>
      cphError(401, "APIGW.0301", "The username or password is wrong. pw-very-secret-0001"),
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    const first = await client.getJob("job-1").catch((e: unknown) => e);
    const second = await client.authenticate().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(CphAuthError);
    expect(second).toBeInstanceOf(CphAuthError);
    for (const error of [first, second]) {
      const text = `${String(error)} ${inspect(error)} ${JSON.stringify(error)}`;
      expect(text).not.toContain("pw-very-secret-0001");
      expect((error as CphAuthError).message).toContain('user "demo-user"');
    }
    expect(requests).toHaveLength(1);
  });

  it("refuses incomplete credentials before sending anything, without echoing values", () => {
    const { agent } = mockCph(() => ({ status: 500 }));
    expect(() =>
      mockClient(agent, { credentials: { type: "aksk", accessKey: "AK", secretKey: "" } }),
    ).toThrow(CphValidationError);
    expect(() => mockClient(agent, { credentials: { type: "token", token: "" } })).toThrow(
      /token is required/,
    );
    expect(() => createCphClient({ projectId: PROJECT_ID, credentials: TOKEN_CREDENTIALS })).toThrow(
      /region/,
    );
  });
});

describe("retries", () => {
  it("honours Retry-After on a 429 before sending again", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const { agent } = mockCph((request) =>
      ++calls === 1 ? cphError(429, "APIGW.0308", "throttled", { "retry-after": "3" }) : acceptAll(request),
    );
    const events: ClientEvent[] = [];
    const client = mockClient(agent, { onEvent: (event) => events.push(event) });
    const pending = client.batchExport([storageInfo(phone(1))]);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const result = await pending;
    expect(calls).toBe(2);
    expect(result.phones[0]!.state).toBe("accepted");
    expect(events.find((e) => e.type === "retry")).toMatchObject({ attempt: 2, delayMs: 3_000 });
  });

  it("backs off exponentially with full jitter, capped, and gives up after maxAttempts", async () => {
    vi.useFakeTimers();
    const times: number[] = [];
    const { agent } = mockCph(() => {
      times.push(Date.now());
      return cphError(429, "APIGW.0308", "throttled");
    });
    const client = mockClient(agent, {
      retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250, random: () => 0.999 },
    });
    const pending = client.getJob("job-1").catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    const error = await pending;
    expect(error).toBeInstanceOf(CphApiError);
    expect((error as CphApiError).status).toBe(429);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps).toEqual([99, 199, 249]);
  });

  it("retries a connect failure (nothing was sent)", async () => {
    let calls = 0;
    const { agent } = mockCph((request) => {
      if (++calls === 1)
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:443"), { code: "ECONNREFUSED" });
      return acceptAll(request);
    });
    const client = mockClient(agent);
    const result = await client.batchExport([storageInfo(phone(1))]);
    expect(calls).toBe(2);
    expect(result.phones[0]!.state).toBe("accepted");
  });

  it("retries a connect timeout, and reports a persistent one as a connect-phase CphNetworkError", async () => {
    const { agent, requests } = mockCph(() => {
      throw new errors.ConnectTimeoutError();
    });
    const client = mockClient(agent, { retry: { maxAttempts: 3 } });
    const error = await client.batchExport([storageInfo(phone(1))]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphNetworkError);
    expect((error as CphNetworkError).phase).toBe("connect");
    expect((error as CphNetworkError).message).toMatch(/nothing was sent/);
    expect(requests).toHaveLength(3);
  });

  it.each([
    ["a reset after sending", () => new errors.SocketError("other side closed"), "send"],
    ["ECONNRESET", () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "send"],
    ["a headers timeout", () => new errors.HeadersTimeoutError(), "response"],
  ])("never resends a POST after %s: outcome unknown", async (_name, make, phase) => {
    const { agent, requests } = mockCph(() => {
      throw make();
    });
    const client = mockClient(agent);
    const error = await client.batchExport([storageInfo(phone(1))]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphNetworkError);
    expect((error as CphNetworkError).phase).toBe(phase);
    expect(requests).toHaveLength(1);
  });

  it("resends a GET after a reset (reading twice is harmless)", async () => {
    let calls = 0;
    const { agent } = mockCph(() => {
      if (++calls === 1) throw new errors.SocketError("other side closed");
      return { status: 200, body: JOB };
    });
    const client = mockClient(agent);
    await expect(client.getJob("job-1")).resolves.toMatchObject({ job_id: "job-1" });
    expect(calls).toBe(2);
  });

  it("retries a POST on 502 APIGW.0201 (the backend never saw it) but not on a 500", async () => {
    let calls = 0;
    const { agent } = mockCph((request) =>
      ++calls === 1 ? cphError(502, "APIGW.0201", "backend unavailable") : acceptAll(request),
    );
    const client = mockClient(agent);
    await expect(client.batchExport([storageInfo(phone(1))])).resolves.toMatchObject({
      phones: [{ state: "accepted" }],
    });
    expect(calls).toBe(2);

    const server500 = mockCph(() => cphError(500, "CPS.9999", "internal"));
    const error = await mockClient(server500.agent)
      .batchExport([storageInfo(phone(1))])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphApiError);
    expect((error as CphApiError).requestId).toBe("err-CPS.9999");
    expect(server500.requests).toHaveLength(1);
  });

  it("retries a GET on any 5xx", async () => {
    let calls = 0;
    const { agent } = mockCph(() =>
      ++calls < 3 ? cphError(500, "CPS.9999", "internal") : { status: 200, body: JOB },
    );
    await expect(mockClient(agent).getJob("job-1")).resolves.toMatchObject({ job_id: "job-1" });
    expect(calls).toBe(3);
  });

  it("lets an injected policy refuse retries, but never lets it resend a POST of unknown outcome", async () => {
    const throttled = mockCph(() => cphError(429, "APIGW.0308", "throttled"));
    await expect(
      mockClient(throttled.agent, { retry: { shouldRetry: () => false } }).getJob("job-1"),
    ).rejects.toBeInstanceOf(CphApiError);
    expect(throttled.requests).toHaveLength(1);

    const reset = mockCph(() => {
      throw new errors.SocketError("other side closed");
    });
    const shouldRetry = vi.fn(() => true);
    await expect(
      mockClient(reset.agent, { retry: { shouldRetry } }).batchExport([storageInfo(phone(1))]),
    ).rejects.toBeInstanceOf(CphNetworkError);
    expect(reset.requests).toHaveLength(1);
  });

  it("stops waiting and rejects with the AbortError when aborted between attempts", async () => {
    vi.useFakeTimers();
    const { agent, requests } = mockCph(() =>
      cphError(429, "APIGW.0308", "throttled", { "retry-after": "10" }),
    );
    const controller = new AbortController();
    const pending = mockClient(agent)
      .getJob("job-1", { signal: controller.signal })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    controller.abort();
    const error = await pending;
    expect((error as Error).name).toBe("AbortError");
    await vi.advanceTimersByTimeAsync(20_000);
    expect(requests).toHaveLength(1);
  });
});

describe("batchExport", () => {
  it("turns per-phone errors inside a 200 into rejected phones and missing phones into unknown", async () => {
    const { agent } = mockCph(() => ({
      status: 200,
      headers: { "x-request-id": "req-200" },
      body: {
        request_id: "req-200",
        jobs: [
          { phone_id: phone(1), job_id: "job-a" },
          { phone_id: phone(2), error_code: "CPS.0005", error_msg: "The phone does not exist." },
        ],
      },
    }));
    const result = await mockClient(agent).batchExport([
      storageInfo(phone(1)),
      storageInfo(phone(2)),
      storageInfo(phone(3)),
    ]);
    expect(result.requestId).toBe("req-200");
    expect(result.phones).toEqual([
      expect.objectContaining({
        phoneId: phone(1),
        state: "accepted",
        jobId: "job-a",
        requestId: "req-200",
        bucketName: "backup-bucket",
      }),
      expect.objectContaining({
        phoneId: phone(2),
        state: "rejected",
        errorCode: "CPS.0005",
        errorMessage: "The phone does not exist.",
      }),
      expect.objectContaining({
        phoneId: phone(3),
        state: "unknown",
        errorCode: "not_in_response",
        errorMessage: expect.stringMatching(/^not in the response/),
      }),
    ]);
  });

  it("validates before sending: nothing leaves for an invalid request", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const bad = { ...storageInfo(phone(1)), include_files: ["/data/../system"] };
    const error = await mockClient(agent)
      .batchExport([bad])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CphValidationError);
    expect((error as CphValidationError).issues[0]!.code).toBe("path_dot_segment");
    expect(requests).toHaveLength(0);
  });

  it("puts the request id of the error answer on the thrown error", async () => {
    const { agent } = mockCph(() => cphError(400, "CPS.0004", "invalid phone id"));
    const error = (await mockClient(agent)
      .batchExport([storageInfo(phone(1))])
      .catch((e: unknown) => e)) as CphApiError;
    expect(error.requestId).toBe("err-CPS.0004");
    expect(error.errorCode).toBe("CPS.0004");
  });
});

describe("send", () => {
  it("sends a request built by core with the client's credentials and returns the answer untouched", async () => {
    const raw = '{"request_id":"req-raw","jobs":[{"phone_id":"p1","job_id":"j1","extra":1}]}';
    const { agent, requests } = mockCph(() => ({
      status: 200,
      headers: { "x-request-id": "req-raw" },
      body: raw,
    }));
    const client = mockClient(agent, { credentials: AKSK_CREDENTIALS });
    const request = buildBatchExportRequest({
      endpoint: client.endpoint,
      projectId: client.projectId,
      storageInfos: [storageInfo(phone(1))],
    });
    const answer = await client.send(request, { headers: { "X-Request-Id": "trace-1" } });
    expect(answer.status).toBe(200);
    expect(answer.bodyText).toBe(raw);
    expect(answer.headers["x-request-id"]).toBe("req-raw");
    const sent = requests[0]!;
    expect(sent.path).toBe(BATCH_PATH);
    expect(sent.headers["x-request-id"]).toBe("trace-1");
    expect(sent.headers["user-agent"]).toBe(DEFAULT_USER_AGENT);
    expect(Buffer.from(sent.body).equals(Buffer.from(request.body!))).toBe(true);
    expect(await verifyAkSk(sent)).toMatchObject({ ok: true });
    // The caller's request object is not changed by sending it.
    expect(request.headers).toEqual({ "Content-Type": "application/json" });
  });

  it("throws CphApiError for an error answer, and resends a GET but not a POST of unknown outcome", async () => {
    let calls = 0;
    const { agent } = mockCph(() => {
      calls++;
      return cphError(500, "CPS.9999", "internal error");
    });
    const client = mockClient(agent, { retry: { maxAttempts: 3 } });
    const job = buildShowJobRequest({ endpoint: client.endpoint, projectId: client.projectId, jobId: "j1" });
    const failed = (await client.send(job).catch((e: unknown) => e)) as CphApiError;
    expect(failed).toBeInstanceOf(CphApiError);
    expect(failed.errorCode).toBe("CPS.9999");
    expect(calls).toBe(3);
    const post = buildBatchExportRequest({
      endpoint: client.endpoint,
      projectId: client.projectId,
      storageInfos: [storageInfo(phone(1))],
    });
    await expect(client.send(post)).rejects.toBeInstanceOf(CphApiError);
    expect(calls).toBe(4);
  });

  it("refuses, before sending, a URL off the endpoint, a bad method or body, and headers the client sets", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent, { credentials: AKSK_CREDENTIALS });
    const issues = async (request: Parameters<typeof client.send>[0]) => {
      const error = await client.send(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CphValidationError);
      return (error as CphValidationError).issues.map((issue) => issue.path);
    };
    const body = new Uint8Array([123, 125]);
    // A look-alike host must not get the credentials.
    expect(await issues({ method: "GET", url: `${CPH_ORIGIN}.evil.example/v1/x`, headers: {} })).toEqual([
      "request.url",
    ]);
    expect(await issues({ method: "GET", url: "https://elsewhere.test/v1/x", headers: {} })).toEqual([
      "request.url",
    ]);
    expect(
      await issues({ method: "DELETE" as "GET", url: `${CPH_ORIGIN}${JOBS_PATH}/j1`, headers: {} }),
    ).toEqual(["request.method"]);
    expect(await issues({ method: "POST", url: `${CPH_ORIGIN}${BATCH_PATH}`, headers: {} })).toEqual([
      "request.body",
    ]);
    expect(await issues({ method: "GET", url: `${CPH_ORIGIN}${JOBS_PATH}/j1`, headers: {}, body })).toEqual([
      "request.body",
    ]);
    expect(
      await issues({
        method: "POST",
        url: `${CPH_ORIGIN}${BATCH_PATH}`,
        headers: { "Content-Type": "application/json", Authorization: "x", "X-Bad": "a\r\nb" },
        body,
      }),
    ).toEqual(["request.headers.Authorization", "request.headers.X-Bad"]);
    // Written otherwise than URL would send it: dot segments (which could leave the endpoint's
    // path), a fragment.
    for (const url of [`${CPH_ORIGIN}/v1/x/../../admin`, `${CPH_ORIGIN}${JOBS_PATH}/j1#frag`])
      expect(await issues({ method: "GET", url, headers: {} }), url).toEqual(["request.url"]);
    const twice = await client
      .send(
        { method: "GET", url: `${CPH_ORIGIN}${JOBS_PATH}/j1`, headers: { "X-Trace": "a" } },
        { headers: { "x-trace": "b" } },
      )
      .catch((e: unknown) => e);
    expect((twice as CphValidationError).issues.map((issue) => issue.path)).toEqual(["headers.x-trace"]);
    expect(requests).toHaveLength(0);
  });
});

describe("secrets", () => {
  it("never shows a secret in inspect, JSON, toString, events or errors", async () => {
    const secrets = [
      "tok-secret-value-123456",
      "sk-very-secret-000001",
      "sts-secret-0000001",
      "pw-very-secret-0001",
      "iam-token-secret-77",
    ];
    const events: ClientEvent[] = [];
    const { agent } = mockCph((request) => {
      if (request.path === "/v3/auth/tokens")
        return iamToken("iam-token-secret-77", new Date(Date.now() + 24 * 3600_000));
      // A server that echoes the credentials back in its error text.
      return cphError(
        400,
        "CPS.0004",
        `bad request ${request.headers["x-auth-token"] ?? ""} ${request.headers["authorization"] ?? ""}`,
      );
    });
    const clients = [
      mockClient(agent, { credentials: TOKEN_CREDENTIALS, onEvent: (e) => events.push(e) }),
      mockClient(agent, {
        credentials: {
          type: "aksk",
          accessKey: "AKTESTEXAMPLE000001",
          secretKey: "sk-very-secret-000001",
          securityToken: "sts-secret-0000001",
        },
      }),
      mockClient(agent, { credentials: PASSWORD_CREDENTIALS, onEvent: (e) => events.push(e) }),
    ];
    const texts: string[] = [];
    for (const client of clients) {
      texts.push(inspect(client, { depth: 10, showHidden: true }), JSON.stringify(client), String(client));
      const error = await client.getJob("job-1").catch((e: unknown) => e);
      texts.push(
        inspect(error, { depth: 10 }),
        String(error),
        JSON.stringify(error),
        (error as Error).stack ?? "",
      );
    }
    texts.push(JSON.stringify(events));
    const all = texts.join("\n");
    for (const secret of secrets) expect(all).not.toContain(secret);
    expect(all).toContain("[REDACTED]");
    expect(all).toContain("AKTESTEXAMPLE000001");
  });
});
