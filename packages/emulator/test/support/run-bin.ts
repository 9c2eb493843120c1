// Runs the BUILT `cph-emulator` bin to its end (for --help and usage errors).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childEnvironment } from "../../src/env.js";

const BIN = fileURLToPath(new URL("../../bin/cph-emulator.js", import.meta.url));

export interface BinRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin with these arguments, the environment without `CPH_EMULATOR_*` plus `env`. */
export function runBin(args: string[], env: Record<string, string> = {}): Promise<BinRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: childEnvironment(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
