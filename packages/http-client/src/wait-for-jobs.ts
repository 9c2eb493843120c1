import { JobPoller, type JobReader } from "./job-poller.js";
import { sleep } from "./retry.js";
import type { JobOutcome, TrackedJob, WaitOptions, WaitProgress } from "./types.js";

export const DEFAULT_WAIT = { intervalMs: 2_000, maxIntervalMs: 15_000, backoff: 1.5 } as const;

/** The next pause between polling rounds: grows by half each round up to the cap. */
export function nextInterval(current: number, maxIntervalMs: number): number {
  return Math.min(maxIntervalMs, Math.ceil(current * DEFAULT_WAIT.backoff));
}

/** Follows jobs to the end; see `CphClient.waitForJobs`. */
export async function waitForJobs(
  reader: JobReader,
  jobs: readonly TrackedJob[],
  options: WaitOptions = {},
): Promise<JobOutcome[]> {
  const { signal, onProgress } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT.intervalMs;
  const maxIntervalMs = Math.max(intervalMs, options.maxIntervalMs ?? DEFAULT_WAIT.maxIntervalMs);
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const poller = new JobPoller(reader);
  for (const job of jobs) poller.add(job);
  const outcomes = new Map<string, JobOutcome>();
  const total = new Set(jobs.map((job) => job.jobId)).size;

  const progress = (): WaitProgress => {
    const counts: WaitProgress = { total, running: 0, succeeded: 0, failed: 0, unknown: 0 };
    for (const outcome of outcomes.values())
      counts[outcome.state === "running" ? "unknown" : outcome.state]++;
    const pending = poller.pendingCounts();
    counts.running += pending.running;
    counts.unknown += pending.unknown;
    return counts;
  };

  let interval = intervalMs;
  while (poller.size > 0) {
    signal?.throwIfAborted();
    for (const outcome of await poller.round(signal)) outcomes.set(outcome.jobId, outcome);
    onProgress?.(progress());
    if (poller.size === 0) break;
    const now = Date.now();
    if (deadline !== undefined && now >= deadline) {
      const reason = `still running after the ${options.timeoutMs} ms wait timeout; the job may yet finish`;
      for (const outcome of poller.expire(poller.jobIds(), reason)) outcomes.set(outcome.jobId, outcome);
      onProgress?.(progress());
      break;
    }
    await sleep(deadline === undefined ? interval : Math.min(interval, deadline - now), signal);
    interval = nextInterval(interval, maxIntervalMs);
  }
  return jobs.map((job) => {
    const outcome = outcomes.get(job.jobId)!;
    return {
      ...outcome,
      phoneId: outcome.phoneId ?? job.phoneId,
      requestId: outcome.requestId ?? job.requestId,
    };
  });
}
