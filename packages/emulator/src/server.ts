import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createEmulator, type EmulatorAppOptions } from "./app.js";

/** Options of `startEmulator`: where to listen, plus the app's options. */
export interface StartEmulatorOptions extends EmulatorAppOptions {
  /** Default 0: any free port. */
  port?: number | undefined;
  /** Default 127.0.0.1 (loopback only). */
  host?: string | undefined;
}

/** A running emulator. */
export interface RunningEmulator {
  /** Base URL for CPH and IAM alike, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Stops listening, closes connections, stops pending jobs and waits for archives being written. */
  close(): Promise<void>;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Starts the emulator on a loopback port and logs `cph-emulator listening on <url>` first.
 *
 * @example
 * const emulator = await startEmulator({ dataDir: await mkdtemp(join(tmpdir(), "cph-")) });
 * // ... point a client at emulator.url with DEMO_CREDENTIALS ...
 * await emulator.close();
 */
export async function startEmulator(options: StartEmulatorOptions): Promise<RunningEmulator> {
  const host = options.host ?? "127.0.0.1";
  await mkdir(options.dataDir, { recursive: true });
  const { app, state } = createEmulator(options);
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${formatHost(host)}:${port}`;
  options.log?.(`cph-emulator listening on ${url}`);
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Requests still in flight (e.g. under a latency fault) get a moment, then are cut.
          setTimeout(() => server.closeAllConnections(), 2000).unref();
        });
        await state.close();
      })();
      return closing;
    },
  };
}
