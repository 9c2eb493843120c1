// The AbortSignals of upstream calls are reused (see `spareControllers` in app.ts): checked here
// against the real http-client and undici, which keep a listener on a signal for a while after a
// call settled. A reused signal must carry no listener into the next call.
import { getEventListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { HttpRequest } from "@cph-export/core";
import { createCphClient, type RequestOptions } from "@cph-export/http-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { createJsonLogger } from "./logger.js";
import { createMemoryStateStore } from "./state-store.js";
import { exportBody, PROJECT, TEAM_A_KEY, testConfig } from "./test-support/fixtures.js";

let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end('{"request_id":"up","jobs":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("upstream signals", () => {
  it("reuses a signal only once no listener is left on it, with the real http-client and undici", async () => {
    const client = createCphClient({
      endpoint,
      projectId: PROJECT,
      credentials: { type: "token", token: "t" },
    });
    const seen: Array<{ signal: AbortSignal; listeners: number }> = [];
    const upstream = {
      endpoint: client.endpoint,
      projectId: client.projectId,
      authenticate: (options?: RequestOptions) => client.authenticate(options),
      send(request: HttpRequest, options?: RequestOptions) {
        const signal = options?.signal as AbortSignal;
        seen.push({ signal, listeners: getEventListeners(signal, "abort").length });
        return client.send(request, options);
      },
    };
    const app = createApp({
      config: testConfig(),
      upstream,
      store: createMemoryStateStore(),
      logger: createJsonLogger({ write: () => {} }),
    });
    const post = () =>
      app.request(`/v1/${PROJECT}/cloud-phone/phones/batch-storage`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TEAM_A_KEY}`, "Content-Type": "application/json" },
        body: exportBody(1),
      });
    // Back to back (the signal of the call before may still carry undici's listener), then after
    // the event loop turned; and many at once.
    for (let round = 0; round < 5; round++) {
      expect((await post()).status).toBe(200);
      expect((await post()).status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const statuses = await Promise.all(Array.from({ length: 20 }, post));
    expect(statuses.every((response) => response.status === 200)).toBe(true);
    expect(seen.every((call) => call.listeners === 0)).toBe(true);
    // Reuse happens at all: fewer signals than calls.
    expect(new Set(seen.map((call) => call.signal)).size).toBeLessThan(seen.length);
    await client.close();
  });
});
