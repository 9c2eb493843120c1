// In-process emulators for the CLI's end-to-end tests: started on loopback with a data directory
// of their own, removed after each test with the scratch directories, and `run` against them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type EmulatorConfig, type LedgerEntry, startEmulator } from "@cph-export/emulator";
import type { CliIo } from "../io.js";
import { type RunDependencies, run } from "../run.js";
import { memoryIo } from "./fake-io.js";

export interface Running {
  url: string;
  close(): Promise<void>;
  /** The emulator's data directory: `<bucket>/<object_path>` is an archive. */
  directory: string;
}

/** Emulators and scratch directories for a test file; call `cleanup` after each test. */
export function emulatorHarness(prefix: string) {
  const running: Running[] = [];
  const scratchDirs: string[] = [];
  return {
    async emulatorWith(config: EmulatorConfig): Promise<Running> {
      const directory = await mkdtemp(join(tmpdir(), `${prefix}emulator-`));
      const emulator = await startEmulator({ dataDir: directory, config });
      const handle = { url: emulator.url, close: () => emulator.close(), directory };
      running.push(handle);
      return handle;
    },
    async scratch(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), `${prefix}run-`));
      scratchDirs.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      for (const emulator of running.splice(0)) {
        await emulator.close();
        await rm(emulator.directory, { recursive: true, force: true });
      }
      for (const dir of scratchDirs.splice(0)) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The environment of a run against `emulator` with the demo AK/SK (CPH and OBS alike). */
export function emulatorEnv(emulator: Running): Record<string, string> {
  return {
    CPH_ENDPOINT: emulator.url,
    CPH_OBS_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO_CREDENTIALS.projectId,
    HUAWEICLOUD_SDK_AK: DEMO_CREDENTIALS.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO_CREDENTIALS.secretKey,
    HOME: "/nonexistent-home",
  };
}

/** `run(args)` in memory, on the machine's clock (archives get its time, so must the journal). */
export async function runInMemory(
  args: string[],
  io: Partial<CliIo>,
  dependencies: RunDependencies = {},
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const memory = memoryIo({ now: () => new Date(), ...io });
  if (stdin !== undefined) memory.stdinStream.end(stdin);
  const code = await run(args, memory, dependencies);
  return { code, stdout: memory.stdoutText(), stderr: memory.stderrText() };
}

export const ndjsonRows = (text: string): Record<string, unknown>[] =>
  text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** `GET /__emulator/ledger` or `/__emulator/restore-ledger`. */
export async function ledgerOf(
  emulator: Running,
  route: "ledger" | "restore-ledger",
): Promise<LedgerEntry[]> {
  const response = await fetch(`${emulator.url}/__emulator/${route}`);
  return ((await response.json()) as { entries: LedgerEntry[] }).entries;
}
