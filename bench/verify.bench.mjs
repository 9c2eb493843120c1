// Proof of archive for 10,000 phones: obs.findArchives over their 10,000 keys, as a ratio to the
// same ListObjectsV2 pages sent bare with the S3 SDK (the least any proof can cost: every key read
// once), both against a cph-emulator process serving OBS's S3 subset over a data directory,
// measured alternately in the same run. Target < 1.5x. Also printed: the requests each path took,
// and what a HEAD a key would have taken.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, spawnEmulator } from "@cph-export/emulator";
import { createObsReader } from "@cph-export/obs";
import { median } from "./support.mjs";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const require = createRequire(import.meta.resolve("@cph-export/obs"));
const { ListObjectsV2Command, S3Client } = require("@aws-sdk/client-s3");

const ARCHIVES = 10_000;
const RUNS = 9;
const TARGET = 1.5;
const BUCKET = "bench-backups";
const PREFIX = "runs/2026-12-06/";
const key = (n) => `${PREFIX}${n.toString(16).padStart(32, "0")}.tar`;

const dataDir = mkdtempSync(join(tmpdir(), "cph-bench-verify-"));
mkdirSync(join(dataDir, BUCKET, PREFIX), { recursive: true });
for (let n = 0; n < ARCHIVES; n++) writeFileSync(join(dataDir, BUCKET, key(n)), `archive ${n}`);
// Noise: another run's archives beside them, which neither path should need to read.
mkdirSync(join(dataDir, BUCKET, "runs/2026-12-05"), { recursive: true });
for (let n = 0; n < 500; n++) writeFileSync(join(dataDir, BUCKET, "runs/2026-12-05", `${n}.tar`), "old");

const emulator = await spawnEmulator({ dataDir });
const credentials = { accessKeyId: DEMO_CREDENTIALS.accessKey, secretAccessKey: DEMO_CREDENTIALS.secretKey };
const s3 = new S3Client({ region: "cn-north-4", endpoint: emulator.url, forcePathStyle: true, credentials });
const counts = { head: 0, list: 0 };
const obs = createObsReader({
  region: "cn-north-4",
  endpoint: emulator.url,
  forcePathStyle: true,
  accessKey: DEMO_CREDENTIALS.accessKey,
  secretKey: DEMO_CREDENTIALS.secretKey,
  onRequest: (operation) => counts[operation]++,
});
const wanted = Array.from({ length: ARCHIVES }, (_, n) => ({ bucket: BUCKET, key: key(n) }));

let barePages = 0;
async function bare() {
  const seen = new Map();
  let token;
  barePages = 0;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: PREFIX,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    barePages++;
    for (const object of page.Contents ?? []) seen.set(object.Key, object.Size);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return seen.size;
}

async function viaFind() {
  counts.head = 0;
  counts.list = 0;
  const found = await obs.findArchives(wanted);
  let present = 0;
  for (const head of found.values()) if (head.exists) present++;
  return present;
}

async function time(run) {
  const started = process.hrtime.bigint();
  const count = await run();
  if (count !== ARCHIVES) throw new Error(`found ${count} archives, expected ${ARCHIVES}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

try {
  await time(bare);
  await time(viaFind);
  const bareRuns = [];
  const findRuns = [];
  for (let run = 0; run < RUNS; run++) {
    bareRuns.push(await time(bare));
    findRuns.push(await time(viaFind));
  }
  const baseline = median(bareRuns);
  const measured = median(findRuns);
  const ratio = measured / baseline;
  console.log(
    `bare ListObjectsV2 pages (${ARCHIVES} keys, ${barePages} pages): ${baseline.toFixed(1)} ms (median of ${RUNS})`,
  );
  console.log(
    `obs.findArchives:                             ${measured.toFixed(1)} ms (${counts.list} list, ${counts.head} HEAD requests; a HEAD a key: ${ARCHIVES})`,
  );
  console.log(
    `proof ratio: ${ratio.toFixed(2)}x (target < ${TARGET}x) ${ratio < TARGET ? "ok" : "OVER TARGET"}`,
  );
} finally {
  obs.destroy();
  s3.destroy();
  await emulator.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
