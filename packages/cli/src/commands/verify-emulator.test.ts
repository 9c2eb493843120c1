// `cph-export verify` end to end in one process: the real client and the real OBS reader (S3 SDK)
// against a real emulator on a loopback port, whose data directory is the "bucket".
import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunDependencies } from "../run.js";
import {
  emulatorEnv,
  emulatorHarness,
  ledgerOf,
  ndjsonRows,
  type Running,
  runInMemory,
} from "../test-support/emulator.js";
import type { ArchiveLookup } from "../verify-archives.js";

const { emulatorWith, scratch, cleanup } = emulatorHarness("cph-export-verify-");
afterEach(cleanup);

const ledger = (emulator: Running) => ledgerOf(emulator, "ledger");

/** Waits until every job the emulator made has ended (its archive written or its failure set). */
async function jobsEnded(emulator: Running): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if ((await ledger(emulator)).every((entry) => entry.outcome !== "running")) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the emulator's jobs did not end within 15 s");
}

async function setFaults(emulator: Running, faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${emulator.url}/__emulator/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(faults),
  });
  expect(response.status).toBe(200);
}

const cli = (
  emulator: Running,
  args: string[],
  env: Record<string, string> = {},
  dependencies: RunDependencies = {},
) => runInMemory(args, { env: { ...emulatorEnv(emulator), ...env } }, dependencies);

const rowsOf = ndjsonRows;

const countBy = (rows: Record<string, unknown>[], field: string) => {
  const out: Record<string, number> = {};
  for (const row of rows) out[String(row[field])] = (out[String(row[field])] ?? 0) + 1;
  return out;
};

const BUCKET = "verify-tests";
const EXPORT_FLAGS = ["--include", "/data", "--bucket", BUCKET, "--object-path", "runs/r1/{phone_id}.tar"];
const FLEET = { servers: 1, phonesPerServer: 40, statuses: { running: 1 } };

async function exportAll(emulator: Running, journal: string, extra: string[] = []) {
  return cli(emulator, [
    "export",
    "--all",
    ...EXPORT_FLAGS,
    "--batch-size",
    "5",
    "--journal",
    journal,
    "--output",
    "ndjson",
    ...extra,
  ]);
}

describe("verify against the emulator", () => {
  it("proves 38 of 40 archives and names the 2 deleted ones missing, exit 1, with a CSV report", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5, inventory: FLEET });
    const dir = await scratch();
    const journal = join(dir, "run.journal");
    const exported = await exportAll(emulator, journal, ["--wait", "--poll-interval", "20ms"]);
    expect(exported.code, exported.stderr).toBe(0);
    const phones = rowsOf(exported.stdout).map((row) => String(row["phone_id"]));
    expect(phones).toHaveLength(40);

    const gone = [phones[3]!, phones[27]!];
    for (const phone of gone) await unlink(join(emulator.directory, BUCKET, "runs", "r1", `${phone}.tar`));
    const report = join(dir, "proof.csv");
    const verified = await cli(emulator, [
      "verify",
      "--journal",
      journal,
      "--output",
      "ndjson",
      "--report",
      report,
    ]);
    expect(verified.code, verified.stderr).toBe(1);
    const rows = rowsOf(verified.stdout);
    expect(rows).toHaveLength(40);
    expect(countBy(rows, "verification")).toEqual({ verified: 38, missing: 2 });
    expect(
      rows
        .filter((row) => row["verification"] === "missing")
        .map((row) => row["phone_id"])
        .sort(),
    ).toEqual([...gone].sort());
    for (const row of rows.filter((candidate) => candidate["verification"] === "verified")) {
      expect(row["bucket"]).toBe(BUCKET);
      expect(row["key"]).toBe(`runs/r1/${row["phone_id"]}.tar`);
      expect(Number(row["size"])).toBeGreaterThan(0);
    }
    expect(verified.stderr).toContain("verify: 40 phones: 38 verified, 2 missing, 0 stale");
    const csv = (await readFile(report, "utf8")).split("\r\n").filter((line) => line !== "");
    expect(csv).toHaveLength(41);
    expect(csv[0]).toMatch(/^phone_id,job_id,run_state,verification,bucket,key,size,/);
    expect(csv.filter((line) => line.includes(",missing,"))).toHaveLength(2);

    // The journal keeps each verdict beside the run state, which does not change.
    const records = (await readFile(journal, "utf8"))
      .split("\n")
      .filter((line) => line.includes('"type":"verify"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toHaveLength(40);
    expect(countBy(records, "state")).toEqual({ verified: 38, missing: 2 });
    // A copy of the archive exists for no phone twice: nothing was resent.
    expect(await ledger(emulator)).toHaveLength(40);
  });

  it("resolves phones left unknown by dropped answers by looking: all verified, none resent", async () => {
    const emulator = await emulatorWith({
      jobDurationMs: 5,
      inventory: FLEET,
      faults: { dropRate: 0.5, seed: 11 },
    });
    const dir = await scratch();
    const journal = join(dir, "run.journal");
    const exported = await exportAll(emulator, journal, ["--retries", "0"]);
    const states = countBy(rowsOf(exported.stdout), "state");
    expect(states["unknown"] ?? 0).toBeGreaterThan(0);
    await setFaults(emulator, {});
    const sent = (await ledger(emulator)).length;
    expect(sent).toBe(40);
    await jobsEnded(emulator);

    const verified = await cli(emulator, ["verify", "--journal", journal, "--output", "ndjson"]);
    expect(verified.code, verified.stderr).toBe(0);
    const rows = rowsOf(verified.stdout);
    expect(countBy(rows, "verification")).toEqual({ verified: 40 });
    expect(rows.filter((row) => row["run_state"] === "unknown")).toHaveLength(states["unknown"] ?? 0);
    expect(rows.some((row) => row["safe_to_resend"] === true)).toBe(false);
    expect(await ledger(emulator)).toHaveLength(sent);
  });

  it("resends exactly the unknown phones whose jobs failed and left no archive, with --resend-missing", async () => {
    const emulator = await emulatorWith({
      jobDurationMs: 5,
      inventory: FLEET,
      faults: { dropRate: 1, phoneFailRate: 0.3, seed: 5 },
    });
    const dir = await scratch();
    const journal = join(dir, "run.journal");
    const exported = await exportAll(emulator, journal, ["--retries", "0"]);
    expect(countBy(rowsOf(exported.stdout), "state")).toEqual({ unknown: 40 });
    await setFaults(emulator, {});
    await jobsEnded(emulator);
    const before = await ledger(emulator);
    expect(before).toHaveLength(40);

    // No answer came back, so no request id and no job to ask: within --settle (1 h by default) a
    // phone without its archive is pending, never safe to resend.
    const early = await cli(emulator, ["verify", "--journal", journal, "--output", "ndjson"]);
    expect(early.code).toBe(4);
    const earlyRows = rowsOf(early.stdout);
    const failedJobs = earlyRows.filter((row) => row["verification"] === "pending").length;
    expect(failedJobs).toBeGreaterThan(0);
    expect(countBy(earlyRows, "verification")).toEqual({ verified: 40 - failedJobs, pending: failedJobs });
    expect(earlyRows.some((row) => row["safe_to_resend"])).toBe(false);

    const look = await cli(emulator, [
      "verify",
      "--journal",
      journal,
      "--settle",
      "0s",
      "--output",
      "ndjson",
    ]);
    expect(look.code).toBe(1);
    const missing = rowsOf(look.stdout).filter((row) => row["verification"] === "missing");
    expect(missing).toHaveLength(failedJobs);
    expect(missing.every((row) => row["safe_to_resend"] === true)).toBe(true);
    expect(look.stderr).toContain(
      `${missing.length} phones left unknown have no archive and are safe to resend`,
    );
    // Looking sent nothing.
    expect(await ledger(emulator)).toHaveLength(40);

    const resend = await cli(emulator, [
      "verify",
      "--journal",
      journal,
      "--resend-missing",
      "--settle",
      "0s",
      "--include",
      "/data",
      "--wait",
      "--output",
      "ndjson",
    ]);
    expect(resend.code, resend.stderr).toBe(0);
    expect(resend.stderr).toContain(
      `verify: resent ${missing.length} phones: 0 accepted, ${missing.length} succeeded`,
    );
    const after = await ledger(emulator);
    expect(after).toHaveLength(40 + missing.length);
    const resent = after
      .slice(40)
      .map((entry) => entry.phone_id)
      .sort();
    expect(resent).toEqual(missing.map((row) => row["phone_id"]).sort());

    const proof = await cli(emulator, ["verify", "--journal", journal, "--output", "ndjson"]);
    expect(proof.code, proof.stderr).toBe(0);
    expect(countBy(rowsOf(proof.stdout), "verification")).toEqual({ verified: 40 });
  });

  it("export --wait --verify proves each archive at the end and records it in the journal", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5, inventory: FLEET });
    const dir = await scratch();
    const journal = join(dir, "run.journal");
    const proved = await exportAll(emulator, journal, ["--wait", "--poll-interval", "20ms", "--verify"]);
    expect(proved.code, proved.stderr).toBe(0);
    expect(proved.stderr).toContain("verify: 40 archives: 40 verified, 0 missing, 0 stale");
    const records = (await readFile(journal, "utf8"))
      .split("\n")
      .filter((line) => line.includes('"type":"verify"'));
    expect(records).toHaveLength(40);

    // An OBS that lost one archive (a lookup that hides it): exit 1, and the phone is named.
    const hidden = rowsOf(proved.stdout)[7]!["phone_id"] as string;
    const { createObsReader } = await import("@cph-export/obs");
    const hiding = (
      settings: Parameters<NonNullable<RunDependencies["createObsReader"]>>[0],
    ): ArchiveLookup => {
      const real = createObsReader({ ...settings, maxAttempts: 1 });
      return {
        async findArchives(wanted) {
          const found = await real.findArchives(wanted);
          for (const where of found.keys()) if (where.includes(hidden)) found.set(where, { exists: false });
          return found;
        },
        destroy: () => real.destroy(),
      };
    };
    const again = await cli(
      emulator,
      ["export", "--all", ...EXPORT_FLAGS, "--wait", "--verify", "--output", "ndjson"],
      {},
      { createObsReader: hiding },
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("verify: 40 archives: 39 verified, 1 missing, 0 stale");
    expect(again.stderr).toContain(`  missing ${hidden}: no object at ${BUCKET}/runs/r1/${hidden}.tar`);

    const noWait = await cli(emulator, ["export", "--all", ...EXPORT_FLAGS, "--verify"]);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toContain("--verify needs --wait");
    expect(await ledger(emulator)).toHaveLength(80);
  });

  it("fails before reading anything without an access key, and with a wrong secret says so", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5, inventory: FLEET });
    const dir = await scratch();
    const journal = join(dir, "run.journal");
    expect((await exportAll(emulator, journal, ["--wait", "--poll-interval", "20ms"])).code).toBe(0);
    const noKey = await cli(emulator, ["verify", "--journal", journal], {
      HUAWEICLOUD_SDK_AK: "",
      HUAWEICLOUD_SDK_SK: "",
      CPH_AUTH_TOKEN: "a-token",
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/reading OBS needs an access key/);
    const badReport = await cli(emulator, ["verify", "--journal", journal, "--report", join(dir, "r.txt")]);
    expect(badReport.code).toBe(2);
    expect(badReport.stderr).toContain("--report must name a .json or .csv file");
    const wrong = await cli(emulator, ["verify", "--journal", journal], {
      HUAWEICLOUD_SDK_SK: "not-the-secret",
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(
      "403 SignatureDoesNotMatch (the secret key does not match the access key)",
    );
    expect(wrong.stderr).not.toContain("not-the-secret");
    const nothing = await cli(emulator, ["verify"]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("verify needs --journal FILE");
  });
});
