import {
  CphApiError,
  type Job,
  type JobState,
  jobState,
  LIMITS,
  type ListJobsResponse,
  type ShowJobResponse,
} from "@cph-export/core";
import type { JobOutcome, TrackedJob } from "./types.js";

/** The two reads the poller needs, with the client's retries and auth. */
export interface JobReader {
  listJobs(
    query: { requestIds: readonly string[]; offset: number; limit: number },
    signal?: AbortSignal,
  ): Promise<ListJobsResponse>;
  getJob(jobId: string, signal?: AbortSignal): Promise<ShowJobResponse>;
}

interface PendingJob {
  jobId: string;
  phoneId: string | undefined;
  requestId: string | undefined;
  /** Last observed state: `running`, or `unknown` for an undocumented status (still followed). */
  state: JobState;
  job: ShowJobResponse | undefined;
}

/** Pages per request-id group before giving up on a server that ignores `offset`. */
const MAX_PAGES = 10_000;
/** ShowJob calls in flight at once for jobs ListJobs cannot find. */
const SHOW_JOB_CONCURRENCY = 4;

function outcomeOf(pending: PendingJob): JobOutcome {
  return {
    jobId: pending.jobId,
    phoneId: pending.phoneId,
    requestId: pending.requestId,
    state: pending.state,
    errorCode: pending.job?.error_code ?? undefined,
    errorMessage: pending.job?.error_msg ?? pending.job?.execute_msg ?? undefined,
    job: pending.job,
  };
}

/**
 * Follows a changing set of jobs: one `round()` reads every pending job once, with ListJobs for
 * up to 20 request ids a call (pages of 100) and ShowJob only for jobs without a request id or
 * missing from their request's listing.
 */
export class JobPoller {
  readonly #reader: JobReader;
  readonly #pending = new Map<string, PendingJob>();

  constructor(reader: JobReader) {
    this.#reader = reader;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Counts of the pending jobs by last observed state. */
  pendingCounts(): { running: number; unknown: number } {
    let unknown = 0;
    for (const job of this.#pending.values()) if (job.state === "unknown") unknown++;
    return { running: this.#pending.size - unknown, unknown };
  }

  add(job: TrackedJob): void {
    if (this.#pending.has(job.jobId)) return;
    this.#pending.set(job.jobId, {
      jobId: job.jobId,
      phoneId: job.phoneId,
      requestId: job.requestId || undefined,
      state: "running",
      job: undefined,
    });
  }

  /** Stops following these jobs; returns their outcome as last seen, with `state` forced to `unknown`. */
  expire(jobIds: Iterable<string>, reason: string): JobOutcome[] {
    const outcomes: JobOutcome[] = [];
    for (const jobId of jobIds) {
      const pending = this.#pending.get(jobId);
      if (!pending) continue;
      this.#pending.delete(jobId);
      outcomes.push({ ...outcomeOf(pending), state: "unknown", errorMessage: reason });
    }
    return outcomes;
  }

  jobIds(): string[] {
    return [...this.#pending.keys()];
  }

  /** Reads every pending job once; returns those that reached `succeeded`, `failed`, or could not be found. */
  async round(signal?: AbortSignal): Promise<JobOutcome[]> {
    const finished: JobOutcome[] = [];
    const byRequest = new Map<string, string[]>();
    const direct: string[] = [];
    for (const job of this.#pending.values()) {
      if (job.requestId === undefined) direct.push(job.jobId);
      else {
        const group = byRequest.get(job.requestId);
        if (group) group.push(job.jobId);
        else byRequest.set(job.requestId, [job.jobId]);
      }
    }
    const requestIds = [...byRequest.keys()];
    for (let start = 0; start < requestIds.length; start += LIMITS.listJobsMaxRequestIds) {
      const chunk = requestIds.slice(start, start + LIMITS.listJobsMaxRequestIds);
      const seen = await this.#listAll(chunk, finished, signal);
      for (const requestId of chunk) {
        for (const jobId of byRequest.get(requestId) ?? []) if (!seen.has(jobId)) direct.push(jobId);
      }
    }
    await this.#showEach(direct, finished, signal);
    return finished;
  }

  async #listAll(
    requestIds: string[],
    finished: JobOutcome[],
    signal: AbortSignal | undefined,
  ): Promise<Set<string>> {
    const seen = new Set<string>();
    const limit = LIMITS.listJobsMaxLimit;
    let previousFirst: string | undefined;
    for (let page = 0, offset = 0; page < MAX_PAGES; page++, offset += limit) {
      const response = await this.#reader.listJobs({ requestIds, offset, limit }, signal);
      const jobs = response.jobs ?? [];
      const first = jobs[0]?.job_id ?? undefined;
      if (page > 0 && first !== undefined && first === previousFirst) break;
      previousFirst = first;
      for (const job of jobs) {
        if (!job.job_id) continue;
        seen.add(job.job_id);
        this.#observe(job.job_id, { ...job, request_id: job.request_id ?? undefined }, finished);
      }
      const total = typeof response.count === "number" ? response.count : undefined;
      if (jobs.length < limit || (total !== undefined && offset + jobs.length >= total)) break;
    }
    return seen;
  }

  async #showEach(jobIds: string[], finished: JobOutcome[], signal: AbortSignal | undefined): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < jobIds.length) {
        const jobId = jobIds[next++]!;
        try {
          this.#observe(jobId, await this.#reader.getJob(jobId, signal), finished);
        } catch (error) {
          // A job the service says does not exist will never finish; anything else is the caller's to handle.
          if (!(error instanceof CphApiError) || error.status !== 404) throw error;
          const pending = this.#pending.get(jobId);
          if (!pending) continue;
          this.#pending.delete(jobId);
          finished.push({
            ...outcomeOf(pending),
            state: "unknown",
            errorCode: error.errorCode,
            errorMessage: error.errorMessage,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SHOW_JOB_CONCURRENCY, jobIds.length) }, worker));
  }

  #observe(jobId: string, job: Job | ShowJobResponse, finished: JobOutcome[]): void {
    const pending = this.#pending.get(jobId);
    if (!pending) return;
    pending.job = job;
    pending.state = jobState(job.status);
    pending.phoneId ??= job.phone_id ?? undefined;
    if (pending.state === "succeeded" || pending.state === "failed") {
      this.#pending.delete(jobId);
      finished.push(outcomeOf(pending));
    }
  }
}
