// The default dispatcher goes through HTTP_PROXY / HTTPS_PROXY, except for hosts in NO_PROXY: a
// CONNECT proxy on loopback in front of the in-process emulator counts the tunnels it opens.
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type RunningEmulator, startEmulator } from "@cph-export/emulator";
import { createCphClient } from "@cph-export/http-client";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

let dataDir: string;
let emulator: RunningEmulator;
let proxy: Server;
let proxyUrl: string;
/** The `host:port` of every CONNECT the proxy was asked for. */
const tunnels: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "cph-http-client-proxy-"));
  emulator = await startEmulator({ dataDir });
  proxy = createServer((_request, response) => {
    response.writeHead(405).end("this proxy only tunnels");
  });
  proxy.on("connect", (request, client, head) => {
    tunnels.push(request.url ?? "");
    const [host, port] = (request.url ?? "").split(":");
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await emulator?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllEnvs();
  tunnels.length = 0;
});

/** Lists jobs with a client made now, so that its default dispatcher reads the environment now. */
async function listThroughDefaultDispatcher(): Promise<void> {
  const client = createCphClient({
    endpoint: emulator.url,
    projectId: DEMO_CREDENTIALS.projectId,
    credentials: {
      type: "aksk",
      accessKey: DEMO_CREDENTIALS.accessKey,
      secretKey: DEMO_CREDENTIALS.secretKey,
    },
  });
  try {
    await expect(client.listJobs({ requestIds: ["no-such-request"] })).resolves.toMatchObject({ jobs: [] });
  } finally {
    await client.close();
  }
}

function stubProxyEnvironment(noProxy: string): void {
  for (const name of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"]) vi.stubEnv(name, proxyUrl);
  for (const name of ["NO_PROXY", "no_proxy"]) vi.stubEnv(name, noProxy);
}

describe("the default dispatcher and the proxy environment", () => {
  it("tunnels through HTTP_PROXY / HTTPS_PROXY", async () => {
    stubProxyEnvironment("");
    await listThroughDefaultDispatcher();
    expect(tunnels).toEqual([new URL(emulator.url).host]);
  });

  it("goes direct to a host listed in NO_PROXY", async () => {
    stubProxyEnvironment("127.0.0.1");
    await listThroughDefaultDispatcher();
    expect(tunnels).toEqual([]);
  });
});
