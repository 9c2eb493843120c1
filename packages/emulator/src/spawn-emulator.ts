// The `cph-emulator` bin as a child process, for tests that want the emulator as users run it.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EmulatorConfig, FaultSettings } from "./config.js";
import { childEnvironment } from "./env.js";
import type { EmulatorStats, LedgerEntry } from "./state.js";

const BIN = fileURLToPath(new URL("../bin/cph-emulator.js", import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const LISTENING = /^cph-emulator listening on (http:\/\/\S+)$/;
const DEFAULT_START_TIMEOUT_MS = 15_000;
/** How long `stop()` waits after its signal before it kills the process. */
const KILL_AFTER_MS = 10_000;

/** `spawnEmulator` could not start the process, or a control route did not answer as it should. */
export class EmulatorProcessError extends Error {
  readonly code = "ERR_CPH_EMULATOR_PROCESS";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EmulatorProcessError";
  }
}

/** Options of `spawnEmulator`. */
export interface SpawnEmulatorOptions {
  /** Where archives are written; default a new temporary directory, which `stop()` removes. */
  dataDir?: string | undefined;
  /** Written to a temporary JSON file and passed as `--config`. */
  config?: EmulatorConfig | undefined;
  /**
   * Variables added to the process's environment (`undefined` removes one), e.g. `CPH_EMULATOR_AK`.
   * The parent's own `CPH_EMULATOR_*` are not passed on, so a shell's settings cannot change a test.
   */
  env?: Record<string, string | undefined> | undefined;
  /** More arguments for the bin, e.g. `["--no-control-routes"]`. */
  args?: readonly string[] | undefined;
  /** How long to wait for the listening line; default 15 s. */
  startTimeoutMs?: number | undefined;
}

/** How the process ended. */
export interface EmulatorExit {
  code: number | null;
  signal: string | null;
}

/** A running `cph-emulator` process. */
export interface SpawnedEmulator {
  /** Base URL for CPH and IAM alike, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Where the archives are: `<dataDir>/<bucket>/<object_path>`. */
  readonly dataDir: string;
  readonly pid: number;
  /** `GET /__emulator/ledger`: every accepted export, optionally of one phone or one request. */
  ledger(filter?: { phoneId?: string; requestId?: string }): Promise<LedgerEntry[]>;
  /** `GET /__emulator/restore-ledger`: every accepted restore, filtered as `ledger`. */
  restoreLedger(filter?: { phoneId?: string; requestId?: string }): Promise<LedgerEntry[]>;
  /** `GET /__emulator/stats`. */
  stats(): Promise<EmulatorStats>;
  /** `POST /__emulator/faults`: replaces the faults; `{}` clears them. */
  setFaults(faults: FaultSettings): Promise<void>;
  /** `POST /__emulator/reset`: forgets jobs, ledger and stats. */
  reset(): Promise<void>;
  /** Everything the process printed so far: the listening line, then one JSON line per request. */
  output(): { stdout: string; stderr: string };
  /**
   * Sends the signal (default SIGTERM), waits for the exit (killing the process if it takes over
   * 10 s) and removes the temporary files, including `dataDir` when `spawnEmulator` made it.
   * Calling it again gives the same exit.
   */
  stop(signal?: "SIGTERM" | "SIGINT" | "SIGKILL"): Promise<EmulatorExit>;
}

/**
 * Starts `cph-emulator --port 0 --host 127.0.0.1` as a child process of this Node, waits for its
 * listening line and returns its URL with helpers for the control routes. Use it where the code
 * under test runs as a process itself; `startEmulator` runs the same emulator in-process.
 *
 * @example
 * const emulator = await spawnEmulator({ config: { jobDurationMs: 100 } });
 * try {
 *   // ... run your automation against emulator.url with DEMO_CREDENTIALS ...
 *   expect((await emulator.ledger()).map((entry) => entry.phone_id)).toEqual(["phone-1"]);
 * } finally {
 *   await emulator.stop();
 * }
 */
export async function spawnEmulator(options: SpawnEmulatorOptions = {}): Promise<SpawnedEmulator> {
  if (!existsSync(BUILT_MAIN)) {
    throw new EmulatorProcessError(
      `${BUILT_MAIN} is missing: build @cph-export/emulator first (npx turbo run build --filter=@cph-export/emulator)`,
    );
  }
  const temporary = await mkdtemp(join(tmpdir(), "cph-emulator-"));
  const dataDir = options.dataDir ?? join(temporary, "data");
  const args = [BIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir];
  if (options.config !== undefined) {
    const file = join(temporary, "config.json");
    await writeFile(file, JSON.stringify(options.config));
    args.push("--config", file);
  }
  args.push(...(options.args ?? []));

  const child = spawn(process.execPath, args, {
    env: childEnvironment(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  // Read both pipes to the end, so that the request log never fills one and blocks the emulator.
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<EmulatorExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    // A spawn that fails (no such executable) emits error and never exit.
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  // A test run that ends without stop() must not leave the emulator running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));

  const cleanUp = () => rm(temporary, { recursive: true, force: true });
  let url: string;
  try {
    url = await listeningUrl(child.stdout, exited, () => stderr, options.startTimeoutMs);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    await cleanUp();
    throw error;
  }

  let stopping: Promise<EmulatorExit> | undefined;
  const control = async <T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${url}${path}`, init);
    const text = await response.text();
    if (response.status !== 200) {
      const hint = response.status === 404 ? " (are the control routes disabled?)" : "";
      throw new EmulatorProcessError(`${method} ${path} answered ${response.status}${hint}: ${text}`);
    }
    return JSON.parse(text) as T;
  };

  const ledgerOf = async (
    route: "ledger" | "restore-ledger",
    filter: { phoneId?: string; requestId?: string },
  ): Promise<LedgerEntry[]> => {
    const query = new URLSearchParams();
    if (filter.phoneId !== undefined) query.set("phone_id", filter.phoneId);
    if (filter.requestId !== undefined) query.set("request_id", filter.requestId);
    const search = query.toString() ? `?${query}` : "";
    return (await control<{ entries: LedgerEntry[] }>("GET", `/__emulator/${route}${search}`)).entries;
  };
  return {
    url,
    dataDir,
    pid: child.pid ?? 0,
    ledger: (filter = {}) => ledgerOf("ledger", filter),
    restoreLedger: (filter = {}) => ledgerOf("restore-ledger", filter),
    stats: () => control<EmulatorStats>("GET", "/__emulator/stats"),
    async setFaults(faults) {
      await control("POST", "/__emulator/faults", faults);
    },
    async reset() {
      await control("POST", "/__emulator/reset", {});
    },
    output: () => ({ stdout, stderr }),
    stop(signal = "SIGTERM") {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
          await exited;
          clearTimeout(timer);
        }
        await cleanUp();
        return exited;
      })();
      return stopping;
    },
  };
}

/** The URL of the first stdout line, or an error saying why there is none. */
function listeningUrl(
  stdout: NodeJS.ReadableStream,
  exited: Promise<EmulatorExit>,
  stderr: () => string,
  timeoutMs = DEFAULT_START_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let first = "";
    const done = (settle: () => void) => {
      clearTimeout(timer);
      stdout.off("data", onData);
      settle();
    };
    const onData = (chunk: string | Buffer) => {
      first += chunk.toString();
      const newline = first.indexOf("\n");
      if (newline === -1) return;
      const line = first.slice(0, newline);
      const match = LISTENING.exec(line);
      done(() =>
        match?.[1]
          ? resolve(match[1])
          : reject(new EmulatorProcessError(`cph-emulator printed "${line}" first; stderr: ${stderr()}`)),
      );
    };
    const timer = setTimeout(
      () =>
        done(() =>
          reject(
            new EmulatorProcessError(
              `cph-emulator did not print its listening line within ${timeoutMs} ms; stderr: ${stderr()}`,
            ),
          ),
        ),
      timeoutMs,
    );
    stdout.on("data", onData);
    void exited.then(({ code, signal }) =>
      done(() =>
        reject(
          new EmulatorProcessError(
            `cph-emulator exited (${signal ?? `code ${code}`}) before listening; stderr: ${stderr().trim()}`,
          ),
        ),
      ),
    );
  });
}
