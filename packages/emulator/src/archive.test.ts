import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { matchExportPaths } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { archivePath, writePhoneArchive } from "./archive.js";
import { listPhoneFiles, readPhoneFile } from "./phones.js";
import {
  createHarness,
  demoToken,
  eventually,
  exportWithToken,
  JOBS_PATH,
  BASE,
  storageInfo,
} from "./test-support/fixtures.js";
import { readTarMembers } from "./test-support/tar.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-emulator-archive-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
const harness = createHarness();
afterEach(() => harness.cleanup());

const PHONE = "5f0e1b2c3d4a59687766554433221100";

describe("archivePath", () => {
  it("puts an archive at DATA_DIR/bucket/object_path", () => {
    expect(archivePath("/srv/data", "bucket", "a/b.tar")).toBe(resolve("/srv/data/bucket/a/b.tar"));
  });

  it("refuses anything that would resolve outside the bucket directory", () => {
    for (const [bucket, objectPath] of [
      ["bucket", "../other/x.tar"],
      ["bucket", "a/../../x.tar"],
      ["..", "x.tar"],
      ["bucket", "/etc/passwd"],
      ["bucket", ""],
      ["bucket", "."],
    ] as const) {
      expect(archivePath("/srv/data", bucket, objectPath), `${bucket}/${objectPath}`).toBeUndefined();
    }
  });
});

describe("writePhoneArchive", () => {
  it("writes a real tar whose members are exactly matchExportPaths of the phone's files, with their contents", async () => {
    const include = ["/data/data/com.example.app", "/data/media/0/DCIM/Camera/IMG_2024*", "/cache"];
    const exclude = ["/data/data/com.example.app/cache", "/cache/backup"];
    const result = await writePhoneArchive({
      dataDir: dir,
      phoneId: PHONE,
      include,
      exclude,
      bucket: "b",
      objectPath: "x/phone.tar",
    });
    const members = await readTarMembers(result.path);
    const expected = matchExportPaths(listPhoneFiles(PHONE), include, exclude);
    expect(members.map((member) => `/${member.name}`)).toEqual(expected);
    expect(result.members).toBe(expected.length);
    expect(members.some((member) => member.name.length > 256)).toBe(true);
    for (const member of members)
      expect(member.content.equals(readPhoneFile(PHONE, `/${member.name}`).content)).toBe(true);
    expect(await readdir(join(dir, "b", "x"))).toEqual(["phone.tar"]);
  });

  test.prop(
    [
      fc.stringMatching(/^[0-9a-f]{32}$/),
      fc.subarray(
        ["/data/app", "/data/data", "/data/media", "/data/local/tmp", "/cache", "/data/system/packages.xml"],
        { minLength: 1 },
      ),
    ],
    { numRuns: 8 },
  )("exclude always wins, and the members are the selection in order", async (phoneId, include) => {
    const files = listPhoneFiles(phoneId);
    const exclude = [files[Math.floor(files.length / 2)]!.split("/").slice(0, 4).join("/")];
    const result = await writePhoneArchive({
      dataDir: dir,
      phoneId,
      include,
      exclude,
      bucket: "prop",
      objectPath: `${phoneId}.tar`,
    });
    const names = (await readTarMembers(result.path)).map((member) => `/${member.name}`);
    expect(names).toEqual(matchExportPaths(files, include, exclude));
    for (const name of names) expect(name === exclude[0] || name.startsWith(`${exclude[0]}/`)).toBe(false);
  });

  it("fails, leaving nothing behind, when the target cannot be written", async () => {
    await mkdir(join(dir, "blocked", "taken.tar"), { recursive: true });
    await expect(
      writePhoneArchive({
        dataDir: dir,
        phoneId: PHONE,
        include: ["/cache"],
        bucket: "blocked",
        objectPath: "taken.tar",
      }),
    ).rejects.toThrow();
    expect(await readdir(join(dir, "blocked"))).toEqual(["taken.tar"]);
    await expect(
      writePhoneArchive({
        dataDir: dir,
        phoneId: PHONE,
        include: ["/cache"],
        bucket: "..",
        objectPath: "x.tar",
      }),
    ).rejects.toThrow(/outside the data directory/);
  });

  it("a job whose archive cannot be written fails with CPS.0003", async () => {
    const dataDir = await harness.tempDir();
    await mkdir(join(dataDir, "backups", "phones", "p.tar"), { recursive: true });
    const app = await harness.app({ dataDir, config: { jobDurationMs: 0 } });
    const token = await demoToken(app);
    const response = await exportWithToken(app, token, [storageInfo("p")]);
    const { jobs } = (await response.json()) as { jobs: Array<{ job_id: string }> };
    const job = await eventually(async () => {
      const body = (await (
        await app.request(`${BASE}${JOBS_PATH}/${jobs[0]!.job_id}`, { headers: { "X-Auth-Token": token } })
      ).json()) as {
        status: number;
      };
      return body.status === 1 ? undefined : body;
    });
    expect(job).toMatchObject({
      status: -1,
      error_code: "CPS.0003",
      error_msg: expect.stringContaining("backups/phones/p.tar"),
    });
  });
});
