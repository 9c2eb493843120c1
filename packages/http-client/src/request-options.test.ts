// Per-call request options: extra headers (X-Request-Id through a proxy) and `validated`.
import { CphValidationError, type StorageInfo, verifySignature } from "@cph-export/core";
import { Agent, EnvHttpProxyAgent } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { extraHeaders } from "./request-headers.js";
import {
  AKSK_CREDENTIALS,
  acceptAll,
  BATCH_PATH,
  CPH_ORIGIN,
  cphError,
  collect,
  iamToken,
  JOBS_PATH,
  mockClient,
  mockCph,
  PASSWORD_CREDENTIALS,
  phone,
  type SeenRequest,
  storageInfo,
} from "./test-support/mock-cph.js";
import { createDefaultDispatcher, DEFAULT_TIMEOUTS, requestTarget } from "./transport.js";
import type { ClientEvent } from "./types.js";

const TRACE = { "X-Request-Id": "trace-0001.a" };
const JOB = { job_id: "job-1", phone_id: phone(1), status: 2 };

async function refusal(promise: Promise<unknown>): Promise<CphValidationError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CphValidationError);
  return error as CphValidationError;
}

function verify(sent: SeenRequest, headers: Record<string, string> = sent.headers) {
  return verifySignature({
    method: sent.method,
    url: sent.path,
    headers,
    body: sent.body,
    lookup: (accessKey) => ({ accessKey, secretKey: "sk-very-secret-000001" }),
  });
}

describe("extra request headers", () => {
  it("sends them with batchExport, getJob and listJobs, beside the client's own", async () => {
    const { agent, requests } = mockCph((request) =>
      request.path === BATCH_PATH ? acceptAll(request) : { status: 200, body: { ...JOB, jobs: [] } },
    );
    const client = mockClient(agent);
    await client.batchExport([storageInfo(phone(1))], { headers: TRACE });
    await client.getJob("job-1", { headers: TRACE });
    await client.listJobs({ requestIds: ["r1"] }, { headers: { "x-request-id": "trace-0002" } });
    expect(requests.map((request) => request.headers["x-request-id"])).toEqual([
      "trace-0001.a",
      "trace-0001.a",
      "trace-0002",
    ]);
    for (const request of requests) {
      expect(request.headers["x-auth-token"]).toBe("tok-secret-value-123456");
      expect(request.headers["user-agent"]).toMatch(/^cph-export\//);
    }
    expect(requests[0]?.headers["content-type"]).toBe("application/json");
    expect(requests[2]?.query.get("request_ids")).toBe("r1");
  });

  it("sends nothing extra without them", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    await mockClient(agent).batchExport([storageInfo(phone(1))]);
    expect(requests[0]?.headers["x-request-id"]).toBeUndefined();
  });

  it("sends them again with every retry, unchanged when the caller's object changes", async () => {
    let calls = 0;
    const { agent, requests } = mockCph(() =>
      ++calls < 3 ? cphError(503, "CPS.0503", "busy") : { status: 200, body: JOB },
    );
    const headers: Record<string, string> = { "X-Request-Id": "trace-retried" };
    const pending = mockClient(agent).getJob("job-1", { headers });
    headers["X-Request-Id"] = "changed-later";
    await pending;
    expect(requests).toHaveLength(3);
    expect(requests.map((request) => request.headers["x-request-id"])).toEqual([
      "trace-retried",
      "trace-retried",
      "trace-retried",
    ]);
  });

  it("signs them with AK/SK: the verifier accepts the request and refuses a changed value", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent, { credentials: AKSK_CREDENTIALS });
    await client.batchExport([storageInfo(phone(1))], { headers: TRACE });
    const sent = requests[0] as SeenRequest;
    expect(sent.headers["x-request-id"]).toBe("trace-0001.a");
    expect(sent.headers["authorization"]).toMatch(
      /SignedHeaders=content-type;host;x-project-id;x-request-id;x-sdk-date,/,
    );
    expect(await verify(sent)).toMatchObject({ ok: true });
    const changed = await verify(sent, { ...sent.headers, "x-request-id": "trace-0001.b" });
    expect(changed.ok).toBe(false);
  });

  it("leaves them off the IAM token request", async () => {
    const { agent, requests } = mockCph((request) =>
      request.path === "/v3/auth/tokens"
        ? iamToken("iam-token-0001", new Date(Date.now() + 3_600_000))
        : { status: 200, body: JOB },
    );
    const client = mockClient(agent, { credentials: PASSWORD_CREDENTIALS });
    await client.getJob("job-1", { headers: TRACE });
    expect(requests.map((request) => [request.path, request.headers["x-request-id"]])).toEqual([
      ["/v3/auth/tokens", undefined],
      [`${JOBS_PATH}/job-1`, "trace-0001.a"],
    ]);
    expect(requests[1]?.headers["x-auth-token"]).toBe("iam-token-0001");
  });

  it("refuses any header the client sets itself, in any letter case, before sending", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent);
    const error = await refusal(
      client.batchExport([storageInfo(phone(1))], {
        headers: {
          "x-auth-token": "other-token",
          AUTHORIZATION: "Bearer x",
          "X-Sdk-Date": "20260101T000000Z",
          "x-project-id": "other",
          Host: "elsewhere.test",
          "content-type": "text/plain",
          "User-Agent": "other/1",
          ...TRACE,
        },
      }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      "headers.x-auth-token",
      "headers.AUTHORIZATION",
      "headers.X-Sdk-Date",
      "headers.x-project-id",
      "headers.Host",
      "headers.content-type",
      "headers.User-Agent",
    ]);
    expect(error.message).not.toContain("other-token");
    expect(requests).toHaveLength(0);
  });

  it("refuses a name that is not a token, a control character in a value, and a name given twice", async () => {
    const { agent, requests } = mockCph(() => ({ status: 200, body: JOB }));
    const client = mockClient(agent);
    const error = await refusal(
      client.getJob("job-1", {
        headers: {
          "Bad Name": "x",
          "X-Trace": "a\r\nX-Injected: 1",
          "X-Nul": "a\u0000b",
          "X-Wide": "\u0100",
          "X-Request-Id": "one",
          "x-request-id": "two",
        },
      }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      "headers.Bad Name",
      "headers.X-Trace",
      "headers.X-Nul",
      "headers.X-Wide",
      "headers.x-request-id",
    ]);
    expect(error.issues.every((issue) => issue.code === "invalid_type")).toBe(true);
    await expect(client.listJobs({ requestIds: ["r1"] }, { headers: { "X Y": "1" } })).rejects.toThrow(
      CphValidationError,
    );
    expect(requests).toHaveLength(0);
    expect(extraHeaders({ "X-Tab": "a\tb", "X-Latin": "caf\u00e9" })).toEqual({
      "X-Tab": "a\tb",
      "X-Latin": "caf\u00e9",
    });
    expect(extraHeaders(undefined)).toBeUndefined();
  });

  it("sends them with every batch of exportMany and every poll of its wait", async () => {
    const sent = new Map<string, string[]>();
    const { agent, requests } = mockCph((request) => {
      if (request.path === BATCH_PATH) {
        const id = `req-${sent.size}`;
        const body = JSON.parse(request.text) as { storage_infos: StorageInfo[] };
        sent.set(
          id,
          body.storage_infos.map((info) => info.phone_id),
        );
        return acceptAll(request, id);
      }
      const jobs = (request.query.get("request_ids") ?? "").split(",").flatMap((id) =>
        (sent.get(id) ?? []).map((phoneId) => ({
          job_id: `job-${phoneId}`,
          phone_id: phoneId,
          request_id: id,
          status: 2,
        })),
      );
      return { status: 200, body: { jobs } };
    });
    const client = mockClient(agent);
    const phones = [1, 2, 3].map((index) => storageInfo(phone(index)));
    const headers: Record<string, string> = { ...TRACE };
    const iteration = client.exportMany(phones, {
      batchSize: 2,
      concurrency: 1,
      headers,
      wait: { intervalMs: 1 },
    });
    // Taken when the call is made: a later change to the caller's object does not leak in.
    headers["X-Request-Id"] = "changed-later";
    const results = await collect(iteration);
    expect(results.map((result) => result.state)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(requests.filter((request) => request.path === BATCH_PATH)).toHaveLength(2);
    expect(requests.some((request) => request.path === JOBS_PATH)).toBe(true);
    expect(requests.every((request) => request.headers["x-request-id"] === "trace-0001.a")).toBe(true);
  });

  it("fails exportMany on its first step and waitForJobs at once for a bad header, sending nothing", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent);
    const iteration = client.exportMany([storageInfo(phone(1))], { headers: { Authorization: "x" } });
    await refusal(collect(iteration));
    await refusal(client.waitForJobs([{ jobId: "job-1" }], { headers: { "X-Bad": "\n" } }));
    expect(requests).toHaveLength(0);
  });
});

describe("validated", () => {
  const broken = { ...storageInfo(phone(1)), bucket_name: "Not_A_Bucket" };

  it("checks the storage infos by default and sends nothing when they break the rules", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent);
    const error = await refusal(client.batchExport([broken]));
    expect(error.issues[0]?.path).toBe("storage_infos[0].bucket_name");
    await refusal(client.batchExport([broken], { validated: false }));
    expect(requests).toHaveLength(0);
  });

  it("skips the check when the caller has validated them, and sends them as they are", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent, { validation: { maxPhonesPerRequest: 1 } });
    const infos = [broken, storageInfo(phone(2))];
    const result = await client.batchExport(infos, { validated: true, headers: TRACE });
    expect(result.phones.map((entry) => entry.state)).toEqual(["accepted", "accepted"]);
    expect(JSON.parse(requests[0]?.text ?? "{}")).toEqual({ storage_infos: infos });
    expect(requests[0]?.headers["x-request-id"]).toBe("trace-0001.a");
  });

  it("still checks the headers of a validated call", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    await refusal(
      mockClient(agent).batchExport([storageInfo(phone(1))], { validated: true, headers: { Host: "x" } }),
    );
    expect(requests).toHaveLength(0);
  });
});

describe("request targets", () => {
  it("splits a URL as undici does: normalised origin and path, query kept, fragment dropped", () => {
    expect(requestTarget("HTTPS://CPH.Test:443/v1/p/cloud-phone/jobs?request_ids=a,b&limit=5#x")).toEqual({
      origin: "https://cph.test",
      path: "/v1/p/cloud-phone/jobs?request_ids=a,b&limit=5",
      shown: "https://cph.test/v1/p/cloud-phone/jobs",
    });
    expect(requestTarget("http://127.0.0.1:8080/a/./b/../c?")).toEqual({
      origin: "http://127.0.0.1:8080",
      path: "/a/c",
      shown: "http://127.0.0.1:8080/a/c",
    });
    expect(requestTarget("not a url")).toBeUndefined();
    expect(requestTarget("ftp://cph.test/x")).toBeUndefined();
  });

  it("keeps sending batch-storage to the same path call after call", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent);
    for (let index = 0; index < 3; index++) await client.batchExport([storageInfo(phone(index))]);
    expect(requests.map((request) => `${request.origin}${request.path}`)).toEqual(
      Array(3).fill(`${CPH_ORIGIN}${BATCH_PATH}`),
    );
  });
});

describe("default dispatcher", () => {
  const names = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"];
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is a plain Agent without proxy variables, and an EnvHttpProxyAgent with any of them", async () => {
    for (const name of names) vi.stubEnv(name, "");
    const direct = createDefaultDispatcher(DEFAULT_TIMEOUTS);
    expect(direct).toBeInstanceOf(Agent);
    expect(direct).not.toBeInstanceOf(EnvHttpProxyAgent);
    await direct.close();
    for (const name of names) {
      vi.stubEnv(name, "http://127.0.0.1:9");
      const proxied = createDefaultDispatcher(DEFAULT_TIMEOUTS);
      expect([name, proxied instanceof EnvHttpProxyAgent]).toEqual([name, true]);
      await proxied.close();
      vi.stubEnv(name, "");
    }
  });
});

describe("eventTypes", () => {
  it("passes onEvent only the types asked for, and every type by default", async () => {
    const run = async (eventTypes?: ClientEvent["type"][]) => {
      let calls = 0;
      const { agent } = mockCph(() =>
        ++calls < 2 ? cphError(503, "CPS.0503", "busy") : { status: 200, body: JOB },
      );
      const events: ClientEvent[] = [];
      const client = mockClient(agent, {
        onEvent: (event) => events.push(event),
        ...(eventTypes ? { eventTypes } : {}),
      });
      await client.getJob("job-1");
      return events.map((event) => event.type);
    };
    expect(await run()).toEqual(["request", "response", "retry", "request", "response"]);
    expect(await run(["retry", "token"])).toEqual(["retry"]);
    expect(await run(["response"])).toEqual(["response", "response"]);
    expect(await run([])).toEqual([]);
  });
});
