// Starts the built emulator and runs the built cph-export as separate processes, as a user would.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI_BIN = join(ROOT, "packages/cli/bin/cph-export.js");
const EMULATOR_BIN = join(ROOT, "packages/emulator/bin/cph-emulator.js");
/** The emulator's documented demo credentials. */
export const DEMO = {
  projectId: "0123456789abcdef0123456789abcdef",
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
  domain: "demo-account",
  user: "demo-user",
  password: "demo-password-0001",
};
/** Values no output may ever contain. */
export const SECRETS = [DEMO.secretKey, DEMO.password, "wrong-secret-key-0002"];
/** True once both packages are built: the process tests run the built bins. */
export function builtBinsExist() {
  return [
    "packages/cli/dist/main.js",
    "packages/emulator/dist/main.js",
    "packages/http-client/dist/index.js",
  ].every((path) => existsSync(join(ROOT, path)));
}
export async function startEmulatorProcess(config) {
  const directory = await mkdtemp(join(tmpdir(), "cph-export-cli-emulator-"));
  const dataDir = join(directory, "obs");
  const configFile = join(directory, "config.json");
  await writeFile(configFile, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [EMULATOR_BIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--config", configFile],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk.toString();
  });
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      const match = /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (match?.[1]) resolve(match[1]);
      else reject(new Error(`unexpected first line from the emulator: ${line}`));
      // Keep draining the request log so the pipe never fills.
      child.stdout?.resume();
    });
    child.once("exit", (code) => reject(new Error(`the emulator exited with ${code}: ${stderr}`)));
  });
  const json = async (path, init) => {
    const response = await fetch(`${url}${path}`, init);
    return response.json();
  };
  return {
    url,
    dataDir,
    async ledger(prefix = "") {
      const { entries } = await json("/__emulator/ledger");
      return entries.filter((entry) => entry.phone_id.startsWith(prefix));
    },
    stats: () => json("/__emulator/stats"),
    async faults(settings) {
      await json("/__emulator/faults", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(settings),
      });
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
/** Every output of every CLI run, to check at the end that no secret ever appeared. */
export const transcripts = [];
/** Runs `node packages/cli/bin/cph-export.js ...args` with a clean environment plus `env`. */
export function runCli(args, options = {}) {
  const env = { PATH: process.env["PATH"] ?? "", HOME: options.cwd ?? tmpdir(), NO_COLOR: "1" };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env,
    cwd: options.cwd ?? ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? "");
  options.onSpawn?.(child);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      transcripts.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
/** Polls until `check` holds (a condition, not a timed assertion); gives up after `limitMs`. */
export async function until(check, what, limitMs = 20_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
/** The environment of a run against the emulator with the demo AK/SK. */
export function emulatorEnv(emulator, extra = {}) {
  return {
    CPH_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO.projectId,
    HUAWEICLOUD_SDK_AK: DEMO.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO.secretKey,
    ...extra,
  };
}
export function ndjson(ids) {
  return `${ids.map((id) => JSON.stringify({ phone_id: id })).join("\n")}\n`;
}
export async function tempDir() {
  const path = await mkdtemp(join(tmpdir(), "cph-export-cli-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
//# sourceMappingURL=helpers.js.map
