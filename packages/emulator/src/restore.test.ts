import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RestoreInfo, StorageInfo } from "@cph-export/core";
import tar from "tar-stream";
import { afterEach, describe, expect, it } from "vitest";
import { androidVersionOfImage } from "./android.js";
import type { EmulatorApp } from "./app.js";
import { RESTORE_ERROR_CODES } from "./errors.js";
import {
  BASE,
  createHarness,
  demoToken,
  eventually,
  exportWithToken,
  JOBS_PATH,
  PROJECT,
} from "./test-support/fixtures.js";

const harness = createHarness();
afterEach(() => harness.cleanup());

const RESTORE_PATH = `/v1/${PROJECT}/cloud-phone/phones/batch-restore`;
const PHONE = "5f0e1b2c3d4a59687766554433221100";
const NEW_PHONE = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa14";
const OLD_PHONE = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb11";
const CONFIG = {
  jobDurationMs: 5,
  phones: { androidVersions: { [PHONE]: 13, [NEW_PHONE]: 14, [OLD_PHONE]: 11 }, missing: ["gone"] },
};
const SELECTION = {
  include_files: ["/data/data/com.example.app", "/data/local/tmp"],
  exclude_files: ["/data/data/com.example.app/cache"],
};

interface Job {
  job_id: string;
  status: number;
  error_code: string | null;
  error_msg: string | null;
  execute_msg: string | null;
}

async function restore(app: EmulatorApp, token: string, body: unknown): Promise<Response> {
  return app.request(`${BASE}${RESTORE_PATH}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Auth-Token": token },
    body: JSON.stringify(Array.isArray(body) ? { restore_infos: body } : body),
  });
}

async function finished(app: EmulatorApp, token: string, response: Response): Promise<Job> {
  expect(response.status).toBe(200);
  const body = (await response.json()) as { jobs: Array<{ job_id?: string; error_code?: string }> };
  const jobId = body.jobs[0]?.job_id;
  if (!jobId) throw new Error(`no job: ${JSON.stringify(body)}`);
  return eventually(async () => {
    const job = (await (
      await app.request(`${BASE}${JOBS_PATH}/${jobId}`, { headers: { "X-Auth-Token": token } })
    ).json()) as Job;
    return job.status === 1 ? undefined : job;
  });
}

async function exportPhone(app: EmulatorApp, token: string, phoneId: string, objectPath: string) {
  const info: StorageInfo = {
    phone_id: phoneId,
    ...SELECTION,
    bucket_name: "backups",
    object_path: objectPath,
  };
  const job = await finished(app, token, await exportWithToken(app, token, [info]));
  expect(job.status).toBe(2);
  return info;
}

async function files(app: EmulatorApp, phoneId: string): Promise<string[]> {
  return ((await (await app.request(`/__emulator/phones/${phoneId}/files`)).json()) as { files: string[] })
    .files;
}

const fileUrl = (phoneId: string, path: string) =>
  `/__emulator/phones/${phoneId}/file?path=${encodeURIComponent(path)}`;

async function readFile(app: EmulatorApp, phoneId: string, path: string): Promise<Buffer | undefined> {
  const response = await app.request(fileUrl(phoneId, path));
  return response.status === 200 ? Buffer.from(await response.arrayBuffer()) : undefined;
}

async function putFile(app: EmulatorApp, phoneId: string, path: string, content: string | Buffer) {
  const response = await app.request(fileUrl(phoneId, path), { method: "PUT", body: content });
  expect(response.status).toBe(200);
}

/** Every file of the phone under the export's selection, with its bytes. */
async function snapshot(app: EmulatorApp, phoneId: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const path of await files(app, phoneId)) {
    const selected =
      SELECTION.include_files.some((root) => path.startsWith(`${root}/`)) &&
      !SELECTION.exclude_files.some((root) => path.startsWith(`${root}/`));
    if (selected) out.set(path, (await readFile(app, phoneId, path))!);
  }
  return out;
}

describe("batch-restore round trip", () => {
  it("brings the exported files back byte for byte: changed ones restored, deleted ones back, new ones gone, the rest untouched", async () => {
    const app = await harness.app({ config: CONFIG });
    const token = await demoToken(app);
    const notes = "/data/data/com.example.app/files/notes.txt";
    await putFile(app, PHONE, notes, "written before the export\n");
    const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    await putFile(app, PHONE, "/data/local/tmp/blob.bin", binary);
    const info = await exportPhone(app, token, PHONE, "round/trip.tar");
    const before = await snapshot(app, PHONE);
    expect(before.get(notes)?.toString()).toBe("written before the export\n");
    expect(before.size).toBeGreaterThan(5);

    const deleted = [...before.keys()].find((path) => path !== notes && path.includes("/shared_prefs/"))!;
    expect((await app.request(fileUrl(PHONE, deleted), { method: "DELETE" })).status).toBe(200);
    await putFile(app, PHONE, notes, "changed after the export\n");
    await putFile(app, PHONE, "/data/local/tmp/blob.bin", Buffer.from("other"));
    await putFile(app, PHONE, "/data/data/com.example.app/files/new-since.bin", "new");
    const outside = "/data/system/packages.xml";
    await putFile(app, PHONE, outside, "outside the archive's roots");
    const excluded = "/data/data/com.example.app/cache/kept.tmp";
    await putFile(app, PHONE, excluded, "excluded by the export");
    expect(await readFile(app, PHONE, deleted)).toBeUndefined();

    const job = await finished(
      app,
      token,
      await restore(app, token, [{ phone_id: PHONE, bucket_name: "backups", object_path: info.object_path }]),
    );
    expect(job).toMatchObject({ status: 2, error_code: null });
    expect(job.execute_msg).toMatch(new RegExp(`^restored ${before.size} files`));

    const after = await snapshot(app, PHONE);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [path, content] of before) expect(after.get(path)?.equals(content), path).toBe(true);
    expect(await readFile(app, PHONE, "/data/data/com.example.app/files/new-since.bin")).toBeUndefined();
    expect((await readFile(app, PHONE, outside))?.toString()).toBe("outside the archive's roots");
    expect((await readFile(app, PHONE, excluded))?.toString()).toBe("excluded by the export");

    const ledger = (await (await app.request("/__emulator/restore-ledger")).json()) as {
      entries: Array<{ phone_id: string; outcome: string }>;
      counts: Record<string, number>;
      restored: Record<string, number>;
    };
    expect(ledger.counts).toEqual({ [PHONE]: 1 });
    expect(ledger.restored).toEqual({ [PHONE]: 1 });
    // Restores are not exports: the export ledger has the one export only.
    const exports = (await (await app.request("/__emulator/ledger")).json()) as { entries: unknown[] };
    expect(exports.entries).toHaveLength(1);
  });

  it("restores onto another phone of the same or a newer Android version, and refuses an older one", async () => {
    const app = await harness.app({ config: CONFIG });
    const token = await demoToken(app);
    const info = await exportPhone(app, token, NEW_PHONE, "android/14.tar");
    const oldBefore = await snapshot(app, OLD_PHONE);
    const refused = await finished(
      app,
      token,
      await restore(app, token, [
        { phone_id: OLD_PHONE, bucket_name: "backups", object_path: info.object_path },
      ]),
    );
    expect(refused).toMatchObject({ status: -1, error_code: RESTORE_ERROR_CODES.android_version });
    expect(refused.error_msg).toMatch(/Android 14.*Android 11/);
    const oldAfter = await snapshot(app, OLD_PHONE);
    expect([...oldAfter.keys()]).toEqual([...oldBefore.keys()]);

    const older = await exportPhone(app, token, OLD_PHONE, "android/11.tar");
    const accepted = await finished(
      app,
      token,
      await restore(app, token, [
        { phone_id: NEW_PHONE, bucket_name: "backups", object_path: older.object_path },
      ]),
    );
    expect(accepted.status).toBe(2);
    expect(await snapshot(app, NEW_PHONE)).toEqual(oldBefore);
  });

  it("fails the job for a missing object, a file that is not a tar, a cut tar and a member outside the roots; the phone keeps its files", async () => {
    const dataDir = await harness.tempDir();
    const app = await harness.app({ dataDir, config: CONFIG });
    const token = await demoToken(app);
    const info = await exportPhone(app, token, PHONE, "whole.tar");
    const whole = await import("node:fs/promises").then((fs) =>
      fs.readFile(join(dataDir, "backups", info.object_path)),
    );
    await mkdir(join(dataDir, "backups", "bad"), { recursive: true });
    await writeFile(join(dataDir, "backups", "bad", "text.tar"), "this is not a tar archive\n");
    await writeFile(join(dataDir, "backups", "bad", "noise.tar"), Buffer.alloc(4096, 0x41));
    await writeFile(
      join(dataDir, "backups", "bad", "cut.tar"),
      whole.subarray(0, Math.floor(whole.length / 2) + 100),
    );
    await writeFile(join(dataDir, "backups", "bad", "escape.tar"), await tarOf([["etc/passwd", "root"]]));
    const before = await snapshot(app, PHONE);
    const cases: Array<[string, string]> = [
      ["missing/none.tar", RESTORE_ERROR_CODES.object_missing],
      ["bad", RESTORE_ERROR_CODES.object_missing],
      ["bad/text.tar", RESTORE_ERROR_CODES.not_a_tar],
      ["bad/noise.tar", RESTORE_ERROR_CODES.not_a_tar],
      ["bad/cut.tar", RESTORE_ERROR_CODES.not_a_tar],
      ["bad/escape.tar", RESTORE_ERROR_CODES.not_a_tar],
    ];
    for (const [objectPath, code] of cases) {
      const job = await finished(
        app,
        token,
        await restore(app, token, [{ phone_id: PHONE, bucket_name: "backups", object_path: objectPath }]),
      );
      expect([objectPath, job.status, job.error_code]).toEqual([objectPath, -1, code]);
      expect(job.error_msg).toContain(`backups/${objectPath}`);
    }
    expect(await snapshot(app, PHONE)).toEqual(before);
  });

  it("writes the members of a tar made elsewhere (no manifest) over the phone's files and removes nothing", async () => {
    const dataDir = await harness.tempDir();
    const app = await harness.app({ dataDir, config: CONFIG });
    const token = await demoToken(app);
    const before = await files(app, PHONE);
    await mkdir(join(dataDir, "backups"), { recursive: true });
    await writeFile(
      join(dataDir, "backups", "plain.tar"),
      await tarOf([["data/local/tmp/from-elsewhere.txt", "hello"]]),
    );
    const job = await finished(
      app,
      token,
      await restore(app, token, [{ phone_id: PHONE, bucket_name: "backups", object_path: "plain.tar" }]),
    );
    expect(job.status).toBe(2);
    expect(await files(app, PHONE)).toEqual([...before, "/data/local/tmp/from-elsewhere.txt"].sort());
    expect((await readFile(app, PHONE, "/data/local/tmp/from-elsewhere.txt"))?.toString()).toBe("hello");
  });
});

describe("batch-restore requests", () => {
  it("validates as batch-storage does: every issue in details, the same codes, nothing created", async () => {
    const app = await harness.app({ config: CONFIG });
    const token = await demoToken(app);
    const good: RestoreInfo = { phone_id: PHONE, bucket_name: "backups", object_path: "a.tar" };
    const response = await restore(app, token, [
      good,
      { ...good, bucket_name: "1.2.3.4" },
      { ...good, phone_id: "p 1" },
    ]);
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error_code: string;
      details: Array<{ code: string; path: string }>;
    };
    expect(body.details.map((issue) => [issue.code, issue.path])).toEqual([
      ["bucket_ip_address", "restore_infos[1].bucket_name"],
      ["phone_id_duplicate", "restore_infos[1].phone_id"],
      ["phone_id_charset", "restore_infos[2].phone_id"],
    ]);
    expect((await restore(app, token, [])).status).toBe(400);
    expect(((await (await restore(app, token, [])).json()) as { error_code: string }).error_code).toBe(
      "CPS.0009",
    );
    const ledger = (await (await app.request("/__emulator/restore-ledger")).json()) as { entries: unknown[] };
    expect(ledger.entries).toEqual([]);
  });

  it("refuses unknown phones per phone inside the 200, needs a token, and takes batch-storage's faults", async () => {
    const app = await harness.app({ config: CONFIG });
    const token = await demoToken(app);
    const response = await restore(app, token, [
      { phone_id: "gone", bucket_name: "backups", object_path: "a.tar" },
      { phone_id: PHONE, bucket_name: "backups", object_path: "a.tar" },
    ]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { request_id: string; jobs: Array<Record<string, string>> };
    expect(body.jobs[0]).toMatchObject({ phone_id: "gone", error_code: "CPS.0005" });
    expect(body.jobs[1]).toMatchObject({ phone_id: PHONE, job_id: expect.any(String) });
    expect(response.headers.get("x-request-id")).toBe(body.request_id);

    const anonymous = await app.request(`${BASE}${RESTORE_PATH}`, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);

    await app.request("/__emulator/faults", { method: "POST", body: JSON.stringify({ errorRate: 1 }) });
    const failed = await restore(app, token, [
      { phone_id: PHONE, bucket_name: "backups", object_path: "a.tar" },
    ]);
    expect(failed.status).toBe(503);
    await app.request("/__emulator/faults", { method: "POST", body: JSON.stringify({ dropRate: 1 }) });
    const dropped = await restore(app, token, [
      { phone_id: PHONE, bucket_name: "backups", object_path: "b.tar" },
    ]);
    expect(dropped.status).toBe(504);
    const ledger = (await (await app.request("/__emulator/restore-ledger")).json()) as {
      entries: Array<{ dropped?: boolean }>;
      counts: Record<string, number>;
    };
    // The dropped request still created its job: a client that resends it restores the phone twice.
    expect(ledger.counts).toEqual({ [PHONE]: 2 });
    expect(ledger.entries[1]?.dropped).toBe(true);
  });

  it("gives each phone an Android version: configured, else from its inventory image, else 12", async () => {
    const app = await harness.app({ config: CONFIG });
    const version = async (phoneId: string) =>
      (
        (await (await app.request(`/__emulator/phones/${phoneId}/files`)).json()) as {
          android_version: number;
        }
      ).android_version;
    expect(await version(NEW_PHONE)).toBe(14);
    expect(await version("not-in-the-inventory")).toBe(12);
    const phones = (await (
      await app.request(`${BASE}/v1/${PROJECT}/cloud-phone/phones?limit=1`, {
        headers: { "X-Auth-Token": await demoToken(app) },
      })
    ).json()) as { phones: Array<{ phone_id: string; image_id: string }> };
    const listed = phones.phones[0]!;
    expect(await version(listed.phone_id)).toBe(androidVersionOfImage(listed.image_id));
    expect([11, 12, 13, 14]).toContain(androidVersionOfImage(listed.image_id));
  });
});

async function tarOf(entries: Array<[string, string]>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of entries) pack.entry({ name }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
