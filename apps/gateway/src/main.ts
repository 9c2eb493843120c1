// The bin: `cph-gateway --config FILE [--port N] [--host H]`, and `cph-gateway hash-key` (key on stdin).
import { text } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { hashApiKey } from "./auth.js";
import { GatewayConfigError, loadGatewayConfig } from "./config.js";
import { readEnvironment } from "./env.js";
import { createJsonLogger, createLineBuffer } from "./logger.js";
import { startGateway } from "./server.js";

const USAGE = `usage: cph-gateway --config FILE [--port N] [--host ADDRESS]
       cph-gateway hash-key < key.txt      prints sha256:<hex> for a caller's apiKeySha256

The config may also be named by CPH_GATEWAY_CONFIG. Upstream credentials come from the
environment: CPH_GATEWAY_UPSTREAM_AK + CPH_GATEWAY_UPSTREAM_SK (+ _SECURITY_TOKEN), or
CPH_GATEWAY_UPSTREAM_TOKEN, or CPH_GATEWAY_UPSTREAM_IAM_DOMAIN + _IAM_USER + _IAM_PASSWORD.
CPH_GATEWAY_REDIS_URL shares idempotency records and rate limits between gateway processes.
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`cph-gateway: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "hash-key") {
    const key = (await text(process.stdin)).replace(/\r?\n$/, "");
    if (key.length === 0) fail("hash-key reads the API key from stdin; it was empty");
    process.stdout.write(`${hashApiKey(key)}\n`);
    return;
  }
  let values: {
    config?: string | undefined;
    port?: string | undefined;
    host?: string | undefined;
    help?: boolean | undefined;
  };
  try {
    values = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const environment = readEnvironment();
  const configPath = values.config ?? environment.configPath;
  if (configPath === undefined) fail(`no config: pass --config FILE or set CPH_GATEWAY_CONFIG\n${USAGE}`);
  if (environment.problems.length > 0) {
    fail(
      `the environment is incomplete:\n${environment.problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
    if (!(port >= 0 && port <= 65_535))
      fail(`--port must be a number from 0 to 65535, not ${JSON.stringify(values.port)}`);
  }
  let config: Awaited<ReturnType<typeof loadGatewayConfig>>;
  try {
    config = await loadGatewayConfig(configPath, (name) => environment.secret(name));
  } catch (error) {
    if (error instanceof GatewayConfigError) fail(error.message);
    throw error;
  }
  const lines = createLineBuffer((text) => process.stdout.write(text));
  // stdout writes are synchronous for files and pipes, so what is left is written even at exit.
  process.once("exit", () => lines.flush());
  const logger = createJsonLogger({ write: lines.write, secrets: environment.secrets() });
  const gateway = await startGateway({
    config,
    credentials: environment.upstreamCredentials!,
    redisUrl: environment.redisUrl,
    logger,
    port,
    host: values.host,
  });
  process.stdout.write(`cph-gateway listening on ${gateway.url}\n`);
  logger.info("started", {
    url: gateway.url,
    upstream: config.upstream.endpoint ?? config.upstream.region,
    project_id: config.upstream.projectId,
    callers: config.callers.map((caller) => caller.name),
    state: environment.redisUrl === undefined ? "memory" : "redis",
  });
  const stop = (signal: string) => {
    logger.info("signal received", { signal });
    gateway.shutdown().then(
      ({ forced }) => {
        process.exitCode = forced ? 1 : 0;
        // Nothing should be left; this only guards against a stray handle keeping the process up.
        setTimeout(() => process.exit(), 2000).unref();
      },
      (error: unknown) => {
        logger.error("shutdown failed", { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `cph-gateway: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
