// Shared by the in-process tests: a config with two callers, a scripted upstream and a log sink.
import type { BatchExportResponse, StorageInfo } from "@cph-export/core";
import type { BatchExportOptions, BatchExportResult, RequestOptions } from "@cph-export/http-client";
import { createApp, type Lifecycle, type Upstream } from "../app.js";
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

type Operation = "authenticate" | "batchExport" | "getJob" | "listJobs";

/** The per-call options the gateway passes to the http-client. */
type CallOptions = BatchExportOptions;

/** An upstream whose answers a test scripts; records every call. */
export class FakeUpstream implements Upstream {
  readonly calls: Array<{ operation: Operation; argument: unknown; options: CallOptions | undefined }> = [];
  /** Replaces the default answer of an operation; receives the argument and the abort signal. */
  script: Partial<
    Record<Operation, (argument: unknown, signal: AbortSignal | undefined) => Promise<unknown>>
  > = {};

  async #run<T>(
    operation: Operation,
    argument: unknown,
    options: CallOptions | undefined,
    fallback: () => T,
  ): Promise<T> {
    this.calls.push({ operation, argument, options });
    const scripted = this.script[operation];
    return scripted ? ((await scripted(argument, options?.signal)) as T) : fallback();
  }

  authenticate(options?: RequestOptions): Promise<void> {
    return this.#run("authenticate", undefined, options, () => undefined);
  }

  batchExport(
    storageInfos: readonly StorageInfo[],
    options?: BatchExportOptions,
  ): Promise<BatchExportResult> {
    return this.#run("batchExport", storageInfos, options, () => {
      const response: BatchExportResponse = {
        request_id: `upstream-${this.calls.length}`,
        jobs: storageInfos.map((info, index) => ({
          phone_id: info.phone_id,
          job_id: `job-${this.calls.length}-${index}`,
        })),
      };
      return { requestId: response.request_id ?? undefined, response, phones: [] };
    });
  }

  getJob(jobId: string, options?: RequestOptions) {
    return this.#run("getJob", jobId, options, () => ({
      request_id: "upstream-job",
      job_id: jobId,
      phone_id: "phone0000",
      status: 2,
    }));
  }

  listJobs(
    query: { requestIds: readonly string[]; offset?: number; limit?: number },
    options?: RequestOptions,
  ) {
    return this.#run("listJobs", query, options, () => ({
      request_id: "upstream-list",
      jobs: query.requestIds.map((id) => ({ job_id: `job-of-${id}`, request_id: id, status: 1 })),
    }));
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
  } = {},
) {
  const lines: string[] = [];
  const upstream = new FakeUpstream();
  const config = options.config ?? testConfig();
  const now = options.now ?? Date.now;
  const store = options.store ?? createMemoryStateStore({ now });
  const metrics = new GatewayMetrics();
  const logger = createJsonLogger({ write: (line) => lines.push(line), now });
  const app = createApp({
    config,
    upstream,
    store,
    logger,
    metrics,
    now,
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
  });
  const bearer = (key = TEAM_A_KEY) => ({ Authorization: `Bearer ${key}` });
  return { app, upstream, store, metrics, lines, config, bearer };
}
