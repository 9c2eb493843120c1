// Cold start of the built cph-export: wall time of `--version` and of `export --help`, each as a
// ratio to bare `node -e 0` measured in the same run (interleaved, after a warm-up; median of 20).
// Target <= 1.5x: `--version` reads package.json, `--help` prints a help text cached at build
// time, and commander, zod, core and undici load only for the commands that use them.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./support.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "packages", "cli", "bin", "cph-export.js");
const RUNS = 20;
const WARMUP = 3;
const TARGET = 1.5;

if (!existsSync(join(root, "packages", "cli", "dist", "main.js"))) {
  console.error("cli-startup: packages/cli is not built; run `npx turbo run build` first.");
  process.exit(1);
}

const cases = {
  baseline: ["-e", "0"],
  version: [bin, "--version"],
  exportHelp: [bin, "export", "--help"],
};

function once(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0)
    throw new Error(`node ${args.join(" ")} exited with ${result.status}: ${result.stderr}`);
  return elapsed;
}

const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
for (let round = 0; round < WARMUP + RUNS; round++) {
  // Interleaved so that a noisy moment weighs on every case alike.
  for (const [name, args] of Object.entries(cases)) {
    const elapsed = once(args);
    if (round >= WARMUP) samples[name].push(elapsed);
  }
}

const base = median(samples.baseline);
console.log(`baseline: node -e 0 median ${base.toFixed(1)} ms over ${RUNS} runs`);
let failed = false;
for (const [name, label] of [
  ["version", "cph-export --version"],
  ["exportHelp", "cph-export export --help"],
]) {
  const value = median(samples[name]);
  const ratio = value / base;
  if (ratio > TARGET) failed = true;
  console.log(
    `${label}: wall ${ratio.toFixed(2)}x of node -e 0 (${value.toFixed(1)} ms; target <= ${TARGET}x)`,
  );
}
if (failed) console.log("cli-startup: above target");
