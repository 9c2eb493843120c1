import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type RunningEmulator, startEmulator } from "@cph-export/emulator";
import { fc, test } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createObsReader, LIST_PAGE, ObsError, type ObsReader } from "./index.js";

let dir: string;
let emulator: RunningEmulator;
const BIG = 2345;
/** Keys present in the bucket "small": phone i's archive under runs/r1/. */
const SMALL = 60;

const keyOf = (n: number) => `runs/r1/phone-${String(n).padStart(4, "0")}.tar`;

function reader(
  counts?: { head: number; list: number },
  secretKey: string = DEMO_CREDENTIALS.secretKey,
): ObsReader {
  return createObsReader({
    region: "cn-north-4",
    endpoint: emulator.url,
    forcePathStyle: true,
    accessKey: DEMO_CREDENTIALS.accessKey,
    secretKey,
    maxAttempts: 1,
    ...(counts ? { onRequest: (operation: "head" | "list") => counts[operation]++ } : {}),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cph-obs-"));
  mkdirSync(join(dir, "small", "runs", "r1"), { recursive: true });
  for (let n = 0; n < SMALL; n++) writeFileSync(join(dir, "small", keyOf(n)), `archive of phone ${n}`);
  // Noise beside the archives: other runs' objects, which a listing of runs/r1/ must not pick up.
  mkdirSync(join(dir, "small", "runs", "r2"), { recursive: true });
  for (let n = 0; n < 5; n++) writeFileSync(join(dir, "small", "runs", "r2", `x${n}.tar`), "other run");
  mkdirSync(join(dir, "big", "a"), { recursive: true });
  for (let n = 0; n < BIG; n++)
    writeFileSync(join(dir, "big", "a", `${String(n).padStart(5, "0")}.tar`), "x");
  mkdirSync(join(dir, "empty"));
  emulator = await startEmulator({ dataDir: dir });
});

afterAll(async () => {
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("headArchive", () => {
  it("gives size, ETag and time of an object, and exists: false for a missing key", async () => {
    const obs = reader();
    const head = await obs.headArchive("small", keyOf(3));
    expect(head.exists).toBe(true);
    expect(head.size).toBe(Buffer.byteLength("archive of phone 3"));
    expect(head.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(head.lastModified).toBeInstanceOf(Date);
    expect(await obs.headArchive("small", "runs/r1/nope.tar")).toEqual({ exists: false });
    obs.destroy();
  });

  it("fails with ERR_CPH_AUTH and the OBS code when the secret key is wrong", async () => {
    const obs = reader(undefined, "not-the-secret");
    const error = await obs
      .listArchives("small", "runs/")
      [Symbol.asyncIterator]()
      .next()
      .catch((e) => e);
    expect(error).toBeInstanceOf(ObsError);
    expect(error).toMatchObject({ code: "ERR_CPH_AUTH", obsCode: "SignatureDoesNotMatch", status: 403 });
    expect((error as Error).message).toContain("the secret key does not match");
    expect((error as Error).message).not.toContain("not-the-secret");
    obs.destroy();
  });
});

describe("listArchives", () => {
  it("pages through more than 1,000 keys in key order", async () => {
    const counts = { head: 0, list: 0 };
    const obs = reader(counts);
    const keys: string[] = [];
    for await (const object of obs.listArchives("big", "a/")) keys.push(object.key);
    expect(keys).toHaveLength(BIG);
    expect(keys).toEqual([...keys].sort());
    expect(counts.list).toBe(Math.ceil(BIG / LIST_PAGE));
    const after: string[] = [];
    for await (const object of obs.listArchives("big", "a/", { startAfter: "a/02339.tar" }))
      after.push(object.key);
    expect(after).toEqual(["a/02340.tar", "a/02341.tar", "a/02342.tar", "a/02343.tar", "a/02344.tar"]);
    obs.destroy();
  });
});

describe("findArchives", () => {
  it("finds thousands of archives under one prefix by listing it: ceil(n/1000) requests, no HEAD", async () => {
    const counts = { head: 0, list: 0 };
    const obs = reader(counts);
    const wanted = Array.from({ length: BIG }, (_, n) => ({
      bucket: "big",
      key: `a/${String(n).padStart(5, "0")}.tar`,
    }));
    wanted.push({ bucket: "big", key: "a/02344.tar.missing" });
    const found = await obs.findArchives(wanted);
    expect(found.size).toBe(BIG + 1);
    expect([...found.values()].filter((head) => head.exists)).toHaveLength(BIG);
    expect(found.get("big/a/02344.tar.missing")).toEqual({ exists: false });
    expect(counts).toEqual({ head: 0, list: Math.ceil(BIG / LIST_PAGE) });
    obs.destroy();
  });

  it("reads a missing bucket as all of its archives missing", async () => {
    const obs = reader();
    const found = await obs.findArchives([
      { bucket: "no-such-bucket", key: "a.tar" },
      { bucket: "no-such-bucket", key: "b.tar" },
      { bucket: "empty", key: "c.tar" },
    ]);
    expect([...found.values()]).toEqual([{ exists: false }, { exists: false }, { exists: false }]);
    obs.destroy();
  });

  test.prop(
    [
      fc.uniqueArray(fc.integer({ min: 0, max: SMALL + 20 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.constantFrom("runs/r2/x1.tar", "runs/r2/none.tar", "elsewhere/y.tar"), { maxLength: 3 }),
    ],
    { numRuns: 25 },
  )(
    "reports exactly the keys that are there, with their sizes, in at most 2 requests a key",
    async (phones, extra) => {
      const counts = { head: 0, list: 0 };
      const obs = reader(counts);
      const wanted = [
        ...phones.map((n) => ({ bucket: "small", key: keyOf(n) })),
        ...extra.map((key) => ({ bucket: "small", key })),
      ];
      const found = await obs.findArchives(wanted);
      const distinct = new Set(wanted.map(({ key }) => key));
      expect(found.size).toBe(distinct.size);
      for (const key of distinct) {
        const head = found.get(`small/${key}`);
        const match = /phone-(\d+)\.tar$/.exec(key);
        const present = match ? Number(match[1]) < SMALL : key === "runs/r2/x1.tar";
        expect(head?.exists, key).toBe(present);
        if (present && match)
          expect(head?.size).toBe(Buffer.byteLength(`archive of phone ${Number(match[1])}`));
      }
      expect(counts.head + counts.list).toBeLessThanOrEqual(2 * distinct.size);
      obs.destroy();
    },
  );
});
