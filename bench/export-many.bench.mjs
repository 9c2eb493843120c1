// exportMany against the emulator process, in two measurements:
// 1. 10,000 phones, batch 100, concurrency 8, emulator latency 20 ms: wall time as a ratio to the
//    ideal ceil(10000/100/8) rounds of the emulator's real per-request floor, measured in the same
//    run as that many sequential rounds of 8 parallel one-phone batch-storage calls. Target <= 1.5x.
// 2. Peak RSS of a child process streaming 100,000 phones from an NDJSON file through exportMany
//    (latency 0, jobs not followed). Target < 200 MB; shown beside a bare process importing the client.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { spawnEmulator } from "@cph-export/emulator";
import { createCphClient } from "@cph-export/http-client";
import { median } from "./support.mjs";

const PROJECT_ID = "0123456789abcdef0123456789abcdef";
const CREDENTIALS = {
  type: "aksk",
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
};
const PHONES = 10_000;
const BATCH = 100;
const CONCURRENCY = 8;
const LATENCY_MS = 20;
const STREAMED = 100_000;
const WALL_TARGET = 1.5;
const RSS_TARGET_MB = 200;
const RUNS = 5;

const self = fileURLToPath(import.meta.url);

function storageInfo(prefix, index) {
  const phoneId = `${prefix}${index.toString(16).padStart(12, "0")}`;
  return {
    phone_id: phoneId,
    include_files: ["/data/app", "/data/media"],
    exclude_files: ["/data/media/0/DCIM/.thumbnails"],
    bucket_name: "bench-bucket",
    object_path: `fleet/${phoneId}.tar`,
  };
}

function* phones(prefix, count) {
  for (let index = 0; index < count; index++) yield storageInfo(prefix, index);
}

/** Spawns the emulator bin (jobs never finish during the bench, so no archive is written). */
function startEmulator(dir, faults) {
  return spawnEmulator({ dataDir: join(dir, "data"), config: { jobDurationMs: 3_600_000, faults } });
}

async function drain(iterable) {
  const counts = {};
  for await (const result of iterable) counts[result.state] = (counts[result.state] ?? 0) + 1;
  return counts;
}

/** The floor: the same number of rounds, each 8 parallel minimal batch-storage calls, one after another. */
async function idealRounds(client, rounds, tag) {
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, slot) =>
        client.batchExport([storageInfo(`${tag}r${round}s${slot}x`, 0)]),
      ),
    );
  }
  return performance.now() - started;
}

async function wallTime(dir) {
  const emulator = await startEmulator(dir, { latencyMs: LATENCY_MS });
  const client = createCphClient({ endpoint: emulator.url, projectId: PROJECT_ID, credentials: CREDENTIALS });
  const rounds = Math.ceil(PHONES / BATCH / CONCURRENCY);
  try {
    await idealRounds(client, 2, "warm");
    await drain(
      client.exportMany(phones("warm", 2 * BATCH * CONCURRENCY), {
        batchSize: BATCH,
        concurrency: CONCURRENCY,
      }),
    );
    const ratios = [];
    const journalRatios = [];
    let lastIdeal = 0;
    let lastWall = 0;
    for (let run = 0; run < RUNS; run++) {
      const ideal = await idealRounds(client, rounds, `i${run}`);
      const started = performance.now();
      const counts = await drain(
        client.exportMany(phones(`w${run}p`, PHONES), { batchSize: BATCH, concurrency: CONCURRENCY }),
      );
      const wall = performance.now() - started;
      if (counts.accepted !== PHONES)
        throw new Error(`expected ${PHONES} accepted, got ${JSON.stringify(counts)}`);
      const journal = join(dir, `bench-${run}.journal`);
      const journalStarted = performance.now();
      await drain(
        client.exportMany(phones(`j${run}p`, PHONES), {
          batchSize: BATCH,
          concurrency: CONCURRENCY,
          journal,
        }),
      );
      journalRatios.push((performance.now() - journalStarted) / ideal);
      ratios.push(wall / ideal);
      lastIdeal = ideal;
      lastWall = wall;
    }
    const ratio = median(ratios);
    console.log(
      `export-many: wall ${ratio.toFixed(2)}x of ideal (target <= ${WALL_TARGET}x) ` +
        `[${PHONES} phones, batch ${BATCH}, concurrency ${CONCURRENCY}, latency ${LATENCY_MS} ms; ` +
        `last run ${lastWall.toFixed(0)} ms vs ideal ${rounds} rounds = ${lastIdeal.toFixed(0)} ms; median of ${RUNS}]`,
    );
    console.log(
      `export-many: wall with an fsync'ed journal ${median(journalRatios).toFixed(2)}x of ideal (informational, no target)`,
    );
    return ratio <= WALL_TARGET;
  } finally {
    await client.close();
    await emulator.stop();
  }
}

/** Runs this file as a child in `--child` mode and returns its peak RSS in MB. */
async function childPeakRss(args) {
  const child = spawn(process.execPath, [self, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  const [code] = await once(child, "exit");
  if (code !== 0) throw new Error(`child ${args[0]} exited with ${code}`);
  const report = JSON.parse(output.trim().split("\n").at(-1));
  return report;
}

async function peakRss(dir) {
  const file = join(dir, "phones.ndjson");
  const out = createWriteStream(file);
  for (const info of phones("rss", STREAMED)) {
    if (!out.write(`${JSON.stringify(info)}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  const emulator = await startEmulator(dir, {});
  try {
    const bare = await childPeakRss(["--child-bare"]);
    const streamed = await childPeakRss(["--child-stream", file, emulator.url]);
    if (streamed.results !== STREAMED)
      throw new Error(`expected ${STREAMED} results, got ${streamed.results}`);
    const mb = streamed.maxRssKb / 1024;
    console.log(
      `export-many: peak RSS ${mb.toFixed(0)} MB streaming ${STREAMED.toLocaleString("en")} phones from NDJSON (target < ${RSS_TARGET_MB} MB); ` +
        `${(streamed.maxRssKb / bare.maxRssKb).toFixed(2)}x of a bare process importing the client (${(bare.maxRssKb / 1024).toFixed(0)} MB)`,
    );
    return mb < RSS_TARGET_MB;
  } finally {
    await emulator.stop();
  }
}

async function childStream(file, url) {
  const client = createCphClient({ endpoint: url, projectId: PROJECT_ID, credentials: CREDENTIALS });
  async function* source() {
    for await (const line of createInterface({
      input: createReadStream(file),
      crlfDelay: Number.POSITIVE_INFINITY,
    })) {
      if (line) yield JSON.parse(line);
    }
  }
  let results = 0;
  for await (const result of client.exportMany(source(), { batchSize: BATCH, concurrency: CONCURRENCY })) {
    if (result.state === "accepted") results++;
  }
  await client.close();
  console.log(JSON.stringify({ results, maxRssKb: process.resourceUsage().maxRSS }));
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "--child-bare") {
  console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
} else if (mode === "--child-stream") {
  await childStream(rest[0], rest[1]);
} else {
  const dir = await mkdtemp(join(tmpdir(), "cph-bench-export-many-"));
  try {
    const wallOk = await wallTime(dir);
    const rssOk = await peakRss(dir);
    if (!wallOk || !rssOk) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
