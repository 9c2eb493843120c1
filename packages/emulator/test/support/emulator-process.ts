// Starts the BUILT `cph-emulator` bin as a child process on a loopback port, as a user would.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/cph-emulator.js", import.meta.url));
const BUILT = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface EmulatorProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Kills it if still running and removes its temp directories. */
  dispose(): Promise<void>;
}

function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith("CPH_EMULATOR_")) env[name] = value;
  return { ...env, ...extra };
}

export function assertBuilt(): void {
  if (!existsSync(BUILT)) {
    throw new Error(
      `${BUILT} is missing: build first (npx turbo run build --filter=@cph-export/emulator...)`,
    );
  }
}

/** Runs the bin to its end with these arguments (for --help and usage errors). */
export function runBin(
  args: string[],
  env: Record<string, string> = {},
): Promise<ExitStatus & { stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnvironment(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Starts `cph-emulator --port 0 --data-dir <tmp> [--config <tmp>/config.json]` and waits for its first line. */
export async function spawnEmulator(
  options: { config?: object; args?: string[]; env?: Record<string, string> } = {},
): Promise<EmulatorProcess> {
  assertBuilt();
  const root = await mkdtemp(join(tmpdir(), "cph-emulator-process-"));
  const dataDir = join(root, "data");
  const args = [BIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, ...(options.args ?? [])];
  if (options.config) {
    const file = join(root, "config.json");
    await writeFile(file, JSON.stringify(options.config));
    args.push("--config", file);
  }
  const child = spawn(process.execPath, args, {
    env: cleanEnvironment(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<ExitStatus>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no listening line after 15 s; stderr: ${stderr}`)),
      15_000,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const newline = stdout.indexOf("\n");
      if (newline !== -1) {
        clearTimeout(timer);
        const match = /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(
          stdout.slice(0, newline),
        );
        if (match?.[1]) resolve(match[1]);
        else reject(new Error(`unexpected first line: ${stdout.slice(0, newline)}`));
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`cph-emulator exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return {
    url,
    dataDir,
    child,
    output: () => ({ stdout, stderr }),
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it gives a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
