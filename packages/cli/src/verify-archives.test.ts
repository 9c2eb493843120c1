import { fc, test as property } from "@fast-check/vitest";
import type { Job } from "@cph-export/core";
import { describe, expect, it } from "vitest";
import {
  type ArchiveHead,
  type ArchiveLookup,
  jobsByPhone,
  renderReport,
  tallyVerification,
  type VerifyTarget,
  verifyTargets,
} from "./verify-archives.js";

const NOW = new Date("2026-12-06T12:00:00.000Z");
const SENT = new Date("2026-12-06T11:00:00.000Z");
const id = (n: number) => n.toString(16).padStart(32, "0");

/** A bucket as a map of key -> head, counting what it was asked. */
function bucket(objects: Record<string, ArchiveHead>) {
  const asked: string[][] = [];
  const lookup: ArchiveLookup = {
    async findArchives(wanted) {
      const list = [...wanted].map(({ bucket: b, key }) => `${b}/${key}`);
      asked.push(list);
      return new Map(list.map((where) => [where, objects[where] ?? { exists: false }]));
    },
    destroy() {},
  };
  return { lookup, asked };
}

const fresh = (size = 100): ArchiveHead => ({
  exists: true,
  size,
  etag: '"e"',
  lastModified: new Date("2026-12-06T11:05:00Z"),
});
const old = (): ArchiveHead => ({ exists: true, size: 5, lastModified: new Date("2026-12-01T00:00:00Z") });

function phone(n: number, state: string, extra: Partial<VerifyTarget> = {}): VerifyTarget {
  return { phoneId: id(n), runState: state, bucket: "b-1", key: `x/${id(n)}.tar`, notBefore: SENT, ...extra };
}

describe("verifyTargets", () => {
  it("says verified, missing or stale for each sent phone, and why", async () => {
    const { lookup } = bucket({
      [`b-1/x/${id(1)}.tar`]: fresh(),
      [`b-1/x/${id(3)}.tar`]: old(),
      [`b-1/x/${id(4)}.tar`]: fresh(0),
    });
    const rows = await verifyTargets(
      [phone(1, "succeeded"), phone(2, "succeeded"), phone(3, "succeeded"), phone(4, "accepted")],
      lookup,
      new Map(),
      { now: () => NOW },
    );
    expect(rows.map((row) => [row.phone_id, row.verification])).toEqual([
      [id(1), "verified"],
      [id(2), "missing"],
      [id(3), "stale"],
      [id(4), "stale"],
    ]);
    expect(rows[0]).toMatchObject({
      size: 100,
      etag: '"e"',
      last_modified: "2026-12-06T11:05:00.000Z",
      verified_at: NOW.toISOString(),
    });
    expect(rows[1]!.note).toBe(`no object at b-1/x/${id(2)}.tar`);
    expect(rows[2]!.note).toContain("before the job began");
    expect(rows[3]!.note).toContain("is empty");
    expect(rows.some((row) => row.safe_to_resend)).toBe(false);
  });

  it("resolves unknown phones by looking: found is verified, not found is safe to resend", async () => {
    const { lookup } = bucket({ [`b-1/x/${id(1)}.tar`]: fresh() });
    const rows = await verifyTargets(
      [phone(1, "unknown"), phone(2, "sent"), phone(3, "unknown")],
      lookup,
      new Map(),
      // No send time: only a settle of 0 says that no job can still be writing.
      { now: () => NOW, settleMs: 0 },
    );
    expect(rows.map((row) => [row.verification, row.safe_to_resend ?? false])).toEqual([
      ["verified", false],
      ["missing", true],
      ["missing", true],
    ]);
    const held = await verifyTargets([phone(2, "sent")], lookup, new Map(), { now: () => NOW });
    expect(held.map((row) => [row.verification, row.safe_to_resend ?? false])).toEqual([["pending", false]]);
    // A job in a status CPH does not document has not ended: nothing is judged, nothing resent.
    const odd = new Map<string, Job>([[id(3), { job_id: "j3", phone_id: id(3), status: 7 }]]);
    const [strange] = await verifyTargets([phone(3, "unknown", { requestId: "r3" })], lookup, odd, {
      now: () => NOW,
      settleMs: 0,
    });
    expect(strange).toMatchObject({ verification: "running" });
    expect(strange!.safe_to_resend).toBeUndefined();
    expect(rows[0]!.note).toContain("no need to resend");
    expect(rows[1]!.note).toContain("--resend-missing");
  });

  it("holds an unknown phone with no visible job and no archive as pending until --settle is over", async () => {
    const { lookup } = bucket({});
    const recent = new Date(NOW.getTime() - 10 * 60_000);
    const ended = new Map<string, Job>([
      [id(3), { job_id: "j3", phone_id: id(3), status: -1, error_code: "CPS.0010" }],
    ]);
    const targets = [
      phone(1, "unknown", { sentAt: recent }),
      phone(2, "unknown", { sentAt: SENT }),
      phone(3, "unknown", { sentAt: recent, requestId: "r3" }),
    ];
    const rows = await verifyTargets(targets, lookup, ended, { now: () => NOW, settleMs: 30 * 60_000 });
    expect(rows.map((row) => [row.verification, row.safe_to_resend ?? false])).toEqual([
      ["pending", false],
      // Sent an hour ago, past the 30 minutes: no job will write it now.
      ["missing", true],
      // Its job is seen to have ended (failed): no need to wait.
      ["missing", true],
    ]);
    expect(rows[0]!.note).toContain("verify again after 2026-12-06T12:20:00.000Z");
    expect(rows[2]!.note).toContain("job failed: CPS.0010");
    // The default settle is an hour.
    const [byDefault] = await verifyTargets([phone(2, "unknown", { sentAt: recent })], lookup, new Map(), {
      now: () => NOW,
    });
    expect(byDefault!.verification).toBe("pending");
    expect(tallyVerification(rows)).toMatchObject({ pending: 1, missing: 2, resendable: 2 });
  });

  it("does not look for the archive of a phone whose job still runs, nor of one never sent", async () => {
    const { lookup, asked } = bucket({});
    const jobs = new Map<string, Job>([[id(1), { job_id: "j1", phone_id: id(1), status: 1 }]]);
    const rows = await verifyTargets(
      [
        phone(1, "unknown", { requestId: "r1" }),
        phone(2, "rejected", { errorCode: "not_sent" }),
        phone(3, "succeeded", { bucket: undefined }),
      ],
      lookup,
      jobs,
      { now: () => NOW },
    );
    expect(rows.map((row) => row.verification)).toEqual(["running", "not_exported", "no_location"]);
    expect(rows[0]).toMatchObject({ job_id: "j1" });
    expect(rows[0]!.safe_to_resend).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("measures against the job's begin time when ListJobs gave it, not the send time", async () => {
    const written = new Date("2026-12-06T11:05:00Z");
    const { lookup } = bucket({ [`b-1/x/${id(1)}.tar`]: { exists: true, size: 3, lastModified: written } });
    const jobs = new Map<string, Job>([
      [id(1), { job_id: "j1", phone_id: id(1), status: 2, begin_time: "2026-12-06T11:30:00Z" }],
    ]);
    const [row] = await verifyTargets([phone(1, "accepted")], lookup, jobs, { now: () => NOW });
    expect(row!.verification).toBe("stale");
    const [lenient] = await verifyTargets([phone(1, "accepted")], lookup, jobs, {
      now: () => NOW,
      clockSkewMs: 3_600_000,
    });
    expect(lenient!.verification).toBe("verified");
  });

  property.prop([
    fc.array(
      fc.record({
        state: fc.constantFrom("accepted", "succeeded", "failed", "unknown", "sent", "rejected"),
        present: fc.boolean(),
        located: fc.boolean(),
        running: fc.boolean(),
        ended: fc.boolean(),
        sentMinutesAgo: fc.integer({ min: 0, max: 120 }),
      }),
      { maxLength: 40 },
    ),
  ])(
    "one row per phone, in order; the archive of every sent, located, finished phone looked up once",
    async (specs) => {
      const objects: Record<string, ArchiveHead> = {};
      const jobs = new Map<string, Job>();
      const targets = specs.map((spec, n) => {
        if (spec.present) objects[`b-1/x/${id(n)}.tar`] = fresh();
        if (spec.running) jobs.set(id(n), { phone_id: id(n), job_id: `j${n}`, status: 1 });
        else if (spec.ended) jobs.set(id(n), { phone_id: id(n), job_id: `j${n}`, status: -1 });
        const sentAt = new Date(NOW.getTime() - spec.sentMinutesAgo * 60_000);
        return phone(n, spec.state, spec.located ? { sentAt } : { key: undefined, sentAt });
      });
      const { lookup, asked } = bucket(objects);
      const settleMs = 60 * 60_000;
      const rows = await verifyTargets(targets, lookup, jobs, { now: () => NOW, settleMs });
      expect(rows.map((row) => row.phone_id)).toEqual(targets.map((target) => target.phoneId));
      const expected = specs.flatMap((spec, n) =>
        spec.state !== "rejected" && spec.located && !spec.running ? [`b-1/x/${id(n)}.tar`] : [],
      );
      expect(asked.flat()).toEqual(expected);
      for (const [n, row] of rows.entries()) {
        const spec = specs[n]!;
        if (row.verification === "verified") expect(spec.present).toBe(true);
        if (row.safe_to_resend) {
          expect(["unknown", "sent"]).toContain(spec.state);
          expect(spec.present).toBe(false);
          // Never resent while a job could still write the archive.
          expect(spec.running).toBe(false);
          expect(spec.ended || spec.sentMinutesAgo * 60_000 >= settleMs).toBe(true);
        }
        if (row.verification === "pending") expect(spec.ended || spec.running).toBe(false);
      }
      const tally = tallyVerification(rows);
      expect(
        Object.entries(tally)
          .filter(([name]) => name !== "resendable")
          .reduce((sum, [, n]) => sum + n, 0),
      ).toBe(rows.length);
    },
  );
});

describe("jobsByPhone", () => {
  it("asks ListJobs 20 request ids a call, every page, each id once", async () => {
    const calls: Array<{ requestIds: readonly string[]; offset?: number }> = [];
    const requestIds = Array.from({ length: 45 }, (_, n) => `r${n}`);
    const client = {
      async listJobs(query: { requestIds: readonly string[]; offset?: number; limit?: number }) {
        calls.push(query);
        // The first group has 150 jobs: two pages.
        const total = query.requestIds[0] === "r0" ? 150 : query.requestIds.length;
        const start = query.offset ?? 0;
        const jobs = Array.from({ length: Math.max(0, Math.min(100, total - start)) }, (_, n) => ({
          job_id: `j${query.requestIds[0]}-${start + n}`,
          phone_id: `${query.requestIds[0]}-${start + n}`,
          status: 2,
        }));
        return { jobs };
      },
    };
    const jobs = await jobsByPhone(client, [...requestIds, "r3"]);
    expect(calls.map((call) => [call.requestIds.length, call.offset])).toEqual([
      [20, 0],
      [20, 100],
      [20, 0],
      [5, 0],
    ]);
    expect(jobs.size).toBe(150 + 20 + 5);
  });
});

describe("renderReport", () => {
  const rows = [
    {
      phone_id: id(1),
      verification: "verified" as const,
      bucket: "b-1",
      key: "a,b.tar",
      size: 3,
      etag: '"x"',
      verified_at: NOW.toISOString(),
    },
    { phone_id: id(2), verification: "missing" as const, verified_at: NOW.toISOString(), note: "=cmd()" },
  ];

  it("CSV: a header, one row a phone, quoted where a reader would split, formulas neutralised", () => {
    const lines = renderReport(rows, "csv").split("\r\n");
    expect(lines[0]).toBe(
      "phone_id,job_id,run_state,verification,bucket,key,size,etag,last_modified,verified_at,safe_to_resend,note",
    );
    expect(lines[1]).toBe(`${id(1)},,,verified,b-1,"a,b.tar",3,"""x""",,${NOW.toISOString()},,`);
    expect(lines[2]).toBe(`${id(2)},,,missing,,,,,,${NOW.toISOString()},,'=cmd()`);
    expect(lines).toHaveLength(4);
  });

  it("JSON: every column on every row, null where there is nothing", () => {
    const parsed = JSON.parse(renderReport(rows, "json")) as Array<Record<string, unknown>>;
    expect(parsed).toHaveLength(2);
    expect(Object.keys(parsed[1]!)).toHaveLength(12);
    expect(parsed[1]).toMatchObject({ phone_id: id(2), size: null, verification: "missing" });
  });
});
