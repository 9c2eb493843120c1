import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { StorageInfo } from "@cph-export/core";
import { errors } from "undici";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  acceptAll,
  BATCH_PATH,
  collect,
  cphError,
  mockClient,
  mockCph,
  PROJECT_ID,
  phone,
  type SeenRequest,
  storageInfo,
} from "./test-support/mock-cph.js";
import { Journal } from "./journal.js";
import type { ClientEvent, PhoneResult } from "./types.js";

let dir: string;
let journal: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "cph-journal-"));
  journal = join(dir, "export.journal");
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function phonesOf(request: SeenRequest): string[] {
  return (JSON.parse(request.text) as { storage_infos: StorageInfo[] }).storage_infos.map(
    (info) => info.phone_id,
  );
}

function* infos(count: number): Generator<StorageInfo> {
  for (let index = 0; index < count; index++) yield storageInfo(phone(index));
}

function records(): Array<Record<string, unknown>> {
  return readFileSync(journal, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const byIndex = (results: PhoneResult[]) => [...results].sort((a, b) => a.index! - b.index!);

describe("journal", () => {
  it("has every request's phones on disk before it is sent, with requests in flight together (group commit)", async () => {
    let unrecorded = 0;
    const { agent, requests } = mockCph((request) => {
      const onDisk = new Set(
        records().flatMap((record) => (record["type"] === "sent" ? (record["phones"] as string[]) : [])),
      );
      for (const id of phonesOf(request)) if (!onDisk.has(id)) unrecorded++;
      return acceptAll(request);
    });
    const results = await collect(
      mockClient(agent).exportMany(infos(40), { batchSize: 2, concurrency: 6, journal }),
    );
    expect(results).toHaveLength(40);
    expect(requests).toHaveLength(20);
    expect(unrecorded).toBe(0);
    expect(records().filter((record) => record["type"] === "result")).toHaveLength(40);
  });

  it("records the phones of a request on disk before sending it, and each phone's result after", async () => {
    const onDiskWhenSent: string[][] = [];
    const { agent } = mockCph((request) => {
      const sent = records().filter((record) => record["type"] === "sent");
      onDiskWhenSent.push(sent.at(-1)!["phones"] as string[]);
      return acceptAll(request, "req-j");
    });
    const results = await collect(
      mockClient(agent).exportMany(infos(4), { batchSize: 2, concurrency: 1, journal }),
    );
    expect(results).toHaveLength(4);
    expect(onDiskWhenSent).toEqual([
      [phone(0), phone(1)],
      [phone(2), phone(3)],
    ]);
    const all = records();
    expect(all[0]).toMatchObject({ type: "run", version: 1, projectId: PROJECT_ID });
    expect(all.filter((r) => r["type"] === "result")).toEqual(
      [0, 1, 2, 3].map((i) =>
        expect.objectContaining({
          phone: phone(i),
          state: "accepted",
          jobId: `job-${phone(i)}`,
          requestId: "req-j",
        }),
      ),
    );
  });

  it("keeps where each archive goes and when it was sent, and verifications beside the run state", async () => {
    const { agent } = mockCph((request) => acceptAll(request, "req-v"));
    const before = Date.now();
    await collect(mockClient(agent).exportMany(infos(2), { journal }));
    const notes: string[] = [];
    const opened = await Journal.open(journal, { projectId: PROJECT_ID, onNote: (note) => notes.push(note) });
    try {
      const entry = opened.index.get(phone(0))!;
      expect(entry).toMatchObject({
        state: "accepted",
        bucketName: "backup-bucket",
        objectPath: `exports/${phone(0)}.tar`,
      });
      expect(Date.parse(entry.sentAt!)).toBeGreaterThanOrEqual(before - 1000);
      await opened.verified([
        {
          phoneId: phone(0),
          state: "verified",
          bucket: "backup-bucket",
          key: entry.objectPath!,
          size: 10,
          time: "2026-12-06T00:00:00.000Z",
        },
        {
          phoneId: phone(1),
          state: "missing",
          bucket: "backup-bucket",
          key: `exports/${phone(1)}.tar`,
          time: "2026-12-06T00:00:01.000Z",
        },
      ]);
    } finally {
      await opened.close();
    }
    const again = await Journal.open(journal, { projectId: PROJECT_ID, onNote: (note) => notes.push(note) });
    try {
      expect(again.index.get(phone(0))).toMatchObject({
        state: "accepted",
        verification: { state: "verified", size: 10 },
      });
      expect(again.index.get(phone(1))).toMatchObject({
        state: "accepted",
        verification: { state: "missing" },
      });
    } finally {
      await again.close();
    }
    expect(records().filter((r) => r["type"] === "verify")).toHaveLength(2);
    expect(notes).toEqual([]);
    // A rerun still answers from the run state: verification never turns into a resend.
    const rerun = mockCph((request) => acceptAll(request, "req-w"));
    const results = await collect(mockClient(rerun.agent).exportMany(infos(2), { journal }));
    expect(results.every((r) => r.fromJournal)).toBe(true);
    expect(rerun.requests).toHaveLength(0);
  });

  it("on a rerun skips phones already accepted (reported fromJournal), and sends rejected ones again", async () => {
    const first = mockCph((request) => {
      const reply = acceptAll(request, "req-1");
      const body = reply.body as { jobs: Array<Record<string, string>> };
      body.jobs = body.jobs.map((job) =>
        job["phone_id"] === phone(1)
          ? { phone_id: phone(1), error_code: "CPS.0006", error_msg: "arrears" }
          : job,
      );
      return reply;
    });
    await collect(mockClient(first.agent).exportMany(infos(3), { journal }));
    const second = mockCph((request) => acceptAll(request, "req-2"));
    const results = byIndex(await collect(mockClient(second.agent).exportMany(infos(4), { journal })));
    expect(results.map((r) => [r.phoneId, r.state, r.fromJournal ?? false, r.requestId])).toEqual([
      [phone(0), "accepted", true, "req-1"],
      [phone(1), "accepted", false, "req-2"],
      [phone(2), "accepted", true, "req-1"],
      [phone(3), "accepted", false, "req-2"],
    ]);
    expect(second.requests.flatMap(phonesOf)).toEqual([phone(1), phone(3)]);
  });

  it("reports phones sent without a recorded answer as unknown, and resends them only with retryUnknown", async () => {
    const first = mockCph((request) => {
      if (phonesOf(request).includes(phone(0))) throw new errors.SocketError("other side closed");
      return acceptAll(request);
    });
    const firstRun = await collect(mockClient(first.agent).exportMany(infos(2), { batchSize: 1, journal }));
    expect(byIndex(firstRun).map((r) => r.state)).toEqual(["unknown", "accepted"]);
    // A run killed between its `sent` record and the answer leaves the phone `sent`.
    appendFileSync(journal, `${JSON.stringify({ type: "sent", batch: "x-1", phones: [phone(2)] })}\n`);

    const second = mockCph((request) => acceptAll(request));
    const results = byIndex(await collect(mockClient(second.agent).exportMany(infos(3), { journal })));
    expect(results.map((r) => [r.state, r.errorCode, r.fromJournal])).toEqual([
      ["unknown", "unknown_in_journal", true],
      ["accepted", undefined, true],
      ["unknown", "unknown_in_journal", true],
    ]);
    expect(results[0]!.errorMessage).toMatch(/^outcome unknown in journal/);
    expect(second.requests).toHaveLength(0);

    const third = mockCph((request) => acceptAll(request));
    const retried = byIndex(
      await collect(mockClient(third.agent).exportMany(infos(3), { journal, retryUnknown: true })),
    );
    expect(retried.map((r) => [r.state, r.fromJournal ?? false])).toEqual([
      ["accepted", false],
      ["accepted", true],
      ["accepted", false],
    ]);
    expect(third.requests.flatMap(phonesOf).sort()).toEqual([phone(0), phone(2)]);
  });

  it("tolerates a last line cut short by a crash, with a note, and repairs the file for later runs", async () => {
    const first = mockCph((request) => acceptAll(request));
    await collect(mockClient(first.agent).exportMany(infos(2), { batchSize: 1, journal }));
    appendFileSync(journal, '{"type":"result","phone":"phone0000');
    const notes: ClientEvent[] = [];
    const second = mockCph((request) => acceptAll(request));
    const run = () =>
      collect(mockClient(second.agent, { onEvent: (e) => notes.push(e) }).exportMany(infos(3), { journal }));
    expect(byIndex(await run()).map((r) => r.fromJournal ?? false)).toEqual([true, true, false]);
    expect(notes.filter((e) => e.type === "journal").map((e) => e.message)).toEqual([
      expect.stringMatching(/cut short .* ignored/),
    ]);
    // The next run reads the repaired file without complaint.
    notes.length = 0;
    expect(byIndex(await run()).map((r) => r.fromJournal)).toEqual([true, true, true]);
    expect(notes.filter((e) => e.type === "journal")).toEqual([]);
  });

  it("refuses a journal another run is using, and frees it when that run ends", async () => {
    const first = mockCph((request) => acceptAll(request));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slow(): AsyncGenerator<StorageInfo> {
      yield storageInfo(phone(0));
      await gate;
      yield storageInfo(phone(1));
    }
    const running = collect(mockClient(first.agent).exportMany(slow(), { journal, batchSize: 1 }));
    const lock = `${journal}.lock`;
    await vi.waitFor(() => expect(existsSync(lock)).toBe(true));
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    const second = mockCph((request) => acceptAll(request));
    await expect(collect(mockClient(second.agent).exportMany(infos(3), { journal }))).rejects.toThrow(
      new RegExp(
        `in use by another run of this process \\(pid ${process.pid}\\).*delete .*export\\.journal\\.lock`,
      ),
    );
    expect(second.requests).toHaveLength(0);
    release();
    expect(await running).toHaveLength(2);
    expect(existsSync(lock)).toBe(false);
    // Free again: the next run resumes from it.
    const third = mockCph((request) => acceptAll(request));
    expect(
      byIndex(await collect(mockClient(third.agent).exportMany(infos(3), { journal }))).map(
        (r) => r.fromJournal ?? false,
      ),
    ).toEqual([true, true, false]);
    expect(existsSync(lock)).toBe(false);
  });

  it("leaves no lock behind when the run fails before it starts", async () => {
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const broken = mockClient(agent, { validation: { maxBodyBytes: 10 } });
    await expect(collect(broken.exportMany(infos(1), { journal }))).rejects.toThrow();
    expect(existsSync(`${journal}.lock`)).toBe(false);
    expect(await collect(mockClient(agent).exportMany(infos(1), { journal }))).toHaveLength(1);
    expect(requests).toHaveLength(1);
  });

  it("takes over the lock of a run that was killed, with a note, but not one of another host", async () => {
    // A process that locks the journal (as a run does) and is killed with SIGKILL.
    const dist = pathToFileURL(join(import.meta.dirname, "../dist/journal-lock.js")).href;
    const child = spawn(process.execPath, [
      "--input-type=module",
      "-e",
      `const { acquireJournalLock } = await import(${JSON.stringify(dist)});
       await acquireJournalLock(process.argv[1], () => {}); process.stdout.write("locked"); setInterval(() => {}, 1000);`,
      journal,
    ]);
    await new Promise((resolve) => child.stdout.once("data", resolve));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const lock = `${journal}.lock`;
    expect(existsSync(lock)).toBe(true);
    const notes: ClientEvent[] = [];
    const { agent, requests } = mockCph((request) => acceptAll(request));
    const client = mockClient(agent, { onEvent: (e) => notes.push(e) });
    expect(await collect(client.exportMany(infos(1), { journal }))).toHaveLength(1);
    expect(requests).toHaveLength(1);
    expect(notes.filter((e) => e.type === "journal").map((e) => e.message)).toEqual([
      expect.stringMatching(new RegExp(`left by a run \\(pid ${child.pid}, .*no longer running; taken over`)),
    ]);
    expect(existsSync(lock)).toBe(false);

    writeFileSync(
      lock,
      JSON.stringify({ pid: 1, host: "build-box-7", start: 0, time: "2026-01-01T00:00:00.000Z" }),
    );
    await expect(collect(client.exportMany(infos(2), { journal }))).rejects.toThrow(
      /in use by another run \(pid 1 on build-box-7, since 2026-01-01/,
    );
    writeFileSync(lock, "garbage");
    await expect(collect(client.exportMany(infos(2), { journal }))).rejects.toThrow(/in use by another run:/);
    expect(requests).toHaveLength(1);
    expect(readFileSync(lock, "utf8")).toBe("garbage");
  });

  it("refuses a journal with a broken line that a crash cannot explain", async () => {
    writeFileSync(
      journal,
      `not json\n${JSON.stringify({ type: "sent", batch: "a-1", phones: [phone(0)] })}\n`,
    );
    const { agent, requests } = mockCph((request) => acceptAll(request));
    await expect(collect(mockClient(agent).exportMany(infos(1), { journal }))).rejects.toThrow(
      /line 1 is not a journal record/,
    );
    expect(requests).toHaveLength(0);
  });

  it("refuses a journal written for another project", async () => {
    writeFileSync(journal, `${JSON.stringify({ type: "run", version: 1, projectId: "another" })}\n`);
    const { agent } = mockCph((request) => acceptAll(request));
    await expect(collect(mockClient(agent).exportMany(infos(1), { journal }))).rejects.toThrow(
      /written for project another/,
    );
  });

  it("follows accepted phones of the journal to the end with wait, and records their final state", async () => {
    const first = mockCph((request) => acceptAll(request, "req-old"));
    await collect(mockClient(first.agent).exportMany(infos(2), { journal }));
    const second = mockCph((request) => {
      if (request.path === BATCH_PATH) return acceptAll(request, "req-new");
      const ids = request.query.get("request_ids")!.split(",");
      return {
        status: 200,
        body: {
          jobs: [0, 1, 2]
            .map((i) => ({ job_id: `job-${phone(i)}`, request_id: i < 2 ? "req-old" : "req-new", status: 2 }))
            .filter((j) => ids.includes(j.request_id)),
        },
      };
    });
    const results = byIndex(
      await collect(mockClient(second.agent).exportMany(infos(3), { journal, wait: { intervalMs: 1 } })),
    );
    expect(results.map((r) => [r.state, r.fromJournal ?? false])).toEqual([
      ["succeeded", true],
      ["succeeded", true],
      ["succeeded", false],
    ]);
    const last = new Map(
      records()
        .filter((r) => r["type"] === "result")
        .map((r) => [r["phone"], r["state"]]),
    );
    expect([...last.values()]).toEqual(["succeeded", "succeeded", "succeeded"]);
  });

  it("keeps phones of a throttled request unsent when aborted while waiting to retry", async () => {
    let release!: () => void;
    const throttled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { agent, requests } = mockCph(() => {
      release();
      return cphError(429, "APIGW.0308", "throttled", { "retry-after": "60" });
    });
    const controller = new AbortController();
    const run = collect(mockClient(agent).exportMany(infos(2), { journal, signal: controller.signal }));
    await throttled;
    controller.abort();
    expect(await run).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(records().map((r) => r["type"])).toEqual(["run", "sent", "unsent"]);
    // So a rerun sends them.
    const again = mockCph((request) => acceptAll(request));
    expect(
      (await collect(mockClient(again.agent).exportMany(infos(2), { journal }))).map(
        (r) => r.fromJournal ?? false,
      ),
    ).toEqual([false, false]);
  });
});
