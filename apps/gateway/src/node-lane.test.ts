import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CphApiError, CphNetworkError } from "@cph-export/core";
import { getRequestListener } from "@hono/node-server";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { compileDirectRoute, matchDirectRoute } from "./node-lane.js";
import { ROUTES } from "./route-kit.js";
import {
  exportBody,
  type FakeUpstream,
  PROJECT,
  storageInfo,
  TEAM_A_KEY,
  testApp,
  testConfig,
} from "./test-support/fixtures.js";

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("matchDirectRoute", () => {
  const routes = [ROUTES.batchStorage, ROUTES.batchRestore, ROUTES.showJob].map((route) =>
    compileDirectRoute({
      method: route === ROUTES.showJob ? "GET" : "POST",
      route,
      handle: () => Promise.reject(new Error("not called")),
    }),
  );
  const match = (method: string, url: string) => {
    const found = matchDirectRoute(routes, method, url);
    return found && [found.route.route, found.params];
  };

  it("takes the exact paths of the hot routes, with their parameters", () => {
    expect(match("POST", `/v1/${PROJECT}/cloud-phone/phones/batch-storage`)).toEqual([
      ROUTES.batchStorage,
      { project_id: PROJECT },
    ]);
    expect(match("POST", "/v1/p/cloud-phone/phones/batch-restore?x=1")).toEqual([
      ROUTES.batchRestore,
      { project_id: "p" },
    ]);
    expect(match("GET", "/v1/p/cloud-phone/jobs/job-1")).toEqual([
      ROUTES.showJob,
      { project_id: "p", job_id: "job-1" },
    ]);
  });

  it("leaves every other spelling, method and route to hono", () => {
    for (const [method, url] of [
      ["POST", "/v1/p/cloud-phone/phones/batch-storage/"],
      ["POST", "/v1/p%41/cloud-phone/phones/batch-storage"],
      ["POST", "/v1//cloud-phone/phones/batch-storage"],
      ["POST", "http://gateway/v1/p/cloud-phone/phones/batch-storage"],
      ["POST", "/v1/p/cloud-phone/phones/batch-storagex"],
      ["PUT", "/v1/p/cloud-phone/phones/batch-storage"],
      ["GET", "/v1/p/cloud-phone/phones/batch-storage"],
      ["HEAD", "/v1/p/cloud-phone/jobs/job-1"],
      ["GET", "/v1/p/cloud-phone/jobs/job-1/x"],
      ["GET", "/v1/p/cloud-phone/jobs"],
      ["GET", "/healthz"],
    ] as const)
      expect(match(method, url), `${method} ${url}`).toBeUndefined();
  });
});

/** One request of the property below, sent to both entries. */
const requestArbitrary = fc.record({
  route: fc.constantFrom("storage", "restore", "job", "bad-job", "other-project"),
  auth: fc.constantFrom("team-a", "wrong", "none"),
  requestId: fc.constantFrom(undefined, "given-id-1", "bad id<"),
  idempotencyKey: fc.constantFrom(undefined, "key-1", "key-2", '"key-1"', "bad key"),
  body: fc.constantFrom("one", "three", "four", "not-json", "wrong-shape", "bucket", "too-large"),
  upstream: fc.constantFrom("ok", "ok", "cph-error", "network", "not-json", "unexpected"),
});
type GeneratedRequest = typeof requestArbitrary extends fc.Arbitrary<infer T> ? T : never;

function requestOf(base: string, request: GeneratedRequest): [string, RequestInit] {
  const project = request.route === "other-project" ? "ffffffffffffffffffffffffffffffff" : PROJECT;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (request.auth !== "none")
    headers["authorization"] = `Bearer ${request.auth === "team-a" ? TEAM_A_KEY : "not-a-key"}`;
  if (request.requestId !== undefined) headers["x-request-id"] = request.requestId;
  if (request.idempotencyKey !== undefined) headers["idempotency-key"] = request.idempotencyKey;
  if (request.route === "job" || request.route === "bad-job") {
    const id = request.route === "job" ? "job-7" : "job*7";
    return [`${base}/v1/${project}/cloud-phone/jobs/${id}`, { headers }];
  }
  const restore = request.route === "restore";
  const body = {
    one: () => exportBody(1),
    three: () => exportBody(3),
    four: () => exportBody(4),
    "not-json": () => '{"storage_infos": [',
    "wrong-shape": () => JSON.stringify({ storage_infos: "all" }),
    bucket: () => exportBody(1, { bucket_name: "team-b-backups" }),
    "too-large": () => exportBody(1, { object_path: `team-a/${"x".repeat(1200)}.tar` }),
  }[request.body]();
  const restoreBody = () =>
    JSON.stringify({
      restore_infos: (JSON.parse(body) as { storage_infos?: unknown[] }).storage_infos ?? [],
    });
  const path = restore ? "batch-restore" : "batch-storage";
  return [
    `${base}/v1/${project}/cloud-phone/phones/${path}`,
    {
      method: "POST",
      headers,
      body: restore && request.body !== "not-json" ? restoreBody() : body,
    },
  ];
}

async function answerOf(url: string, init: RequestInit) {
  const response = await fetch(url, init);
  const headers = [...response.headers].filter(([name]) => name !== "date");
  return { status: response.status, headers, body: await response.text() };
}

/** What the scripted upstream answers this request with (every operation alike). */
function scriptUpstream(upstream: FakeUpstream, answer: GeneratedRequest["upstream"]): void {
  const reply = (): Promise<unknown> => {
    switch (answer) {
      case "cph-error":
        return Promise.reject(
          new CphApiError({
            status: 400,
            errorCode: "CPS.0005",
            errorMessage: "phone not found",
            requestId: "upstream-request",
          }),
        );
      case "network":
        return Promise.reject(new CphNetworkError("connection reset", { phase: "response" }));
      case "not-json":
        return Promise.resolve({ bodyText: "<html>oops</html>" });
      case "unexpected":
        return Promise.reject(new TypeError("a bug"));
      default:
        return Promise.resolve(undefined);
    }
  };
  upstream.script = answer === "ok" ? {} : { batchExport: reply, batchRestore: reply, getJob: reply };
}

/** An access log line without what depends on timing. */
function logged(line: string) {
  const { time: _time, latency_ms: _latency, upstream_ms: upstream, ...rest } = JSON.parse(line);
  return { ...rest, upstream: upstream !== undefined };
}

describe("the node:http lane", () => {
  it("answers every request byte for byte as hono does, and logs it the same", async () => {
    const config = testConfig({ bodyLimitBytes: 1024 });
    await fc.assert(
      fc.asyncProperty(fc.array(requestArbitrary, { minLength: 1, maxLength: 8 }), async (requests) => {
        // Two gateways in the same state: one served by the lane, one by hono alone (what
        // @hono/node-server serves), each with the same clock, request ids and scripted upstream.
        const gateways = [0, 1].map(() => {
          let id = 0;
          return testApp({ config, now: () => 1_700_000_000_000, createRequestId: () => `made-${++id}` });
        });
        const [direct, viaHono] = gateways as [ReturnType<typeof testApp>, ReturnType<typeof testApp>];
        const bases = [await listen(direct.listener), await listen(getRequestListener(viaHono.app.fetch))];
        for (const request of requests) {
          for (const gateway of gateways) scriptUpstream(gateway.upstream, request.upstream);
          const [fromLane, fromHono] = await Promise.all(
            bases.map((base) => answerOf(...requestOf(base, request))),
          );
          expect(fromLane).toEqual(fromHono);
        }
        const lines = gateways.map((gateway) =>
          gateway.lines.filter((line) => line.includes('"msg":"request"')).map(logged),
        );
        expect(lines[0]).toEqual(lines[1]);
        expect(direct.upstream.calls.map((call) => call.operation)).toEqual(
          viaHono.upstream.calls.map((call) => call.operation),
        );
        await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
      }),
      { numRuns: 40 },
    );
  });

  it("serves the hot routes and every other route on one listener", async () => {
    const gateway = testApp();
    const base = await listen(gateway.listener);
    const post = await fetch(`${base}/v1/${PROJECT}/cloud-phone/phones/batch-storage`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEAM_A_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ storage_infos: [storageInfo(1)] }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get("x-content-type-options")).toBe("nosniff");
    expect(post.headers.get("content-length")).toBe(String((await post.text()).length));
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const missing = await fetch(`${base}/v1/${PROJECT}/cloud-phone/nothing`);
    expect(missing.status).toBe(404);
    const routes = gateway.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "request");
    expect(routes.map((entry) => [entry.route, entry.status])).toEqual([
      [ROUTES.batchStorage, 200],
      ["/healthz", 200],
      ["unmatched", 404],
    ]);
  });
});
