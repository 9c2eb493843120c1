// Campaign throughput with two gateway replicas against one, when CPH's latency dominates: the
// emulator answers every CPH call after LATENCY_MS and each job takes JOB_MS, so a batch spends its
// time waiting, not computing. Each replica runs WORKERS batches at once; the campaign allows more
// than one replica can take, so a second replica should nearly double the rate. Target >= 1.7x.
// The archives are empty, so that the emulator's CPU, which shares the machine's cores with the
// gateways, is not what is measured.
// Also printed: Redis commands per phone (INFO commandstats before and after, BullMQ's included).
// Needs redis-server on PATH (or CPH_TEST_REDIS_URL) and the built bins.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./support.mjs";

const PHONES = 480;
const BATCH = 10;
const WORKERS = 6;
const LATENCY_MS = 300;
const JOB_MS = 2000;
const ROUNDS = 3;
const TARGET = 1.7;
const KEY = "bench-campaign-api-key-0000000001";
const PROJECT = "0123456789abcdef0123456789abcdef";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const { spawnEmulator } = await import("@cph-export/emulator");

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitForLine(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${text}`)), 15_000);
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once("exit", (code) => reject(new Error(`${what} exited ${code}:\n${text}`)));
  });
}

async function startRedis() {
  if (process.env.CPH_TEST_REDIS_URL) return { url: process.env.CPH_TEST_REDIS_URL, stop: async () => {} };
  if (spawnSync("redis-server", ["--version"]).error) throw new Error("redis-server is not on PATH");
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await waitForLine(child, /Ready to accept connections/, "redis-server");
  return { url: `redis://127.0.0.1:${port}`, stop: async () => child.kill() };
}

/**
 * Watches Redis with MONITOR: `stop()` gives the commands clients sent (round trips; a pipeline
 * counts each of its commands) and those Lua scripts ran inside Redis.
 */
function monitorRedis(url) {
  const { port, hostname } = new URL(url);
  const child = spawn("redis-cli", ["-h", hostname, "-p", port, "monitor"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const counts = { client: 0, script: 0 };
  let rest = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes(" [0 lua] ") || / \[\d+ lua\] /.test(line)) counts.script++;
      else if (/^\d+\.\d+ \[/.test(line)) counts.client++;
    }
  });
  child.on("error", () => {});
  return {
    stop: async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill();
      return counts;
    },
  };
}

async function startGateway(configFile, redisUrl) {
  const child = spawn(
    process.execPath,
    [join(root, "apps/gateway/bin/cph-gateway.js"), "--config", configFile, "--port", "0"],
    {
      env: {
        PATH: process.env.PATH ?? "",
        CPH_GATEWAY_UPSTREAM_AK: "EMULATORDEMOAK0000001",
        CPH_GATEWAY_UPSTREAM_SK: "emulator-demo-secret-key-0001",
        CPH_GATEWAY_REDIS_URL: redisUrl,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const [, url] = await waitForLine(child, /cph-gateway listening on (http:\/\/\S+)/, "cph-gateway");
  // The JSON log lines go to a file when CPH_BENCH_LOG_DIR is set, else nowhere.
  if (process.env.CPH_BENCH_LOG_DIR) {
    const { createWriteStream } = await import("node:fs");
    child.stdout.pipe(createWriteStream(join(process.env.CPH_BENCH_LOG_DIR, `gateway-${child.pid}.log`)));
  } else child.stdout.resume();
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

async function campaign(gateways, redisUrl, round) {
  const phones = Array.from(
    { length: PHONES },
    (_, index) => `bench${round}x${String(index).padStart(5, "0")}`,
  );
  const monitor = monitorRedis(redisUrl);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  const answer = await fetch(`${gateways[0].url}/v1/campaigns`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      phones,
      bucket_name: "bench-backups",
      object_path: "bench/{phone_id}.tar",
      // A path the emulated phones hold nothing under: the emulator writes empty archives, so its
      // CPU (shared with the gateways on this machine) is not what is measured.
      include_files: ["/data/bench-empty"],
      batch_size: BATCH,
      max_concurrency: WORKERS * 4,
    }),
  });
  const created = await answer.json();
  if (answer.status !== 201)
    throw new Error(`campaign not created: ${answer.status} ${JSON.stringify(created)}`);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const view = await (
      await fetch(`${gateways[0].url}/v1/campaigns/${created.campaign_id}`, {
        headers: { Authorization: `Bearer ${KEY}` },
      })
    ).json();
    if (view.finished_at) {
      if (view.counts.succeeded !== PHONES) throw new Error(`only ${view.counts.succeeded} succeeded`);
      break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = await monitor.stop();
  return {
    perSecond: PHONES / seconds,
    roundTrips: counts.client / PHONES,
    scripted: counts.script / PHONES,
  };
}

const redis = await startRedis();
const emulator = await spawnEmulator({
  config: { jobDurationMs: JOB_MS, archiveConcurrency: 64, faults: { latencyMs: LATENCY_MS } },
});
const dir = await mkdtemp(join(tmpdir(), "cph-bench-campaign-"));
const configFile = join(dir, "gateway.json");
await writeFile(
  configFile,
  JSON.stringify({
    upstream: { endpoint: emulator.url, projectId: PROJECT, timeoutMs: 10_000 },
    callers: [
      {
        name: "bench",
        apiKeySha256: `sha256:${createHash("sha256").update(KEY).digest("hex")}`,
        projects: [PROJECT],
        buckets: ["bench-*"],
        objectPathPrefixes: ["bench/"],
        requestsPerMinute: 1_000_000,
      },
    ],
    redis: { keyPrefix: `bench-campaign-${process.pid}:` },
    campaigns: { workerConcurrency: WORKERS, pollIntervalMs: 200, pollMaxIntervalMs: 400 },
  }),
);

const one = [];
const two = [];
try {
  const first = await startGateway(configFile, redis.url);
  let second;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so that neither setting always runs on a warmer machine.
      const order = round % 2 === 0 ? ["one", "two"] : ["two", "one"];
      for (const setting of order) {
        if (setting === "one") {
          if (second) {
            await second.stop();
            second = undefined;
          }
          one.push(await campaign([first], redis.url, `${round}a`));
        } else {
          second ??= await startGateway(configFile, redis.url);
          two.push(await campaign([first, second], redis.url, `${round}b`));
        }
      }
    }
  } finally {
    await second?.stop();
    await first.stop();
  }
} finally {
  await emulator.stop();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}

const rate = (runs) => median(runs.map((run) => run.perSecond));
const ratio = rate(two) / rate(one);
console.log(
  `campaign, ${PHONES} phones in batches of ${BATCH}, CPH latency ${LATENCY_MS} ms, jobs ${JOB_MS} ms, ${WORKERS} batches per replica:`,
);
console.log(`  1 replica:  ${rate(one).toFixed(1)} phones/s (median of ${ROUNDS})`);
console.log(`  2 replicas: ${rate(two).toFixed(1)} phones/s`);
console.log(
  `  ratio 2 replicas / 1: ${ratio.toFixed(2)}x (target >= ${TARGET}x) ${ratio >= TARGET ? "ok" : "BELOW TARGET"}`,
);
const trips = [...one, ...two].map((run) => run.roundTrips).filter((value) => value > 0);
if (trips.length > 0) {
  console.log(
    `  Redis round trips per phone: ${median(trips).toFixed(2)} (${(median(trips) * BATCH).toFixed(1)} per batch of ${BATCH}; ` +
      `BullMQ's, the campaign's Lua scripts and the 4 status reads a second of this bench), ` +
      `plus ${median([...one, ...two].map((run) => run.scripted)).toFixed(1)} commands run inside Lua scripts`,
  );
}
