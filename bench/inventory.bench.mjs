// Listing 10,000 phones through client.listPhones (100 a page: 101 ListCloudPhones calls, each
// answer validated by core's schema) as a ratio to the same paged GETs sent bare with undici and
// read as text, both against one ListCloudPhones server in a child process, measured alternately
// in the same run. Target < 1.2x.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createCphClient } from "@cph-export/http-client";
import { importFrom, median } from "./support.mjs";

const { Agent, request } = await importFrom("@cph-export/http-client", "undici");

const PROJECT_ID = "0123456789abcdef0123456789abcdef";
const PHONES = 10_000;
const PAGE = 100;
const RUNS = 15;
const TARGET = 1.2;

function serve() {
  const phones = Array.from({ length: PHONES }, (_, index) => ({
    phone_name: `phone-${String(index).padStart(5, "0")}`,
    server_id: `server-${index % 20}`,
    phone_id: index.toString(16).padStart(32, "0"),
    phone_model_name: "kc1.large.2",
    image_id: "0123456789abcdef0123456789abcdef",
    vnc_enable: "true",
    status: index % 10 === 9 ? 8 : 2,
    type: 0,
    metadata: { order_id: "order-1", product_id: "product-1" },
    create_time: "2026-01-02T03:04:05Z",
    update_time: "2026-01-02T03:04:05Z",
  }));
  const pages = new Map();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const offset = Number(url.searchParams.get("offset"));
    const limit = Number(url.searchParams.get("limit"));
    const key = `${offset}/${limit}`;
    let body = pages.get(key);
    if (!body) {
      body = JSON.stringify({ request_id: "rq", phones: phones.slice(offset, offset + limit) });
      pages.set(key, body);
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));
}

async function bare(origin, dispatcher) {
  let count = 0;
  for (let offset = 0; ; offset += PAGE) {
    const answer = await request(
      `${origin}/v1/${PROJECT_ID}/cloud-phone/phones?offset=${offset}&limit=${PAGE}`,
      { dispatcher, headers: { "x-auth-token": "bench-token" } },
    );
    const phones = JSON.parse(await answer.body.text()).phones;
    count += phones.length;
    if (phones.length < PAGE) return count;
  }
}

async function viaClient(client) {
  let count = 0;
  for await (const _ of client.listPhones()) count++;
  return count;
}

async function time(run) {
  const started = process.hrtime.bigint();
  const count = await run();
  if (count !== PHONES) throw new Error(`listed ${count} phones, expected ${PHONES}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function main() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = await once(createInterface({ input: child.stdout }), "line");
  const origin = `http://127.0.0.1:${line.trim()}`;
  const dispatcher = new Agent({ connections: 4 });
  const client = createCphClient({
    endpoint: origin,
    projectId: PROJECT_ID,
    credentials: { type: "token", token: "bench-token" },
  });
  try {
    // Warm both paths (JIT, connections, the server's page cache).
    await time(() => bare(origin, dispatcher));
    await time(() => viaClient(client));
    const bareRuns = [];
    const clientRuns = [];
    for (let run = 0; run < RUNS; run++) {
      bareRuns.push(await time(() => bare(origin, dispatcher)));
      clientRuns.push(await time(() => viaClient(client)));
    }
    const baseline = median(bareRuns);
    const measured = median(clientRuns);
    const ratio = measured / baseline;
    console.log(
      `bare paged GETs (${PHONES} phones, ${PHONES / PAGE + 1} pages): ${baseline.toFixed(1)} ms (median of ${RUNS})`,
    );
    console.log(`client.listPhones:                        ${measured.toFixed(1)} ms`);
    console.log(
      `listing ratio: ${ratio.toFixed(2)}x (target < ${TARGET}x) ${ratio < TARGET ? "ok" : "OVER TARGET"}`,
    );
  } finally {
    await client.close();
    await dispatcher.close();
    child.kill();
  }
}

if (process.argv[2] === "serve") serve();
else await main();
