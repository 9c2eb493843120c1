import { PassThrough } from "node:stream";
import type { CloudPhoneServer, Phone, StorageInfo } from "@cph-export/core";
import {
  type CphClient,
  type CphClientOptions,
  type ExportManyOptions,
  type ExportSource,
  type RestoreSource,
  type PhoneFilter,
  type PhoneResult,
  type ServerFilter,
  SkippedPhone,
} from "@cph-export/http-client";
import type { CliIo } from "../io.js";

/** An io of in-memory streams, with what was written readable as text. */
export function memoryIo(
  overrides: Partial<CliIo> = {},
): CliIo & { stdoutText(): string; stderrText(): string; stdinStream: PassThrough } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString("utf8")));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString("utf8")));
  return {
    stdin,
    stdinStream: stdin,
    stdout,
    stderr,
    env: {},
    cwd: process.cwd(),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    now: () => new Date("2025-06-07T08:09:10Z"),
    ...overrides,
    stdoutText: () => out.join(""),
    stderrText: () => err.join(""),
  };
}

export type Decide = (info: StorageInfo, index: number) => Omit<PhoneResult, "phoneId" | "index">;

/** A CphClient whose exportMany answers each phone with `decide`, recording what it was given. */
export class FakeClient implements CphClient {
  readonly endpoint = "http://fake.invalid";
  readonly projectId: string;
  readonly options: CphClientOptions;
  readonly sent: StorageInfo[] = [];
  /** The phones the source marked as skipped, reported rejected and never sent. */
  readonly skipped: SkippedPhone[] = [];
  /** Every listPhones call, with its filter. */
  readonly phoneFilters: PhoneFilter[] = [];
  exportOptions: ExportManyOptions | undefined;
  /** Whether the run was a restoreMany. */
  restoring = false;
  /** What listPhones and listServers walk, filtered as CPH filters. */
  phones: Phone[] = [];
  servers: CloudPhoneServer[] = [];
  closed = false;
  readonly #decide: Decide;
  readonly #throwAfter: unknown;

  constructor(options: CphClientOptions, decide: Decide, throwAfter?: unknown) {
    this.options = options;
    this.projectId = options.projectId;
    this.#decide = decide;
    this.#throwAfter = throwAfter;
  }

  async authenticate(): Promise<void> {}

  async batchExport(): Promise<never> {
    throw new Error("not used by the CLI");
  }

  async batchRestore(): Promise<never> {
    throw new Error("not used by the CLI");
  }

  async send(): Promise<never> {
    throw new Error("not used by the CLI");
  }

  async getJob(jobId: string) {
    return {
      job_id: jobId,
      phone_id: "p1",
      status: 2,
      begin_time: "2025-01-01T00:00:00Z",
      end_time: "2025-01-01T00:01:00Z",
    };
  }

  async listJobs(query: { requestIds: readonly string[] }) {
    return {
      jobs: query.requestIds.map((id, index) => ({
        job_id: `job-${id}`,
        phone_id: `p${index}`,
        request_id: id,
        status: 1,
      })),
    };
  }

  async waitForJobs(jobs: readonly { jobId: string; phoneId?: string | undefined }[]) {
    return jobs.map((job) => ({
      jobId: job.jobId,
      phoneId: job.phoneId,
      requestId: undefined,
      state: job.jobId.endsWith("9") ? ("failed" as const) : ("succeeded" as const),
    }));
  }

  async *listPhones(filter: PhoneFilter = {}): AsyncIterable<Phone> {
    this.phoneFilters.push(filter);
    for (const phone of this.phones) {
      if (filter.serverId !== undefined && phone.server_id !== filter.serverId) continue;
      if (filter.status !== undefined && phone.status !== filter.status) continue;
      if (filter.type !== undefined && phone.type !== filter.type) continue;
      if (filter.phoneName !== undefined && !phone.phone_name?.includes(filter.phoneName)) continue;
      yield phone;
    }
  }

  async *listServers(filter: ServerFilter = {}): AsyncIterable<CloudPhoneServer> {
    for (const server of this.servers) {
      if (filter.serverId !== undefined && server.server_id !== filter.serverId) continue;
      if (filter.serverName !== undefined && !server.server_name?.includes(filter.serverName)) continue;
      yield server;
    }
  }

  async *exportMany(source: ExportSource, options: ExportManyOptions = {}): AsyncIterable<PhoneResult> {
    this.exportOptions = options;
    let index = 0;
    for await (const info of source as AsyncIterable<StorageInfo | SkippedPhone>) {
      if (options.signal?.aborted) break;
      let result: PhoneResult;
      if (info instanceof SkippedPhone) {
        this.skipped.push(info);
        result = {
          phoneId: info.phoneId,
          index,
          state: "rejected",
          errorCode: info.errorCode,
          errorMessage: info.errorMessage,
        };
      } else {
        this.sent.push(info);
        result = { phoneId: info.phone_id, index, ...this.#decide(info, index) };
      }
      options.onProgress?.({
        read: index + 1,
        accepted: 0,
        rejected: 0,
        succeeded: 0,
        failed: 0,
        unknown: 0,
        resumed: 0,
        errors: 0,
        concurrency: options.concurrency ?? 4,
      });
      index++;
      yield result;
    }
    if (this.#throwAfter !== undefined) throw this.#throwAfter;
  }

  /** As exportMany: `decide` answers each restore info (`sent` records them, as storage infos). */
  restoreMany(source: RestoreSource, options: ExportManyOptions = {}): AsyncIterable<PhoneResult> {
    this.restoring = true;
    return this.exportMany(source as unknown as ExportSource, options);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
