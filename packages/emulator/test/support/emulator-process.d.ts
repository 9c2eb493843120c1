import { type ChildProcess } from "node:child_process";
export declare const BIN: string;
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}
export interface EmulatorProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): {
    stdout: string;
    stderr: string;
  };
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Kills it if still running and removes its temp directories. */
  dispose(): Promise<void>;
}
export declare function assertBuilt(): void;
/** Runs the bin to its end with these arguments (for --help and usage errors). */
export declare function runBin(
  args: string[],
  env?: Record<string, string>,
): Promise<
  ExitStatus & {
    stdout: string;
    stderr: string;
  }
>;
/** Starts `cph-emulator --port 0 --data-dir <tmp> [--config <tmp>/config.json]` and waits for its first line. */
export declare function spawnEmulator(options?: {
  config?: object;
  args?: string[];
  env?: Record<string, string>;
}): Promise<EmulatorProcess>;
/** Polls `check` until it gives a value, or fails after `timeoutMs`. */
export declare function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs?: number,
  what?: string,
): Promise<T>;
//# sourceMappingURL=emulator-process.d.ts.map
