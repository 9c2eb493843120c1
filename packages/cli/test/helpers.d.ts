import { type ChildProcess } from "node:child_process";
export declare const ROOT: string;
export declare const CLI_BIN: string;
/** The emulator's documented demo credentials. */
export declare const DEMO: {
  projectId: string;
  accessKey: string;
  secretKey: string;
  domain: string;
  user: string;
  password: string;
};
/** Values no output may ever contain. */
export declare const SECRETS: string[];
/** True once both packages are built: the process tests run the built bins. */
export declare function builtBinsExist(): boolean;
export interface Emulator {
  url: string;
  dataDir: string;
  ledger(prefix?: string): Promise<
    Array<{
      phone_id: string;
      job_id: string;
      request_id: string;
      outcome: string;
    }>
  >;
  stats(): Promise<{
    requests: number;
    throttled: number;
    errors: number;
    drops: number;
    droppedPhones: number;
  }>;
  faults(settings: Record<string, number>): Promise<void>;
  stop(): Promise<void>;
}
export declare function startEmulatorProcess(config: unknown): Promise<Emulator>;
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}
/** Every output of every CLI run, to check at the end that no secret ever appeared. */
export declare const transcripts: string[];
export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  /** Called once the process runs, e.g. to signal it. */
  onSpawn?: (child: ChildProcess) => void;
}
/** Runs `node packages/cli/bin/cph-export.js ...args` with a clean environment plus `env`. */
export declare function runCli(args: readonly string[], options?: CliOptions): Promise<CliResult>;
/** Polls until `check` holds (a condition, not a timed assertion); gives up after `limitMs`. */
export declare function until(check: () => Promise<boolean>, what: string, limitMs?: number): Promise<void>;
/** The environment of a run against the emulator with the demo AK/SK. */
export declare function emulatorEnv(
  emulator: Emulator,
  extra?: Record<string, string>,
): Record<string, string>;
export declare function ndjson(ids: readonly string[]): string;
export declare function tempDir(): Promise<{
  path: string;
  remove(): Promise<void>;
}>;
//# sourceMappingURL=helpers.d.ts.map
