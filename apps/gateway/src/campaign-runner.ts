// Campaign execution on BullMQ: one job per batch of a campaign, workers in every gateway replica.
//
// A campaign of B batches starts with its first `maxConcurrency` batch jobs; each batch job, once
// its phones are answered and their CPH jobs followed to the end, adds the batch `maxConcurrency`
// further on (under a deterministic job id, so a job run twice adds it once). So at most
// `maxConcurrency` batches are in flight over every replica, and no coordinator is needed.
//
// Safety, the client's rules: a batch's phones go pending -> sent (atomically, only while the
// campaign runs) before its POST. A replica killed with SIGKILL leaves its job active; BullMQ's
// stalled check hands it to another replica, whose run finds those phones `sent`, never answered:
// they become `unknown` (interrupted), never resent. Phones already `accepted` have their jobs
// followed again. A POST that certainly never reached CPH puts its phones back to pending and the
// job is retried with backoff.
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { StorageInfo } from "@cph-export/core";
import type { CphClient, JobOutcome, PhoneResult } from "@cph-export/http-client";
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { CampaignSpec } from "./campaign-model.js";
import type { CampaignStore, PhoneRecord, PhoneUpdate } from "./campaign-store.js";
import type { Logger } from "./logger.js";

/** What a campaign needs of the upstream client. */
export type CampaignClient = Pick<CphClient, "exportMany" | "waitForJobs" | "listPhones">;

export interface BatchJobData {
  campaign: string;
  generation: number;
  batch: number;
}

export interface CampaignRunnerSettings {
  /** Batch jobs this replica runs at once. */
  workerConcurrency: number;
  /** How long a replica holds a job without renewing its lock; a killed replica's jobs move after it. */
  lockMs: number;
  /** How often a replica looks for stalled jobs (of killed replicas). */
  stalledIntervalMs: number;
  /** First interval of job polling, and the longest. */
  pollIntervalMs: number;
  pollMaxIntervalMs: number;
  /** Longest wait for a batch's CPH jobs; those still running end `unknown`. */
  jobTimeoutMs: number;
  /** Attempts of a batch whose POST could not reach CPH. */
  batchAttempts: number;
}

/** This replica's worker activity, for /metrics. */
export interface WorkerActivity {
  active: number;
  batches: Record<"completed" | "retried" | "failed", number>;
  phonesSent: number;
}

export const QUEUE_NAME = "cph-campaign-batches";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function storageInfo(spec: CampaignSpec, id: string, record: PhoneRecord): StorageInfo {
  return {
    phone_id: id,
    bucket_name: spec.bucketName,
    object_path: record.o,
    include_files: spec.includeFiles,
    ...(spec.excludeFiles === undefined ? {} : { exclude_files: spec.excludeFiles }),
  };
}

/** The change a batch POST's result makes to its phone (from `sent`, claimed by `attempt`). */
export function sentUpdate(result: PhoneResult, attempt: string): PhoneUpdate {
  const base = { id: result.phoneId, from: ["sent", "unknown"] as PhoneUpdate["from"], a: attempt };
  if (result.state === "accepted") {
    return { ...base, to: "accepted", j: result.jobId, r: result.requestId, answered: true };
  }
  if (result.state === "rejected" && result.errorCode === "not_sent") {
    // Certainly never reached CPH: queued again, the job retried.
    return { ...base, from: ["sent"], to: "pending" };
  }
  if (result.state === "rejected") {
    return {
      ...base,
      to: "rejected",
      r: result.requestId,
      c: result.errorCode,
      m: result.errorMessage,
      answered: true,
      error: true,
    };
  }
  return {
    ...base,
    to: "unknown",
    r: result.requestId,
    c: result.errorCode ?? "unknown",
    m: result.errorMessage ?? "the request's outcome is unknown; not resent: verify its archive",
  };
}

/** The change a followed job's outcome makes to its phone (from `accepted`). */
export function jobUpdate(outcome: JobOutcome, phoneId: string): PhoneUpdate {
  const base = { id: phoneId, from: ["accepted"] as PhoneUpdate["from"] };
  if (outcome.state === "succeeded") return { ...base, to: "succeeded" };
  if (outcome.state === "failed") {
    return {
      ...base,
      to: "failed",
      c: outcome.errorCode ?? "job_failed",
      m: outcome.errorMessage,
      error: true,
    };
  }
  return {
    ...base,
    to: "unknown",
    c: outcome.errorCode ?? "job_unknown",
    m: outcome.errorMessage ?? "the job's end was not seen; verify its archive",
  };
}

/** The queue and this replica's worker. */
export class CampaignRunner {
  readonly queue: Queue<BatchJobData>;
  readonly #worker: Worker<BatchJobData>;
  readonly #connections: Redis[];
  readonly #store: CampaignStore;
  readonly #client: CampaignClient;
  readonly #logger: Logger;
  readonly #settings: CampaignRunnerSettings;
  readonly #now: () => number;
  readonly activity: WorkerActivity = {
    active: 0,
    batches: { completed: 0, retried: 0, failed: 0 },
    phonesSent: 0,
  };
  readonly #aborts = new AbortController();

  constructor(options: {
    redisUrl: string;
    /** BullMQ's key prefix (its own: BullMQ refuses an ioredis keyPrefix). */
    prefix: string;
    store: CampaignStore;
    client: CampaignClient;
    logger: Logger;
    settings: CampaignRunnerSettings;
    now?: () => number;
    onRedisError?: (error: Error) => void;
  }) {
    // Every batch in flight listens to the shutdown signal.
    setMaxListeners(0, this.#aborts.signal);
    this.#store = options.store;
    this.#client = options.client;
    this.#logger = options.logger;
    this.#settings = options.settings;
    this.#now = options.now ?? Date.now;
    const connect = () => {
      const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true });
      redis.on("error", (error: Error) => options.onRedisError?.(error));
      return redis;
    };
    const queueConnection = connect();
    const workerConnection = connect();
    this.#connections = [queueConnection, workerConnection];
    this.queue = new Queue<BatchJobData>(QUEUE_NAME, { connection: queueConnection, prefix: options.prefix });
    this.queue.on("error", (error: Error) => options.onRedisError?.(error));
    this.#worker = new Worker<BatchJobData>(QUEUE_NAME, (job) => this.#run(job), {
      connection: workerConnection,
      prefix: options.prefix,
      concurrency: this.#settings.workerConcurrency,
      lockDuration: this.#settings.lockMs,
      stalledInterval: this.#settings.stalledIntervalMs,
      // A stalled batch is run again safely (its sent phones become unknown): never give it up.
      maxStalledCount: 1_000_000,
      autorun: true,
    });
    this.#worker.on("error", (error: Error) => options.onRedisError?.(error));
    this.#worker.on("failed", (job, error) => {
      if (job === undefined) return;
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade < attempts) {
        this.activity.batches.retried++;
        return;
      }
      this.activity.batches.failed++;
      void this.#giveUp(job.data, error).catch((failure: unknown) =>
        this.#logger.error("campaign batch not closed", {
          campaign: job.data.campaign,
          batch: job.data.batch,
          error: failure instanceof Error ? failure.message : String(failure),
        }),
      );
    });
  }

  /** Adds the first batch jobs of a generation. */
  async start(spec: CampaignSpec, generation: number, batches: number): Promise<void> {
    const first = Math.min(batches, spec.maxConcurrency);
    await this.queue.addBulk(
      Array.from({ length: first }, (_, batch) => this.#jobOf({ campaign: spec.id, generation, batch })),
    );
  }

  #jobOf(data: BatchJobData) {
    return {
      name: "batch",
      data,
      opts: {
        jobId: `${data.campaign}-g${data.generation}-b${data.batch}`,
        attempts: this.#settings.batchAttempts,
        backoff: { type: "exponential", delay: 1000 },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 24 * 3600 },
      },
    };
  }

  async #run(job: Job<BatchJobData>): Promise<void> {
    const { campaign, generation, batch } = job.data;
    const spec = await this.#store.spec(campaign);
    const progress = await this.#store.progress(campaign);
    if (spec === undefined || progress === undefined || progress.generation !== generation) return;
    this.activity.active++;
    const started = performance.now();
    try {
      await this.#runBatch(spec, batch);
    } finally {
      this.activity.active--;
    }
    this.#logger.info("campaign batch done", {
      campaign,
      batch,
      attempt: job.attemptsMade + 1,
      // Above attempt when the batch was taken over from a replica that died (a stalled job).
      runs: job.attemptsStarted,
      duration_ms: Math.round(performance.now() - started),
      waited_ms: Math.max(0, Math.round(Date.now() - job.timestamp - (performance.now() - started))),
    });
    this.activity.batches.completed++;
    await this.#next(spec, generation, batch);
  }

  async #runBatch(spec: CampaignSpec, batch: number): Promise<void> {
    const ids = await this.#store.batchPhones(spec.id, batch, spec.batchSize);
    const attempt = randomUUID();
    const claim = await this.#store.claim(spec.id, ids, attempt, this.#now());
    if (claim.stopped) return;
    if (claim.interrupted.length > 0) {
      this.#logger.warn("campaign batch resumed after an interruption", {
        campaign: spec.id,
        batch,
        unknown: claim.interrupted.length,
      });
    }
    const follow = claim.accepted
      .filter(({ record }) => record.j !== undefined)
      .map(({ id, record }) => ({ jobId: record.j as string, phoneId: id, requestId: record.r }));
    if (claim.claimed.length > 0) {
      if (spec.rate !== undefined) {
        const wait = await this.#store.pace(spec.id, spec.rate);
        if (wait > 0) await sleep(wait);
      }
      const infos = claim.claimed.map(({ id, record }) => storageInfo(spec, id, record));
      const updates: PhoneUpdate[] = [];
      for await (const result of this.#client.exportMany(infos, {
        batchSize: infos.length,
        concurrency: 1,
        adaptiveConcurrency: false,
        // No shutdown signal here: a POST cut short would leave its phones unknown. It ends within
        // the client's timeouts; only the waits are cut at shutdown (another replica follows them).
      })) {
        updates.push(sentUpdate(result, attempt));
        if (result.state === "accepted" && result.jobId !== undefined) {
          follow.push({ jobId: result.jobId, phoneId: result.phoneId, requestId: result.requestId });
        }
      }
      this.activity.phonesSent += updates.filter((update) => update.to !== "pending").length;
      await this.#store.record(spec.id, updates, this.#now());
      const notSent = updates.filter((update) => update.to === "pending").length;
      if (notSent > 0 && follow.length === 0) {
        throw new Error(`${notSent} phones of batch ${batch} could not be sent (CPH unreachable); retried`);
      }
    }
    if (follow.length > 0) {
      const outcomes = await this.#client.waitForJobs(follow, {
        intervalMs: this.#settings.pollIntervalMs,
        maxIntervalMs: this.#settings.pollMaxIntervalMs,
        timeoutMs: this.#settings.jobTimeoutMs,
        signal: this.#aborts.signal,
      });
      const updates = outcomes.map((outcome, index) =>
        jobUpdate(outcome, outcome.phoneId ?? (follow[index]?.phoneId as string)),
      );
      await this.#store.record(spec.id, updates, this.#now());
    }
  }

  /** Adds the batch `maxConcurrency` further on while the campaign runs in this generation. */
  async #next(spec: CampaignSpec, generation: number, batch: number): Promise<void> {
    const progress = await this.#store.progress(spec.id);
    if (progress === undefined || progress.status !== "running" || progress.generation !== generation) return;
    const next = batch + spec.maxConcurrency;
    if (next >= progress.batches) return;
    const job = this.#jobOf({ campaign: spec.id, generation, batch: next });
    await this.queue.add(job.name, job.data, job.opts);
  }

  /** A batch out of attempts: its phones still pending are reported not_sent, and the chain goes on. */
  async #giveUp(data: BatchJobData, error: Error): Promise<void> {
    const spec = await this.#store.spec(data.campaign);
    if (spec === undefined) return;
    const ids = await this.#store.batchPhones(spec.id, data.batch, spec.batchSize);
    await this.#store.record(
      spec.id,
      ids.map((id) => ({
        id,
        from: ["pending"],
        to: "rejected",
        c: "not_sent",
        m: `not sent: ${error.message}`,
      })),
      this.#now(),
    );
    await this.#next(spec, data.generation, data.batch);
  }

  /** Queue depth by job state, for /metrics. */
  jobCounts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts("waiting", "active", "delayed", "failed", "completed");
  }

  /**
   * Stops taking jobs, lets the active ones end (their job waits are cut after `graceMs`; another
   * replica follows them again), and closes the connections. Never hangs: without Redis it only
   * drops the connections.
   */
  async close(graceMs: number): Promise<void> {
    const connected = this.#connections.every((redis) => redis.status === "ready");
    const timer = setTimeout(() => this.#aborts.abort(new Error("gateway shutting down")), graceMs);
    try {
      if (connected) await within(this.#worker.close(), graceMs + 5000);
      else void this.#worker.close(true).catch(() => {});
      if (connected) await within(this.queue.close(), 2000);
      else void this.queue.close().catch(() => {});
    } finally {
      clearTimeout(timer);
      for (const redis of this.#connections) redis.disconnect();
    }
  }
}

/** Waits for `promise` at most `ms`; a rejection or the timeout ends the wait the same way. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
