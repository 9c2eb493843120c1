import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { matchExportPaths } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeManifestHeader, readManifest, tarBlockKind } from "./archive-manifest.js";
import { writePhoneArchive } from "./archive.js";
import { listPhoneFiles } from "./phones.js";
import { readTarMembers } from "./test-support/tar.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-emulator-manifest-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const PHONE = "5f0e1b2c3d4a59687766554433221100";

describe("archive manifest", () => {
  test.prop([
    fc.record({
      phoneId: fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
      androidVersion: fc.integer({ min: 1, max: 99 }),
      include: fc.array(fc.stringMatching(/^\/data\/[A-Za-z0-9._\-+#~=/]{0,300}\*?$/), {
        minLength: 1,
        maxLength: 5,
      }),
      exclude: fc.array(fc.stringMatching(/^\/cache\/[A-Za-z0-9._-]{0,40}$/), { maxLength: 3 }),
    }),
  ])("reads back what it wrote, in whole 512-byte blocks with a valid header", (manifest) => {
    const blocks = encodeManifestHeader(manifest, new Date(0));
    expect(blocks.length % 512).toBe(0);
    expect(tarBlockKind(blocks.subarray(0, 512))).toBe("header");
    expect(readManifest(blocks)).toEqual(manifest);
  });

  it("adds no member: the archive's members are still exactly the exported files", async () => {
    const include = ["/data/data/com.example.app", "/cache"];
    const manifest = { phoneId: PHONE, androidVersion: 13, include, exclude: [] };
    const result = await writePhoneArchive({
      dataDir: dir,
      phoneId: PHONE,
      include,
      bucket: "b",
      objectPath: "with-manifest.tar",
      manifest,
    });
    const members = await readTarMembers(result.path);
    expect(members.map((member) => `/${member.name}`)).toEqual(
      matchExportPaths(listPhoneFiles(PHONE), include, []),
    );
    expect(readManifest(await readFile(result.path))).toEqual(manifest);
  });

  it("finds no manifest in a tar without one, and tells a header from noise", () => {
    expect(readManifest(Buffer.alloc(1024))).toBeUndefined();
    expect(tarBlockKind(Buffer.alloc(512))).toBe("zero");
    expect(tarBlockKind(Buffer.alloc(512, 0x41))).toBe("invalid");
    expect(tarBlockKind(Buffer.from("short"))).toBe("invalid");
  });
});
