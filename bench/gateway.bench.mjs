// The same batch-storage load (10 phones a request, 32 in flight, undici) sent to the emulator
// directly, through cph-gateway, and through a bare node:http + undici pass-through proxy, in one
// run, each server in its own process. Prints the gateway's throughput as a ratio of the bare
// proxy's (target >= 0.9x, issue 16) and the latency the gateway adds over direct calls at a moderate fixed
// rate (target: p50 under 1 ms added).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { demoToken, importFrom, median } from "./support.mjs";

const REQUESTS = 3000;
const IN_FLIGHT = 32;
const WARMUP = 400;
const ROUNDS = 7;
const PHONES_PER_REQUEST = 10;
const RATE_PER_SECOND = 200;
const RATE_REQUESTS = 1000;
const LATENCY_ROUNDS = 5;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const { Pool } = await importFrom("@cph-export/http-client", "undici");

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
  "host",
]);

function withoutHopByHop(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers))
    if (!HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  return out;
}

/** The baseline: a pass-through proxy with nothing but node:http and an undici pool. */
async function runProxy(upstream) {
  const pool = new Pool(upstream, { connections: 128 });
  const server = createServer(async (request, response) => {
    try {
      const answer = await pool.request({
        method: request.method,
        path: request.url,
        headers: withoutHopByHop(request.headers),
        body: request.method === "GET" || request.method === "HEAD" ? undefined : request,
      });
      response.writeHead(answer.statusCode, withoutHopByHop(answer.headers));
      await pipeline(answer.body, response);
    } catch {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    }
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`proxy listening on http://127.0.0.1:${server.address().port}\n`);
  });
  process.once("SIGTERM", () => server.close(() => pool.close().then(() => process.exit(0))));
}

/** Spawns a server whose stdout goes to a file (as a log collector would take it); resolves its URL. */
async function spawnServer(args, env, logFile, banner) {
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", fd, "inherit"],
  });
  closeSync(fd);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const first = readFileSync(logFile, "utf8").split("\n", 1)[0];
    const match = banner.exec(first ?? "");
    if (match) return { url: match[1], child };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.join(" ")} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function stop(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once("exit", () => resolve());
    server.child.kill("SIGTERM");
  });
}

let sequence = 0;
function exportBody() {
  const run = (sequence++).toString(36);
  const infos = [];
  for (let index = 0; index < PHONES_PER_REQUEST; index++) {
    infos.push({
      phone_id: `bench${run}x${index}`,
      include_files: ["/data/media"],
      bucket_name: "bench-backups",
      object_path: `bench/${run}/${index}.tar`,
    });
  }
  return JSON.stringify({ storage_infos: infos });
}

function target(url, path, headers) {
  return { pool: new Pool(url, { connections: IN_FLIGHT }), path, headers };
}

async function send(target) {
  const response = await target.pool.request({
    method: "POST",
    path: target.path,
    headers: target.headers,
    body: exportBody(),
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode} from ${target.pool}`);
}

/** Closed loop: `count` requests, IN_FLIGHT at once; requests per second. */
async function throughput(target, count) {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      next++;
      await send(target);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Open loop at a fixed rate: the latency of each request, in ms. */
async function latencies(target, rate, count) {
  const interval = 1000 / rate;
  const results = [];
  const pending = [];
  const start = performance.now();
  for (let index = 0; index < count; index++) {
    const due = start + index * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    pending.push(send(target).then(() => results.push(performance.now() - sent)));
  }
  await Promise.all(pending);
  return results;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU seconds a process has used so far (Linux; undefined elsewhere). */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

async function main() {
  const { DEMO_CREDENTIALS } = await import("@cph-export/emulator");
  const directory = await mkdtemp(join(tmpdir(), "cph-gateway-bench-"));
  const servers = [];
  try {
    const emulatorConfig = join(directory, "emulator.json");
    // Jobs outlive the run, so that no archive is written while requests are measured.
    await writeFile(emulatorConfig, JSON.stringify({ jobDurationMs: 3_600_000 }));
    const emulator = await spawnServer(
      [
        join(root, "packages/emulator/bin/cph-emulator.js"),
        "--port",
        "0",
        "--data-dir",
        join(directory, "data"),
        "--config",
        emulatorConfig,
      ],
      {},
      join(directory, "emulator.log"),
      /^cph-emulator listening on (\S+)$/,
    );
    servers.push(emulator);

    const token = await demoToken(emulator.url);

    const apiKey = "bench-api-key-0123456789";
    const gatewayConfig = join(directory, "gateway.json");
    await writeFile(
      gatewayConfig,
      JSON.stringify({
        upstream: { endpoint: emulator.url, projectId: DEMO_CREDENTIALS.projectId, timeoutMs: 30_000 },
        callers: [
          {
            name: "bench",
            apiKeySha256: `sha256:${createHash("sha256").update(apiKey).digest("hex")}`,
            projects: [DEMO_CREDENTIALS.projectId],
            buckets: ["bench-*"],
            objectPathPrefixes: ["bench/"],
            requestsPerMinute: 1_000_000,
          },
        ],
      }),
    );
    // The same upstream authentication for all three paths: an X-Auth-Token.
    // CPH_BENCH_CPU_PROFILE=DIR writes the gateway's V8 CPU profile there, and the bare proxy's in DIR/proxy
    // (open them in Chrome DevTools).
    const profile = process.env.CPH_BENCH_CPU_PROFILE;
    const gateway = await spawnServer(
      [
        ...(profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : []),
        join(root, "apps/gateway/bin/cph-gateway.js"),
        "--config",
        gatewayConfig,
        "--port",
        "0",
      ],
      { CPH_GATEWAY_UPSTREAM_TOKEN: token },
      join(directory, "gateway.log"),
      /^cph-gateway listening on (\S+)$/,
    );
    servers.push(gateway);
    const proxy = await spawnServer(
      [
        ...(profile ? ["--cpu-prof", "--cpu-prof-dir", join(profile, "proxy")] : []),
        fileURLToPath(import.meta.url),
        "--proxy-to",
        emulator.url,
      ],
      {},
      join(directory, "proxy.log"),
      /^proxy listening on (\S+)$/,
    );
    servers.push(proxy);

    const path = `/v1/${DEMO_CREDENTIALS.projectId}/cloud-phone/phones/batch-storage`;
    const json = { "content-type": "application/json" };
    const targets = {
      direct: target(emulator.url, path, { ...json, "x-auth-token": token }),
      proxy: target(proxy.url, path, { ...json, "x-auth-token": token }),
      gateway: target(gateway.url, path, { ...json, authorization: `Bearer ${apiKey}` }),
    };
    for (const entry of Object.values(targets)) await throughput(entry, WARMUP);
    const rates = { direct: [], proxy: [], gateway: [] };
    const ratios = [];
    const cpu = { proxy: 0, gateway: 0 };
    const servedBy = { proxy, gateway };
    for (let round = 0; round < ROUNDS; round++) {
      // The proxy and the gateway take turns going first, so that neither always follows the other.
      const order = round % 2 === 0 ? ["direct", "proxy", "gateway"] : ["direct", "gateway", "proxy"];
      for (const name of order) {
        globalThis.gc?.();
        const before = servedBy[name] ? cpuSeconds(servedBy[name].child.pid) : undefined;
        rates[name].push(await throughput(targets[name], REQUESTS));
        if (before !== undefined) cpu[name] += cpuSeconds(servedBy[name].child.pid) - before;
      }
      // Paired within the round: a machine that speeds up or slows down between rounds moves both.
      ratios.push(rates.gateway[round] / rates.proxy[round]);
    }
    const direct = median(rates.direct);
    const bare = median(rates.proxy);
    const through = median(rates.gateway);
    const sortedRatios = [...ratios].sort((a, b) => a - b);
    console.log(
      `gateway: throughput ${median(ratios).toFixed(2)}x of a bare node:http+undici proxy (target >= 0.9x)` +
        ` [median of ${ROUNDS} paired rounds, ${sortedRatios[0].toFixed(2)}-${sortedRatios.at(-1).toFixed(2)};` +
        ` ${REQUESTS} requests of ${PHONES_PER_REQUEST} phones, ${IN_FLIGHT} in flight:` +
        ` direct ${direct.toFixed(0)} req/s, bare proxy ${bare.toFixed(0)} req/s, gateway ${through.toFixed(0)} req/s]`,
    );
    const perRequest = (name) => ((cpu[name] / (ROUNDS * REQUESTS)) * 1000).toFixed(3);
    console.log(
      `gateway: CPU per request ${perRequest("gateway")} ms in the gateway, ${perRequest("proxy")} ms in the bare proxy`,
    );

    // In rounds that take turns, like the throughput: a slower stretch of the machine's time then
    // falls on all three instead of on whichever was measured during it.
    const samples = { direct: [], proxy: [], gateway: [] };
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      const order = round % 2 === 0 ? ["direct", "proxy", "gateway"] : ["gateway", "proxy", "direct"];
      for (const name of order)
        samples[name].push(
          ...(await latencies(targets[name], RATE_PER_SECOND, RATE_REQUESTS / LATENCY_ROUNDS)),
        );
    }
    const [directLatency, proxyLatency, gatewayLatency] = ["direct", "proxy", "gateway"].map((name) =>
      samples[name].sort((a, b) => a - b),
    );
    const added = (sorted, p) => percentile(sorted, p) - percentile(directLatency, p);
    console.log(
      `gateway: added latency p50 ${added(gatewayLatency, 50).toFixed(2)} ms (target < 1 ms), p99 ${added(gatewayLatency, 99).toFixed(2)} ms` +
        ` [${RATE_REQUESTS} requests each at ${RATE_PER_SECOND}/s, in ${LATENCY_ROUNDS} rounds: direct p50 ${percentile(directLatency, 50).toFixed(2)} ms` +
        ` p99 ${percentile(directLatency, 99).toFixed(2)} ms, gateway p50 ${percentile(gatewayLatency, 50).toFixed(2)} ms` +
        ` p99 ${percentile(gatewayLatency, 99).toFixed(2)} ms; the bare proxy adds p50 ${added(proxyLatency, 50).toFixed(2)} ms,` +
        ` p99 ${added(proxyLatency, 99).toFixed(2)} ms]`,
    );
    // The gateway's own part, from its access log: the time each request spent in the gateway
    // (latency_ms) less the time it waited for the emulator (upstream_ms); the rest of what it adds
    // is the extra hop that any proxy costs. Lines are written at most 20 ms late.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const own = (await readFile(join(directory, "gateway.log"), "utf8"))
      .split("\n")
      .filter((line) => line.includes('"msg":"request"'))
      .slice(-RATE_REQUESTS)
      .map((line) => JSON.parse(line))
      .map((entry) => entry.latency_ms - (entry.upstream_ms ?? 0))
      .sort((a, b) => a - b);
    console.log(
      `gateway: its own work per request at ${RATE_PER_SECOND}/s (access log latency_ms - upstream_ms): p50 ${percentile(own, 50).toFixed(2)} ms, p99 ${percentile(own, 99).toFixed(2)} ms`,
    );
    await Promise.all(Object.values(targets).map((entry) => entry.pool.close()));
  } finally {
    await Promise.all(servers.map(stop));
    if (!process.env.CPH_BENCH_KEEP) await rm(directory, { recursive: true, force: true });
    else console.log(`kept ${directory}`);
  }
}

if (process.argv[2] === "--proxy-to") await runProxy(process.argv[3]);
else await main();
