// Shared by the in-process tests: a config with two callers, a scripted upstream and a log sink.
import type { BatchExportResponse, HttpRequest, HttpResponseData, StorageInfo } from "@cph-export/core";
import type { RequestOptions } from "@cph-export/http-client";
import { createGateway, type Lifecycle, type Upstream } from "../app.js";
import { hashApiKey } from "../auth.js";
import { type GatewayConfigInput, parseGatewayConfig } from "../config.js";
import { createJsonLogger } from "../logger.js";
import { GatewayMetrics } from "../metrics.js";
import { createMemoryStateStore, type StateStore } from "../state-store.js";

export const PROJECT = "0123456789abcdef0123456789abcdef";
export const TEAM_A_KEY = "team-a-api-key-0001-do-not-log";
export const TEAM_A_ROTATED_KEY = "team-a-api-key-0002-do-not-log";
export const TEAM_B_AK = "GATEWAYTEAMBAK000001";
export const TEAM_B_SK = "team-b-gateway-secret-key-0001";
export const TEAM_B_SK_ENV = "CPH_GATEWAY_SK_TEAM_B";
/** Every secret a test uses; none may appear in a log line. */
export const SECRETS = [TEAM_A_KEY, TEAM_A_ROTATED_KEY, TEAM_B_SK];

export function configInput(overrides: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    upstream: { endpoint: "http://127.0.0.1:9", projectId: PROJECT, timeoutMs: 1000 },
    callers: [
      {
        name: "team-a",
        apiKeySha256: [hashApiKey(TEAM_A_KEY), hashApiKey(TEAM_A_ROTATED_KEY)],
        projects: [PROJECT],
        buckets: ["team-a-*", "shared-bucket"],
        objectPathPrefixes: ["team-a/"],
        maxPhonesPerRequest: 3,
        requestsPerMinute: 1000,
      },
      {
        name: "team-b",
        accessKey: TEAM_B_AK,
        secretKeyEnv: TEAM_B_SK_ENV,
        projects: [PROJECT],
        buckets: ["team-b-backups"],
        objectPathPrefixes: [""],
        requestsPerMinute: 1000,
      },
    ],
    ...overrides,
  };
}

export function testConfig(overrides: Partial<GatewayConfigInput> = {}) {
  return parseGatewayConfig(configInput(overrides), (name) =>
    name === TEAM_B_SK_ENV ? TEAM_B_SK : undefined,
  );
}

export function storageInfo(index: number, overrides: Partial<StorageInfo> = {}): StorageInfo {
  return {
    phone_id: `phone${String(index).padStart(4, "0")}`,
    include_files: ["/data/media"],
    bucket_name: "team-a-backups",
    object_path: `team-a/phone${index}.tar`,
    ...overrides,
  };
}

export function exportBody(count: number, overrides: Partial<StorageInfo> = {}): string {
  return JSON.stringify({
    storage_infos: Array.from({ length: count }, (_, index) => storageInfo(index, overrides)),
  });
}

type Operation =
  | "authenticate"
  | "batchExport"
  | "batchRestore"
  | "getJob"
  | "listJobs"
  | "listPhones"
  | "listServers";

/** A listed phone of the fake upstream's fleet. */
export interface FleetPhone {
  phone_id: string;
  server_id: string;
  phone_name: string;
  status: number;
}

/** `count` phones spread over `servers` in turn: phone i is on server `srv-${i % servers}`. */
export function fleet(count: number, servers = 1): FleetPhone[] {
  return Array.from({ length: count }, (_, index) => ({
    phone_id: `phone${String(index).padStart(4, "0")}`,
    server_id: `srv-${index % servers}`,
    phone_name: `phone-${index}`,
    status: index % 5 === 4 ? 8 : 2,
  }));
}

/** An answer a script may give as it is: a body text that is sent untouched (status 200 unless given). */
export interface RawAnswer {
  status?: number;
  bodyText: string;
}

/**
 * An upstream whose answers a test scripts, by operation; records every call. It reads the requests
 * the gateway `send`s back into operations: the storage infos of a batch-storage body, a job id, a
 * ListJobs query.
 */
export class FakeUpstream implements Upstream {
  readonly endpoint = "http://upstream.test";
  readonly projectId = PROJECT;
  readonly calls: Array<{
    operation: Operation;
    argument: unknown;
    options: RequestOptions | undefined;
    request?: HttpRequest;
  }> = [];
  /**
   * Replaces the default answer of an operation; receives the argument and the abort signal. It may
   * resolve a `RawAnswer`, a batch result (`{ response }`, whose response is sent) or any value (sent as JSON).
   */
  script: Partial<
    Record<Operation, (argument: unknown, signal: AbortSignal | undefined) => Promise<unknown>>
  > = {};
  /** The phones ListCloudPhones pages over (filters server_id, status, phone_name as a substring). */
  fleet: FleetPhone[] = [];

  authenticate(options?: RequestOptions): Promise<void> {
    this.calls.push({ operation: "authenticate", argument: undefined, options });
    const scripted = this.script.authenticate;
    return scripted ? scripted(undefined, options?.signal).then(() => undefined) : Promise.resolve();
  }

  async send(request: HttpRequest, options?: RequestOptions): Promise<HttpResponseData> {
    const { operation, argument } = this.#read(request);
    this.calls.push({ operation, argument, options, request });
    const scripted = this.script[operation];
    const value = scripted ? await scripted(argument, options?.signal) : this.#fallback(operation, argument);
    if (typeof value === "object" && value !== null && typeof (value as RawAnswer).bodyText === "string") {
      const raw = value as RawAnswer;
      return { status: raw.status ?? 200, headers: {}, bodyText: raw.bodyText };
    }
    const body =
      operation === "batchExport" || operation === "batchRestore"
        ? (value as { response: unknown }).response
        : value;
    return { status: 200, headers: { "content-type": "application/json" }, bodyText: JSON.stringify(body) };
  }

  #read(request: HttpRequest): { operation: Operation; argument: unknown } {
    const prefix = `${this.endpoint}/v1/${this.projectId}/cloud-phone`;
    if (!request.url.startsWith(prefix)) throw new Error(`unexpected upstream URL ${request.url}`);
    const url = new URL(request.url);
    const rest = request.url.slice(prefix.length).split("?")[0] as string;
    if (request.method === "POST" && rest === "/phones/batch-storage") {
      const body = JSON.parse(new TextDecoder().decode(request.body)) as { storage_infos: StorageInfo[] };
      return { operation: "batchExport", argument: body.storage_infos };
    }
    if (request.method === "POST" && rest === "/phones/batch-restore") {
      const body = JSON.parse(new TextDecoder().decode(request.body)) as { restore_infos: unknown[] };
      return { operation: "batchRestore", argument: body.restore_infos };
    }
    if (request.method === "GET" && rest.startsWith("/jobs/"))
      return { operation: "getJob", argument: decodeURIComponent(rest.slice("/jobs/".length)) };
    if (request.method === "GET" && rest === "/jobs") {
      const ids = url.searchParams.get("request_ids");
      const number = (name: string) => {
        const value = url.searchParams.get(name);
        return value === null ? {} : { [name]: Number(value) };
      };
      return {
        operation: "listJobs",
        argument: { requestIds: ids ? ids.split(",") : [], ...number("offset"), ...number("limit") },
      };
    }
    if (request.method === "GET" && (rest === "/phones" || rest === "/servers")) {
      const argument = Object.fromEntries(url.searchParams);
      return { operation: rest === "/phones" ? "listPhones" : "listServers", argument };
    }
    throw new Error(`unexpected upstream request ${request.method} ${request.url}`);
  }

  #fallback(operation: Operation, argument: unknown): unknown {
    const count = this.calls.length;
    if (operation === "batchExport" || operation === "batchRestore") {
      const response: BatchExportResponse = {
        request_id: `upstream-${count}`,
        jobs: (argument as StorageInfo[]).map((info, index) => ({
          phone_id: info.phone_id,
          job_id: `job-${count}-${index}`,
        })),
      };
      return { response };
    }
    if (operation === "listPhones" || operation === "listServers") {
      const query = argument as Record<string, string>;
      const offset = Number(query["offset"] ?? 0);
      const limit = Number(query["limit"] ?? 100);
      if (operation === "listPhones") {
        const phones = this.fleet.filter(
          (phone) =>
            (query["server_id"] === undefined || phone.server_id === query["server_id"]) &&
            (query["status"] === undefined || phone.status === Number(query["status"])) &&
            (query["phone_name"] === undefined || phone.phone_name.includes(query["phone_name"])),
        );
        return { request_id: `upstream-${count}`, phones: phones.slice(offset, offset + limit) };
      }
      const ids = [...new Set(this.fleet.map((phone) => phone.server_id))].sort();
      const servers = ids
        .filter((id) => query["server_id"] === undefined || id === query["server_id"])
        .map((id) => ({ server_id: id, server_name: `server ${id}`, status: 5 }))
        .filter(
          (server) => query["server_name"] === undefined || server.server_name.includes(query["server_name"]),
        );
      return { request_id: `upstream-${count}`, servers: servers.slice(offset, offset + limit) };
    }
    if (operation === "getJob")
      return { request_id: "upstream-job", job_id: argument, phone_id: "phone0000", status: 2 };
    const query = argument as { requestIds: string[] };
    return {
      request_id: "upstream-list",
      jobs: query.requestIds.map((id) => ({ job_id: `job-of-${id}`, request_id: id, status: 1 })),
    };
  }

  count(operation: Operation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }
}

/** An app over a fake upstream and an in-memory store, with its log lines collected. */
export function testApp(
  options: {
    config?: ReturnType<typeof testConfig>;
    store?: StateStore;
    now?: () => number;
    lifecycle?: Lifecycle;
    createRequestId?: () => string;
  } = {},
) {
  const lines: string[] = [];
  const upstream = new FakeUpstream();
  const config = options.config ?? testConfig();
  const now = options.now ?? Date.now;
  const store = options.store ?? createMemoryStateStore({ now });
  const metrics = new GatewayMetrics();
  const logger = createJsonLogger({ write: (line) => lines.push(line), now });
  const { app, listener } = createGateway({
    config,
    upstream,
    store,
    logger,
    metrics,
    now,
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
    ...(options.createRequestId ? { createRequestId: options.createRequestId } : {}),
  });
  const bearer = (key = TEAM_A_KEY) => ({ Authorization: `Bearer ${key}` });
  return { app, listener, upstream, store, metrics, lines, config, bearer };
}
