// Runs the built cph-export as a separate process, as a user would (the emulator comes from spawnEmulator).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DEMO_CREDENTIALS,
  type EmulatorConfig,
  type LedgerEntry,
  type SpawnedEmulator,
  spawnEmulator,
} from "@cph-export/emulator";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI_BIN = join(ROOT, "packages/cli/bin/cph-export.js");

/** Values no output may ever contain. */
export const SECRETS = [DEMO_CREDENTIALS.secretKey, DEMO_CREDENTIALS.password, "wrong-secret-key-0002"];

/** Spawns the emulator the tests talk to, once the bins they run are built. */
export async function startEmulator(config: EmulatorConfig): Promise<SpawnedEmulator> {
  const built = ["packages/cli/dist/main.js", "packages/http-client/dist/index.js"].every((path) =>
    existsSync(join(ROOT, path)),
  );
  if (!built) throw new Error("build first (npx turbo run build): these tests run the built cph-export");
  return spawnEmulator({ config });
}

/** The ledger entries of the phones whose ids start with `prefix` (each test uses its own). */
export async function ledgerOf(emulator: SpawnedEmulator, prefix: string): Promise<LedgerEntry[]> {
  return (await emulator.ledger()).filter((entry) => entry.phone_id.startsWith(prefix));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every output of every CLI run, to check at the end that no secret ever appeared. */
export const transcripts: string[] = [];

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  /** Called once the process runs, e.g. to signal it. */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `node packages/cli/bin/cph-export.js ...args` with a clean environment plus `env`. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "",
    HOME: options.cwd ?? tmpdir(),
    NO_COLOR: "1",
  };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env,
    cwd: options.cwd ?? ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
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
export async function until(check: () => Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The environment of a run against the emulator with the demo AK/SK. */
export function emulatorEnv(
  emulator: SpawnedEmulator,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    CPH_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO_CREDENTIALS.projectId,
    HUAWEICLOUD_SDK_AK: DEMO_CREDENTIALS.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO_CREDENTIALS.secretKey,
    ...extra,
  };
}

export function ndjson(ids: readonly string[]): string {
  return `${ids.map((id) => JSON.stringify({ phone_id: id })).join("\n")}\n`;
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "cph-export-cli-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
