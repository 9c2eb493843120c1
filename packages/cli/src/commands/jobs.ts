import { jobState, type Job, LIMITS } from "@cph-export/core";
import type { CphClient, JobOutcome, TrackedJob } from "@cph-export/http-client";
import type { ClientFactory } from "../client.js";
import { colorEnabled } from "../config.js";
import { connect } from "../connect.js";
import { isAbortError, usageError } from "../errors.js";
import { EXIT, worstExit } from "../exit-codes.js";
import { type Context, terminalWidth } from "../io.js";
import {
  jobsGetOptionsSchema,
  jobsListOptionsSchema,
  jobsWaitOptionsSchema,
  type OutputFormat,
  parseOptions,
  splitIds,
} from "../options.js";
import { ProgressDisplay } from "../output/progress.js";
import { type JobRow, jobColumns, ResultWriter } from "../output/results.js";

export interface JobsDependencies {
  createClient?: ClientFactory | undefined;
}

function jobRow(
  job: Job,
  fallback: { jobId?: string | undefined; requestId?: string | undefined } = {},
): JobRow {
  const row: JobRow = { job_id: job.job_id ?? fallback.jobId ?? "", state: jobState(job.status) };
  if (job.phone_id) row.phone_id = job.phone_id;
  const requestId = job.request_id ?? fallback.requestId;
  if (requestId) row.request_id = requestId;
  if (job.status !== undefined && job.status !== null) row.status = job.status;
  if (job.begin_time) row.begin_time = job.begin_time;
  if (job.end_time) row.end_time = job.end_time;
  if (job.error_code) row.error_code = job.error_code;
  if (job.error_msg) row.error_msg = job.error_msg;
  return row;
}

function writerFor(context: Context, output: OutputFormat | undefined): ResultWriter<JobRow> {
  const format = output ?? (context.io.stdoutIsTTY ? "table" : "json");
  return new ResultWriter<JobRow>(
    context.out,
    format,
    jobColumns(colorEnabled(context.io.env, context.io.stdoutIsTTY)),
    { width: context.io.stdoutIsTTY ? terminalWidth(context.io) : undefined },
  );
}

/** `cph-export jobs get <job-id>`: one job (ShowJob). */
export async function jobsGetCommand(
  raw: unknown,
  context: Context,
  dependencies: JobsDependencies = {},
): Promise<number> {
  const options = parseOptions(jobsGetOptionsSchema, raw, "jobs get");
  const client = await connect(options, context, dependencies.createClient);
  try {
    const job = await client.getJob(options.jobId, { signal: context.io.signal });
    const writer = writerFor(context, options.output);
    await writer.add(jobRow(job, { jobId: options.jobId }));
    await writer.end();
    return EXIT.ok;
  } finally {
    await client.close().catch(() => {});
  }
}

/** Every job of these request ids: ListJobs with 20 ids a call, page by page. */
async function listAll(
  client: CphClient,
  requestIds: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Job[]> {
  const jobs: Job[] = [];
  const limit = LIMITS.listJobsMaxLimit;
  for (let start = 0; start < requestIds.length; start += LIMITS.listJobsMaxRequestIds) {
    const chunk = requestIds.slice(start, start + LIMITS.listJobsMaxRequestIds);
    for (let offset = 0; ; offset += limit) {
      const page = await client.listJobs({ requestIds: chunk, offset, limit }, { signal });
      const found = page.jobs ?? [];
      jobs.push(...found);
      if (found.length < limit) break;
    }
  }
  return jobs;
}

/** `cph-export jobs list --request-id ID...`: the jobs those export requests created. */
export async function jobsListCommand(
  raw: unknown,
  context: Context,
  dependencies: JobsDependencies = {},
): Promise<number> {
  const options = parseOptions(jobsListOptionsSchema, raw, "jobs list");
  const requestIds = splitIds(options.requestId);
  if (requestIds.length === 0) throw usageError("jobs list: give at least one --request-id.");
  const client = await connect(options, context, dependencies.createClient);
  try {
    const jobs = await listAll(client, requestIds, context.io.signal);
    const writer = writerFor(context, options.output);
    for (const job of jobs) await writer.add(jobRow(job));
    await writer.end();
    context.err.write(
      `jobs: ${jobs.length} ${jobs.length === 1 ? "job" : "jobs"} for ${requestIds.length} request ${requestIds.length === 1 ? "id" : "ids"}\n`,
    );
    return EXIT.ok;
  } finally {
    await client.close().catch(() => {});
  }
}

/** `cph-export jobs wait`: follows jobs to the end; exit 1 if any failed, 4 if any is left unknown. */
export async function jobsWaitCommand(
  raw: unknown,
  context: Context,
  dependencies: JobsDependencies = {},
): Promise<number> {
  const options = parseOptions(jobsWaitOptionsSchema, raw, "jobs wait");
  const requestIds = splitIds(options.requestId);
  const jobIds = splitIds(options.jobId);
  if (requestIds.length === 0 && jobIds.length === 0) {
    throw usageError("jobs wait: give --request-id ID or --job-id ID (repeatable, or comma-separated).");
  }
  const client = await connect(options, context, dependencies.createClient);
  const { io } = context;
  try {
    const tracked: TrackedJob[] = jobIds.map((jobId) => ({ jobId }));
    if (requestIds.length > 0) {
      const listed = await listAll(client, requestIds, io.signal);
      if (listed.length === 0)
        context.err.write(`warning: the request ids ${requestIds.join(", ")} have no jobs\n`);
      for (const job of listed) {
        if (job.job_id)
          tracked.push({
            jobId: job.job_id,
            phoneId: job.phone_id ?? undefined,
            requestId: job.request_id ?? undefined,
          });
      }
    }
    const progress = new ProgressDisplay(context.err, {
      label: "wait",
      tty: io.stderrIsTTY,
      columns: io.columns,
      now: () => context.now().getTime(),
    });
    let outcomes: JobOutcome[];
    try {
      progress.update({
        done: 0,
        total: tracked.length,
        succeeded: 0,
        failed: 0,
        rejected: 0,
        running: tracked.length,
        unknown: 0,
      });
      outcomes = await client.waitForJobs(tracked, {
        signal: io.signal,
        ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
        ...(options.pollInterval !== undefined ? { intervalMs: options.pollInterval } : {}),
        onProgress: (p) =>
          progress.update({
            done: p.succeeded + p.failed + p.unknown,
            total: p.total,
            succeeded: p.succeeded,
            failed: p.failed,
            rejected: 0,
            running: p.running,
            unknown: p.unknown,
          }),
      });
    } catch (error) {
      progress.finish();
      if (io.signal?.aborted || isAbortError(error)) {
        context.err.write(
          `interrupted while waiting for ${tracked.length} jobs; they keep running: check them again with the same command.\n`,
        );
        return EXIT.interrupted;
      }
      throw error;
    }
    progress.finish();
    const writer = writerFor(context, options.output);
    let code: number = EXIT.ok;
    const tally = { succeeded: 0, failed: 0, unknown: 0, running: 0 };
    for (const outcome of outcomes) {
      const row: JobRow = outcome.job
        ? jobRow(outcome.job, { jobId: outcome.jobId, requestId: outcome.requestId })
        : { job_id: outcome.jobId, state: outcome.state };
      row.state = outcome.state;
      if (!row.phone_id && outcome.phoneId) row.phone_id = outcome.phoneId;
      if (outcome.errorCode) row.error_code = outcome.errorCode;
      if (outcome.errorMessage) row.error_msg = outcome.errorMessage;
      tally[outcome.state]++;
      if (outcome.state === "failed") code = worstExit(code, EXIT.failed);
      if (outcome.state === "unknown" || outcome.state === "running") code = worstExit(code, EXIT.upstream);
      await writer.add(row);
    }
    await writer.end();
    context.err.write(
      `wait: ${outcomes.length} jobs: ${tally.succeeded} succeeded, ${tally.failed} failed${tally.unknown + tally.running > 0 ? `, ${tally.unknown + tally.running} unknown (still running or timed out)` : ""}\n`,
    );
    return code;
  } finally {
    await client.close().catch(() => {});
  }
}
