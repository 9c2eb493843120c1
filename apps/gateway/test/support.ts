// Process-level test support: the built gateway and emulator bins on loopback, their output kept.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { signRequest, utf8Bytes } from "@cph-export/core";
import { hashApiKey } from "../src/auth.js";
import type { GatewayConfigInput } from "../src/config.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const GATEWAY_BIN = join(ROOT, "apps/gateway/bin/cph-gateway.js");
export const EMULATOR_BIN = join(ROOT, "packages/emulator/bin/cph-emulator.js");

export const PROJECT = "0123456789abcdef0123456789abcdef";
/** The emulator's documented demo credentials: the gateway's upstream credentials in these tests. */
export const UPSTREAM = {
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
  domain: "demo-account",
  user: "demo-user",
  password: "demo-password-0001",
};
export const KEYS = {
  teamA: "e2e-team-a-api-key-7f3c9d21-secret",
  limited: "e2e-limited-api-key-5b8e0a44-secret",
  teamBAccessKey: "E2EGATEWAYTEAMB00001",
  teamBSecret: "e2e-team-b-gateway-secret-key-91c2",
};
/** Every secret the suite uses; none may appear in any process's output. */
export const SECRETS = [UPSTREAM.secretKey, UPSTREAM.password, KEYS.teamA, KEYS.limited, KEYS.teamBSecret];
export const TEAM_B_SECRET_ENV = "CPH_GATEWAY_E2E_TEAM_B_SK";

/** The gateway environment for upstream AK/SK and team-b's signing secret. */
export function gatewayEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CPH_GATEWAY_UPSTREAM_AK: UPSTREAM.accessKey,
    CPH_GATEWAY_UPSTREAM_SK: UPSTREAM.secretKey,
    [TEAM_B_SECRET_ENV]: KEYS.teamBSecret,
    ...extra,
  };
}

/** Three callers: team-a (bearer), team-b (gateway-issued AK/SK) and a rate-limited one. */
export function gatewayConfig(
  upstreamUrl: string,
  overrides: Partial<GatewayConfigInput> = {},
): GatewayConfigInput {
  return {
    upstream: { endpoint: upstreamUrl, projectId: PROJECT, timeoutMs: 2500 },
    callers: [
      {
        name: "team-a",
        apiKeySha256: hashApiKey(KEYS.teamA),
        projects: [PROJECT],
        buckets: ["team-a-*"],
        objectPathPrefixes: ["team-a/"],
        maxPhonesPerRequest: 5,
        requestsPerMinute: 10_000,
      },
      {
        name: "team-b",
        accessKey: KEYS.teamBAccessKey,
        secretKeyEnv: TEAM_B_SECRET_ENV,
        projects: [PROJECT],
        buckets: ["team-b-backups"],
        objectPathPrefixes: ["b/"],
        requestsPerMinute: 10_000,
      },
      {
        name: "limited",
        apiKeySha256: hashApiKey(KEYS.limited),
        projects: [PROJECT],
        buckets: ["team-a-*"],
        objectPathPrefixes: ["team-a/"],
        requestsPerMinute: 4,
      },
    ],
    listen: { host: "127.0.0.1", port: 0 },
    ...overrides,
  };
}

/** A caller for campaign tests: bearer `key`, buckets `fleet-*`, paths under `fleet/`, a high rate. */
export function campaignCaller(name: string, key: string) {
  return {
    name,
    apiKeySha256: hashApiKey(key),
    projects: [PROJECT],
    buckets: ["fleet-*"],
    objectPathPrefixes: ["fleet/"],
    requestsPerMinute: 60_000,
  };
}

/** Everything every spawned process wrote, for the no-secrets check. */
export const outputs: string[] = [];

const children = new Set<ChildProcess>();
const directories: string[] = [];

export async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "cph-gateway-test-"));
  directories.push(directory);
  return directory;
}

export interface Spawned {
  url: string;
  process: ChildProcess;
  /** This process's stdout and stderr so far. */
  output(): string;
  /** The JSON lines of stdout after the first. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

function spawnServer(
  bin: string,
  args: string[],
  env: Record<string, string>,
  banner: RegExp,
): Promise<Spawned> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const index = outputs.push("") - 1;
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${bin} did not start within 15 s:\n${stdout}\n${stderr}`)),
      15_000,
    );
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      outputs[index] += chunk;
      const match = banner.exec(stdout.split("\n", 1)[0] ?? "");
      if (match?.[1] && stdout.includes("\n")) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          process: child,
          output: () => stdout + stderr,
          logs: () =>
            stdout
              .split("\n")
              .slice(1)
              .filter((line) => line.startsWith("{"))
              .map((line) => JSON.parse(line) as Record<string, unknown>),
          exited,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      outputs[index] += chunk;
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code}) before listening:\n${stdout}\n${stderr}`));
    });
  });
}

export async function startEmulator(config: Record<string, unknown> = {}): Promise<Spawned> {
  const directory = await temporaryDirectory();
  const configFile = join(directory, "emulator.json");
  await writeFile(configFile, JSON.stringify({ jobDurationMs: 100, ...config }));
  return spawnServer(
    EMULATOR_BIN,
    ["--port", "0", "--host", "127.0.0.1", "--data-dir", join(directory, "data"), "--config", configFile],
    {},
    /^cph-emulator listening on (http:\/\/\S+)$/,
  );
}

export async function writeConfig(config: unknown): Promise<string> {
  const file = join(await temporaryDirectory(), "gateway.json");
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

export async function startGateway(
  config: GatewayConfigInput,
  env: Record<string, string> = gatewayEnv(),
): Promise<Spawned> {
  const file = await writeConfig(config);
  return spawnServer(
    GATEWAY_BIN,
    ["--config", file, "--port", "0"],
    env,
    /^cph-gateway listening on (http:\/\/\S+)$/,
  );
}

/** Runs the gateway bin to its end (for start-up failures): exit code and output. */
export function runGateway(
  args: string[],
  env: Record<string, string>,
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [GATEWAY_BIN, ...args], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    encoding: "utf8",
    timeout: 15_000,
    ...(input === undefined ? {} : { input }),
  });
  outputs.push(result.stdout + result.stderr);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A port nothing listens on (just released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Stops every process still running and removes the temporary directories. */
export async function cleanUp(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
}

/** The secrets that appear in the collected output (should be none). */
export function leakedSecrets(): string[] {
  const text = outputs.join("\n");
  return SECRETS.filter((secret) => text.includes(secret));
}

export const EXPORT_PATH = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;

export function storageInfos(count: number, overrides: Record<string, unknown> = {}, start = 0) {
  return Array.from({ length: count }, (_, offset) => ({
    phone_id: `phone${randomUUID().slice(0, 8)}${start + offset}`,
    include_files: ["/data/media"],
    bucket_name: "team-a-backups",
    object_path: `team-a/${start + offset}.tar`,
    ...overrides,
  }));
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Metrics and other text answers.
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...extra };
}

/** A request signed as the official SDKs sign it (content-type;host;x-project-id;x-sdk-date). */
export async function signedInit(
  method: "GET" | "POST",
  url: string,
  body?: string,
  secretKey = KEYS.teamBSecret,
): Promise<RequestInit> {
  const signed = await signRequest(
    {
      method,
      url,
      headers: body === undefined ? {} : { "Content-Type": "application/json;charset=UTF-8" },
      ...(body === undefined ? {} : { body: utf8Bytes(body) }),
    },
    { accessKey: KEYS.teamBAccessKey, secretKey, projectId: PROJECT },
  );
  const headers = { ...signed.headers };
  // fetch sets Host itself, from the same URL.
  delete headers["Host"];
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

export async function emulatorStats(emulator: Spawned): Promise<{ requests: number; throttled: number }> {
  return (await request(`${emulator.url}/__emulator/stats`)).body as { requests: number; throttled: number };
}

export async function setFaults(emulator: Spawned, faults: Record<string, unknown>): Promise<void> {
  const answer = await request(`${emulator.url}/__emulator/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(faults),
  });
  if (answer.status >= 300) throw new Error(`faults not set: ${answer.status} ${answer.text}`);
}

/** Reads one sample of a Prometheus text exposition. */
export function metric(text: string, sample: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** Polls `check` (no fixed sleeps in assertions: only waiting for a state to be reached). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface RedisHandle {
  url: string;
  keyPrefix: string;
  stop(): Promise<void>;
}

/**
 * A Redis for the shared-state tests: `CPH_TEST_REDIS_URL` when set (CI starts one), else a
 * `redis-server` spawned on a free port. Undefined (tests skipped) when neither is possible, or
 * an error when `CI` is set: CI must run them.
 */
export async function startRedis(): Promise<RedisHandle | string> {
  const keyPrefix = `cph-gateway-test-${randomUUID().slice(0, 8)}:`;
  const given = process.env["CPH_TEST_REDIS_URL"];
  if (given) return { url: given, keyPrefix, stop: async () => {} };
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.error) {
    const message =
      "redis-server is not on PATH and CPH_TEST_REDIS_URL is not set (apt-get install -y redis-server)";
    if (process.env["CI"]) throw new Error(`${message}: the Redis tests must run in CI`);
    return message;
  }
  const port = await closedPort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let text = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${text}`)), 10_000);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    keyPrefix,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      children.delete(child);
    },
  };
}
