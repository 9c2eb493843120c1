// Requests per second of batch-storage (10 phones a request, token auth) through the emulator, as a
// ratio to a bare @hono/node-server hello route driven by the same undici load in the same run.
// No target is set: the number says what a test suite can expect of the emulator.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBatchExportRequest } from "@cph-export/core";
import { demoToken, importFrom, median } from "./support.mjs";
import { DEMO_CREDENTIALS, startEmulator } from "@cph-export/emulator";

const REQUESTS = 2000;
const IN_FLIGHT = 16;
const WARMUP = 300;
const ROUNDS = 5;
const PHONES_PER_REQUEST = 10;

const { Hono } = await importFrom("@cph-export/emulator", "hono");
const { serve } = await importFrom("@cph-export/emulator", "@hono/node-server");
const { Pool } = await importFrom("@cph-export/emulator", "undici");

function startHello() {
  const app = new Hono();
  app.get("/hello", (c) => c.json({ hello: "world" }));
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

/** Sends `count` requests with `IN_FLIGHT` at once; returns requests per second. */
async function drive(pool, count, makeRequest) {
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await pool.request(makeRequest());
      await response.body.dump();
      if (response.statusCode !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (failures > 0) throw new Error(`${failures} of ${count} requests did not answer 200`);
  return count / seconds;
}

const dataDir = await mkdtemp(join(tmpdir(), "cph-emulator-bench-"));
// Jobs outlive the run (an hour), so no archive is written while requests are measured.
const emulator = await startEmulator({ dataDir, config: { jobDurationMs: 3_600_000 } });
const hello = await startHello();
try {
  const token = await demoToken(emulator.url);

  let batch = 0;
  const exportRequest = () => {
    const storageInfos = Array.from({ length: PHONES_PER_REQUEST }, (_, index) => {
      const phoneId = `${batch.toString(16).padStart(28, "0")}${index.toString(16).padStart(4, "0")}`;
      return {
        phone_id: phoneId,
        include_files: ["/data/local/tmp"],
        bucket_name: "bench",
        object_path: `run/${phoneId}.tar`,
      };
    });
    batch++;
    const built = buildBatchExportRequest({
      endpoint: emulator.url,
      projectId: DEMO_CREDENTIALS.projectId,
      storageInfos,
    });
    const url = new URL(built.url);
    return {
      method: "POST",
      path: url.pathname,
      headers: { ...built.headers, "X-Auth-Token": token },
      body: built.body,
    };
  };
  const helloRequest = () => ({ method: "GET", path: "/hello" });

  const emulatorPool = new Pool(emulator.url, { connections: IN_FLIGHT });
  const helloPool = new Pool(hello.url, { connections: IN_FLIGHT });
  await drive(helloPool, WARMUP, helloRequest);
  await drive(emulatorPool, WARMUP, exportRequest);
  const helloRates = [];
  const emulatorRates = [];
  for (let round = 0; round < ROUNDS; round++) {
    helloRates.push(await drive(helloPool, REQUESTS, helloRequest));
    emulatorRates.push(await drive(emulatorPool, REQUESTS, exportRequest));
  }
  await Promise.all([emulatorPool.close(), helloPool.close()]);
  const helloRate = median(helloRates);
  const emulatorRate = median(emulatorRates);
  console.log(
    `emulator batch-storage: ${Math.round(emulatorRate)} req/s = ${(emulatorRate / helloRate).toFixed(2)}x of bare hono hello ` +
      `(${Math.round(helloRate)} req/s) (${REQUESTS} requests, ${IN_FLIGHT} in flight, ${PHONES_PER_REQUEST} phones each, ` +
      `median of ${ROUNDS}; no target)`,
  );
} finally {
  await Promise.all([emulator.close(), hello.close()]);
  await rm(dataDir, { recursive: true, force: true });
}
