// Validating and building the requests for 10,000 phones, as a ratio to JSON.parse + JSON.stringify
// of the same payload measured in the same run. Target: at most 3x.
import {
  buildBatchExportRequest,
  LIMITS,
  StorageInfoBatcher,
  validateBatchExportRequest,
} from "@cph-export/core";
import { median } from "./support.mjs";

const PHONES = 10_000;
const PER_REQUEST = LIMITS.defaultPhonesPerRequest;
const WARMUP = 20;
const ITERATIONS = 31;
const TARGET = 3;
const target = {
  endpoint: "https://cph.cn-north-4.myhuaweicloud.com",
  projectId: "0123456789abcdef0123456789abcdef",
};

/** A realistic storage info: the shape of the official example, varied per phone. */
function storageInfo(index) {
  const phoneId = index.toString(16).padStart(32, "0");
  return {
    phone_id: phoneId,
    include_files: ["/data/app", "/data/local", "/data/media", `/data/user/0/com.example.app${index % 7}`],
    exclude_files: ["/data/app/com.xx.xx-*", "/data/media/0/DCIM/.thumbnails"],
    bucket_name: `backups-${index % 3}.example`,
    object_path: `fleet/2026-01-02/${phoneId}.tar`,
  };
}

const payloadText = JSON.stringify({
  storage_infos: Array.from({ length: PHONES }, (_, index) => storageInfo(index)),
});
// Validated as a program receives them: parsed from JSON (a file, stdin, an HTTP body).
const infos = JSON.parse(payloadText).storage_infos;

function baseline() {
  const parsed = JSON.parse(payloadText);
  return JSON.stringify(parsed).length;
}

function validateAndBuild() {
  let bytes = 0;
  for (let start = 0; start < infos.length; start += PER_REQUEST) {
    const result = validateBatchExportRequest({ storage_infos: infos.slice(start, start + PER_REQUEST) });
    if (!result.ok) throw new Error(`unexpected issue: ${JSON.stringify(result.issues[0])}`);
  }
  const batcher = new StorageInfoBatcher({ batchSize: PER_REQUEST });
  const send = (batch) => {
    bytes += buildBatchExportRequest({ ...target, storageInfos: batch }).body.byteLength;
  };
  for (const info of infos) {
    const batch = batcher.add(info);
    if (batch) send(batch);
  }
  const rest = batcher.flush();
  if (rest) send(rest);
  return bytes;
}

/**
 * Wall time and CPU time (user + system, all threads, so GC helpers count) of one call, in ms.
 * CPU time is what the ratio uses: on a shared machine, time spent waiting for a core is noise
 * that grows with the length of a run, and would penalise the longer side.
 */
function time(fn) {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  fn();
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

// The built bodies must carry exactly the payload's phones, or the comparison means nothing.
const builtBytes = validateAndBuild();
const expectedBytes =
  payloadText.length -
  '{"storage_infos":[]}'.length +
  (PHONES / PER_REQUEST) * '{"storage_infos":[]}'.length -
  (PHONES / PER_REQUEST - 1);
if (builtBytes !== expectedBytes)
  throw new Error(`built ${builtBytes} body bytes, expected ${expectedBytes}`);

for (let round = 0; round < WARMUP; round++) {
  baseline();
  validateAndBuild();
}
const baselineTimes = [];
const coreTimes = [];
const cpuRatios = [];
const wallRatios = [];
// Interleaved, and compared round by round, so that drift in machine load hits both sides alike.
for (let round = 0; round < ITERATIONS; round++) {
  const base = time(baseline);
  const core = time(validateAndBuild);
  baselineTimes.push(base.cpuMs);
  coreTimes.push(core.cpuMs);
  cpuRatios.push(core.cpuMs / base.cpuMs);
  wallRatios.push(core.wallMs / base.wallMs);
}
const ratio = median(cpuRatios);
console.log(
  `payload ${(payloadText.length / 1024 / 1024).toFixed(2)} MB; medians of ${ITERATIONS} rounds (CPU time): JSON.parse+stringify ${median(baselineTimes).toFixed(2)} ms, validate+build ${median(coreTimes).toFixed(2)} ms; wall-time ratio ${median(wallRatios).toFixed(2)}x`,
);
console.log(
  `validate+build ${PHONES.toLocaleString("en-US")} phones: ${ratio.toFixed(2)}x of JSON.parse+stringify (target <= ${TARGET}x)`,
);
