// The `cph-emulator` bin: arguments, config and environment, then startEmulator until a signal.
import { parseArgs } from "node:util";
import { addCredentials, EmulatorConfigError, loadEmulatorConfig, type EmulatorConfig } from "./config.js";
import { readEnvCredentials } from "./env.js";
import { startEmulator } from "./server.js";

const USAGE = `Usage: cph-emulator --data-dir DIR [options]

A local Huawei Cloud CPH and IAM for tests and demos.

Options:
  --data-dir DIR         where archives are written, as DIR/<bucket>/<object_path> (required)
  --port N               port to listen on (default 0: any free port)
  --host HOST            address to bind (default 127.0.0.1)
  --config FILE          JSON config: projects, accessKeys, users, phones, faults, ...
  --no-control-routes    disable the /__emulator/* routes
  -h, --help             show this help

Credentials: the config file, plus one project, key pair and user from CPH_EMULATOR_PROJECT_ID,
CPH_EMULATOR_AK, CPH_EMULATOR_SK, CPH_EMULATOR_IAM_DOMAIN, CPH_EMULATOR_IAM_USER and
CPH_EMULATOR_IAM_PASSWORD; with neither, the documented demo credentials.

The first stdout line is "cph-emulator listening on http://HOST:PORT", then one JSON line
per request (credentials redacted). SIGINT or SIGTERM stops it cleanly.
`;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`cph-emulator: ${message}\n`);
  process.exit(exitCode);
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "data-dir": { type: "string" },
        config: { type: "string" },
        "no-control-routes": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`, 2);
  }
  if (values["help"]) {
    process.stdout.write(USAGE);
    return;
  }
  const dataDir = values["data-dir"];
  if (typeof dataDir !== "string" || dataDir === "") fail(`--data-dir is required\n\n${USAGE}`, 2);
  const portText = typeof values["port"] === "string" ? values["port"] : "0";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    fail(`--port must be a number from 0 to 65535, not "${portText}"`, 2);
  const host = typeof values["host"] === "string" ? values["host"] : "127.0.0.1";

  let config: EmulatorConfig;
  try {
    const file = values["config"];
    config = typeof file === "string" ? await loadEmulatorConfig(file) : {};
    config = addCredentials(config, readEnvCredentials());
    if (values["no-control-routes"]) config = { ...config, controlRoutes: false };
  } catch (error) {
    if (error instanceof EmulatorConfigError) fail(error.message, 2);
    throw error;
  }

  const write = (line: string) => process.stdout.write(`${line}\n`);
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator({ port, host, dataDir, config, log: write });
  } catch (error) {
    if (error instanceof EmulatorConfigError) fail(error.message, 2);
    fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
  const stop = () => {
    // A second signal while closing means "now".
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) =>
        fail(`error while stopping: ${error instanceof Error ? error.message : String(error)}`, 1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error), 1));
