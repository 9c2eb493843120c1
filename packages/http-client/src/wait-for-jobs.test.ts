import { afterEach, describe, expect, it, vi } from "vitest";
import { cphError, JOBS_PATH, mockClient, mockCph, type SeenRequest } from "./test-support/mock-cph.js";
import type { TrackedJob, WaitProgress } from "./types.js";

interface FakeJob {
  job_id: string;
  phone_id: string;
  request_id: string | undefined;
  /** Polls (ListJobs pages or ShowJobs that include it) before it ends. */
  pollsLeft: number;
  endStatus: 2 | -1;
}

/** A job store answering ListJobs (ids, offset, limit) and ShowJob, ending jobs after some reads. */
function jobServer(jobs: FakeJob[]) {
  const byId = new Map(jobs.map((job) => [job.job_id, job]));
  const body = (job: FakeJob, count: boolean) => {
    if (count && job.pollsLeft > 0) job.pollsLeft--;
    const status = job.pollsLeft > 0 ? 1 : job.endStatus;
    return {
      job_id: job.job_id,
      phone_id: job.phone_id,
      request_id: job.request_id,
      status,
      error_code: status === -1 ? "CPS.9001" : null,
      error_msg: status === -1 ? "export failed" : null,
    };
  };
  return mockCph((request: SeenRequest) => {
    if (request.path === JOBS_PATH) {
      const ids = (request.query.get("request_ids") ?? "").split(",");
      if (ids.length > 20) return cphError(400, "CPS.0002", "too many request ids");
      const offset = Number(request.query.get("offset"));
      const limit = Number(request.query.get("limit"));
      const matching = jobs.filter((job) => job.request_id !== undefined && ids.includes(job.request_id));
      return {
        status: 200,
        body: {
          count: matching.length,
          jobs: matching.slice(offset, offset + limit).map((job) => body(job, true)),
        },
      };
    }
    const job = byId.get(request.path.slice(JOBS_PATH.length + 1));
    return job ? { status: 200, body: body(job, true) } : cphError(404, "CPS.0404", "job not found");
  });
}

function fakeJobs(
  count: number,
  options: { requestId?: (index: number) => string | undefined; polls?: number; failEvery?: number } = {},
): FakeJob[] {
  return Array.from({ length: count }, (_, index) => ({
    job_id: `job-${index}`,
    phone_id: `phone-${index}`,
    request_id: options.requestId ? options.requestId(index) : `req-${index}`,
    pollsLeft: options.polls ?? 1,
    endStatus: options.failEvery && index % options.failEvery === 0 ? -1 : 2,
  }));
}

const tracked = (jobs: FakeJob[]): TrackedJob[] =>
  jobs.map((job) => ({ jobId: job.job_id, phoneId: job.phone_id, requestId: job.request_id }));

afterEach(() => {
  vi.useRealTimers();
});

describe("waitForJobs", () => {
  it("asks ListJobs for at most 20 request ids a call and pages through 100 jobs at a time", async () => {
    // 44 small requests plus one request of 250 jobs.
    const jobs = [
      ...fakeJobs(44),
      ...fakeJobs(250, { requestId: () => "req-big" }).map((job) => ({
        ...job,
        job_id: `big-${job.job_id}`,
      })),
    ];
    const { agent, requests } = jobServer(jobs);
    const outcomes = await mockClient(agent).waitForJobs(tracked(jobs), { intervalMs: 1 });
    expect(outcomes.map((o) => o.state)).toEqual(jobs.map(() => "succeeded"));
    const lists = requests.filter((r) => r.path === JOBS_PATH);
    expect(requests.filter((r) => r.path !== JOBS_PATH)).toHaveLength(0);
    for (const list of lists)
      expect(list.query.get("request_ids")!.split(",").length).toBeLessThanOrEqual(20);
    const asked = new Set(lists.flatMap((list) => list.query.get("request_ids")!.split(",")));
    expect(asked.size).toBe(45);
    // 45 ids: chunks of 20, 20, 5; the last one holds req-big (269 jobs in all? no: 4 + 250): pages at 0, 100, 200.
    const bigChunk = lists.filter((list) => list.query.get("request_ids")!.includes("req-big"));
    expect(bigChunk.map((list) => list.query.get("offset"))).toEqual(["0", "100", "200"]);
    expect(lists.every((list) => list.query.get("limit") === "100")).toBe(true);
    expect(lists).toHaveLength(5);
  });

  it("uses ShowJob for jobs without a request id, and for jobs missing from their request's listing", async () => {
    const jobs = fakeJobs(3, { requestId: () => undefined });
    const { agent, requests } = jobServer(jobs);
    const stray: TrackedJob = { jobId: jobs[0]!.job_id, requestId: "req-unknown" };
    const outcomes = await mockClient(agent).waitForJobs([...tracked(jobs.slice(1)), stray], {
      intervalMs: 1,
    });
    expect(outcomes.map((o) => [o.jobId, o.state])).toEqual([
      ["job-1", "succeeded"],
      ["job-2", "succeeded"],
      ["job-0", "succeeded"],
    ]);
    expect(
      requests
        .filter((r) => r.path.startsWith(`${JOBS_PATH}/`))
        .map((r) => r.path.slice(JOBS_PATH.length + 1))
        .sort(),
    ).toEqual(["job-0", "job-1", "job-2"]);
  });

  it("backs off between rounds up to maxIntervalMs and reports progress by state", async () => {
    vi.useFakeTimers();
    const jobs = fakeJobs(4, { polls: 5, failEvery: 2, requestId: () => "req-1" });
    jobs[3]!.pollsLeft = 1;
    const { agent, requests } = jobServer(jobs);
    const progress: WaitProgress[] = [];
    const times: number[] = [];
    const start = Date.now();
    const pending = mockClient(agent).waitForJobs(tracked(jobs), {
      intervalMs: 1_000,
      maxIntervalMs: 2_000,
      onProgress: (p) => {
        progress.push(p);
        times.push(Date.now() - start);
      },
    });
    await vi.advanceTimersByTimeAsync(60_000);
    const outcomes = await pending;
    expect(outcomes.map((o) => o.state)).toEqual(["failed", "succeeded", "failed", "succeeded"]);
    expect(outcomes[0]).toMatchObject({
      errorCode: "CPS.9001",
      errorMessage: "export failed",
      phoneId: "phone-0",
      requestId: "req-1",
    });
    expect(times).toEqual([0, 1_000, 2_500, 4_500, 6_500]);
    expect(progress[0]).toEqual({ total: 4, running: 3, succeeded: 1, failed: 0, unknown: 0 });
    expect(progress.at(-1)).toEqual({ total: 4, running: 0, succeeded: 2, failed: 2, unknown: 0 });
    expect(requests).toHaveLength(5);
  });

  it("ends jobs still running at timeoutMs as unknown, after one last round", async () => {
    vi.useFakeTimers();
    const jobs = fakeJobs(2, { polls: 1_000 });
    jobs[0]!.pollsLeft = 2;
    const { agent, requests } = jobServer(jobs);
    const pending = mockClient(agent).waitForJobs(tracked(jobs), { intervalMs: 1_000, timeoutMs: 2_500 });
    await vi.advanceTimersByTimeAsync(10_000);
    const outcomes = await pending;
    expect(outcomes[0]!.state).toBe("succeeded");
    expect(outcomes[1]).toMatchObject({
      state: "unknown",
      errorMessage: expect.stringMatching(/still running after the 2500 ms/),
    });
    const count = requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests).toHaveLength(count);
  });

  it("rejects with an AbortError when aborted, and sends nothing after", async () => {
    vi.useFakeTimers();
    const jobs = fakeJobs(2, { polls: 1_000 });
    const { agent, requests } = jobServer(jobs);
    const controller = new AbortController();
    const pending = mockClient(agent)
      .waitForJobs(tracked(jobs), { intervalMs: 1_000, signal: controller.signal })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_500);
    const sent = requests.length;
    controller.abort();
    const error = await pending;
    expect((error as Error).name).toBe("AbortError");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(sent);
  });

  it("ends a job ShowJob says does not exist as unknown with the error", async () => {
    const { agent } = jobServer([]);
    const [outcome] = await mockClient(agent).waitForJobs([{ jobId: "ghost" }], { intervalMs: 1 });
    expect(outcome).toMatchObject({ jobId: "ghost", state: "unknown", errorCode: "CPS.0404" });
  });
});
