// The gateway bin forwards the caller's X-Request-Id to its upstream, signed with the upstream
// AK/SK. The upstream is a recording CPH stand-in in this process (the emulator keeps no headers).
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { verifySignature } from "@cph-export/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  cleanUp,
  EXPORT_PATH,
  gatewayConfig,
  KEYS,
  leakedSecrets,
  PROJECT,
  request,
  type Spawned,
  startGateway,
  storageInfos,
  UPSTREAM,
} from "./support.js";
import { SECURE_HEADERS } from "../src/app.js";

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const received: Received[] = [];
let upstream: Server;
let gateway: Spawned;

/** CPH-shaped answers: every phone accepted, jobs found. */
function answer(method: string, url: string, body: Buffer): unknown {
  if (method === "POST") {
    const infos = (JSON.parse(body.toString("utf8")) as { storage_infos: Array<{ phone_id: string }> })
      .storage_infos;
    return {
      request_id: `upstream-${received.length}`,
      jobs: infos.map((info) => ({ phone_id: info.phone_id, job_id: `job-${info.phone_id}` })),
    };
  }
  if (url.includes("?")) return { request_id: `upstream-${received.length}`, jobs: [] };
  return { request_id: `upstream-${received.length}`, job_id: "job-1", phone_id: "phone1", status: 2 };
}

beforeAll(async () => {
  upstream = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const body = Buffer.concat(chunks);
      const method = incoming.method ?? "";
      const url = incoming.url ?? "";
      received.push({ method, url, headers: incoming.headers, body });
      outgoing.writeHead(200, { "Content-Type": "application/json" });
      outgoing.end(JSON.stringify(answer(method, url, body)));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const { port } = upstream.address() as AddressInfo;
  gateway = await startGateway(gatewayConfig(`http://127.0.0.1:${port}`));
});

afterAll(async () => {
  await cleanUp();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  expect(leakedSecrets()).toEqual([]);
});

function signedBy(entry: Received, headers: IncomingHttpHeaders = entry.headers) {
  return verifySignature({
    method: entry.method,
    url: entry.url,
    headers: headers as Record<string, string>,
    body: entry.body,
    lookup: (accessKey) =>
      accessKey === UPSTREAM.accessKey ? { accessKey, secretKey: UPSTREAM.secretKey } : undefined,
  });
}

describe("X-Request-Id upstream", () => {
  it("reaches the upstream with batch-storage, signed with the upstream AK/SK", async () => {
    const infos = storageInfos(2);
    const before = received.length;
    const answered = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(KEYS.teamA, { "X-Request-Id": "e2e-trace-upstream-1" }),
      body: JSON.stringify({ storage_infos: infos }),
    });
    expect(answered.status).toBe(200);
    expect(answered.headers.get("x-request-id")).toBe("e2e-trace-upstream-1");
    // Written by @hono/node-server from one plain header object: every header is there.
    expect(answered.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    for (const [name, value] of Object.entries(SECURE_HEADERS))
      expect(answered.headers.get(name)).toBe(value);
    expect(answered.body).toEqual({
      request_id: `upstream-${received.length}`,
      jobs: infos.map((info) => ({ phone_id: info.phone_id, job_id: `job-${info.phone_id}` })),
    });
    const sent = received.slice(before);
    expect(sent).toHaveLength(1);
    const entry = sent[0] as Received;
    expect(entry.url).toBe(EXPORT_PATH);
    expect(entry.headers["x-request-id"]).toBe("e2e-trace-upstream-1");
    expect(entry.headers["authorization"]).toMatch(/SignedHeaders=[^,]*;x-request-id;/);
    expect(await signedBy(entry)).toMatchObject({ ok: true, accessKey: UPSTREAM.accessKey });
    const altered = await signedBy(entry, { ...entry.headers, "x-request-id": "e2e-trace-other" });
    expect(altered.ok).toBe(false);
    expect(JSON.parse(entry.body.toString("utf8"))).toEqual({ storage_infos: infos });
  });

  it("reaches the upstream with ShowJob and ListJobs", async () => {
    const before = received.length;
    const headers = bearer(KEYS.teamA, { "X-Request-Id": "e2e-trace-upstream-2" });
    expect((await request(`${gateway.url}/v1/${PROJECT}/cloud-phone/jobs/job-1`, { headers })).status).toBe(
      200,
    );
    const listed = await request(`${gateway.url}/v1/${PROJECT}/cloud-phone/jobs?request_ids=a,b`, {
      headers,
    });
    expect(listed.status).toBe(200);
    const sent = received.slice(before);
    expect(sent.map((entry) => [entry.method, entry.url, entry.headers["x-request-id"]])).toEqual([
      ["GET", `/v1/${PROJECT}/cloud-phone/jobs/job-1`, "e2e-trace-upstream-2"],
      ["GET", `/v1/${PROJECT}/cloud-phone/jobs?request_ids=a,b&offset=0&limit=100`, "e2e-trace-upstream-2"],
    ]);
    for (const entry of sent) expect(await signedBy(entry)).toMatchObject({ ok: true });
  });

  it("sends the id the gateway made, the one the caller gets back, when the caller sent none", async () => {
    const before = received.length;
    const answered = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(KEYS.teamA),
      body: JSON.stringify({ storage_infos: storageInfos(1) }),
    });
    expect(answered.status).toBe(200);
    const made = answered.headers.get("x-request-id");
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(received.slice(before).map((entry) => entry.headers["x-request-id"])).toEqual([made]);
  });
});
