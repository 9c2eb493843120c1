// Starts the real emulator process (the built bin) on a loopback port for process-level tests.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { request } from "undici";
const here = dirname(fileURLToPath(import.meta.url));
export const PACKAGE_DIR = join(here, "..", "..");
const EMULATOR_BIN = join(PACKAGE_DIR, "..", "emulator", "bin", "cph-emulator.js");
const EMULATOR_MAIN = join(PACKAGE_DIR, "..", "emulator", "dist", "main.js");
export const DEMO = {
  projectId: "0123456789abcdef0123456789abcdef",
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
  domainName: "demo-account",
  userName: "demo-user",
  password: "demo-password-0001",
};
async function control(url, path, body) {
  const response = await request(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200)
    throw new Error(`emulator ${path} answered ${response.statusCode}: ${text}`);
  return JSON.parse(text);
}
function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}
/** Spawns `cph-emulator --port 0 --data-dir <tmp> --config <tmp json>` and waits for its URL. */
export async function startEmulatorProcess(config = {}) {
  if (!existsSync(EMULATOR_MAIN)) {
    throw new Error(
      `the emulator is not built (${EMULATOR_MAIN} is missing); run \`npx turbo run build\` first`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), "cph-http-client-emulator-"));
  const dataDir = join(root, "data");
  const configFile = join(root, "config.json");
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
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`the emulator exited (${code}) before listening: ${stderr}`));
    child.once("exit", onExit);
    lines.once("line", (line) => {
      child.off("exit", onExit);
      const match = /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (match?.[1]) resolve(match[1]);
      else reject(new Error(`unexpected first line from the emulator: ${line}`));
    });
  });
  // The request log lines are read and dropped, so the pipe never fills up.
  lines.on("line", () => {});
  return {
    url,
    dataDir,
    faults: async (settings) => {
      await control(url, "/__emulator/faults", settings);
    },
    ledger: async () => (await control(url, "/__emulator/ledger")).entries,
    stats: () => control(url, "/__emulator/stats"),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited(child);
        clearTimeout(timer);
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
//# sourceMappingURL=emulator.js.map
