// batchRestore against the real emulator over HTTP: export, change the phone, restore, compare.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { restoreInfoFromStorageInfo, type StorageInfo } from "@cph-export/core";
import {
  DEMO_CREDENTIALS,
  RESTORE_ERROR_CODES,
  type RunningEmulator,
  startEmulator,
} from "@cph-export/emulator";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCphClient } from "./client.js";
import type { CphClient } from "./types.js";

const PHONE = "0000000000000000000000000000a013";
const OLD_PHONE = "0000000000000000000000000000a011";
const NOTES = "/data/local/tmp/notes.txt";

let dir: string;
let emulator: RunningEmulator;
let dispatcher: Agent;
let client: CphClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-client-restore-"));
  emulator = await startEmulator({
    dataDir: dir,
    config: { jobDurationMs: 5, phones: { androidVersions: { [PHONE]: 13, [OLD_PHONE]: 11 } } },
  });
  dispatcher = new Agent();
  client = createCphClient({
    endpoint: emulator.url,
    projectId: DEMO_CREDENTIALS.projectId,
    credentials: {
      type: "aksk",
      accessKey: DEMO_CREDENTIALS.accessKey,
      secretKey: DEMO_CREDENTIALS.secretKey,
    },
    dispatcher,
  });
});

afterAll(async () => {
  await client.close();
  await dispatcher.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

const fileUrl = (phoneId: string, path: string) =>
  `${emulator.url}/__emulator/phones/${phoneId}/file?path=${encodeURIComponent(path)}`;

async function putFile(phoneId: string, path: string, content: string): Promise<void> {
  const response = await request(fileUrl(phoneId, path), { method: "PUT", body: content, dispatcher });
  await response.body.text();
  expect(response.statusCode).toBe(200);
}

async function readFile(phoneId: string, path: string): Promise<string | undefined> {
  const response = await request(fileUrl(phoneId, path), { dispatcher });
  const text = await response.body.text();
  return response.statusCode === 200 ? text : undefined;
}

async function outcomes(result: { phones: Array<{ jobId?: string | undefined; phoneId: string }> }) {
  const jobs = result.phones.map((phone) => ({ jobId: phone.jobId!, phoneId: phone.phoneId }));
  return client.waitForJobs(jobs, { intervalMs: 10, maxIntervalMs: 20, timeoutMs: 10_000 });
}

describe("batchRestore against the emulator", () => {
  it("restores what an export wrote, and reports the emulator's job refusals per phone", async () => {
    await putFile(PHONE, NOTES, "before the export\n");
    const info: StorageInfo = {
      phone_id: PHONE,
      include_files: ["/data/local/tmp"],
      bucket_name: "backups",
      object_path: `restore/${PHONE}.tar`,
    };
    const exported = await client.batchExport([info]);
    expect((await outcomes(exported)).map((outcome) => outcome.state)).toEqual(["succeeded"]);

    await putFile(PHONE, NOTES, "changed since\n");
    const restored = await client.batchRestore([restoreInfoFromStorageInfo(info)]);
    expect(restored.phones).toEqual([expect.objectContaining({ phoneId: PHONE, state: "accepted" })]);
    expect((await outcomes(restored)).map((outcome) => outcome.state)).toEqual(["succeeded"]);
    expect(await readFile(PHONE, NOTES)).toBe("before the export\n");

    const refused = await client.batchRestore([
      restoreInfoFromStorageInfo(info, OLD_PHONE),
      { phone_id: PHONE, bucket_name: "backups", object_path: "restore/none.tar" },
    ]);
    expect(refused.phones.map((phone) => phone.state)).toEqual(["accepted", "accepted"]);
    const ends = await outcomes(refused);
    expect(ends.map((outcome) => [outcome.phoneId, outcome.state, outcome.errorCode])).toEqual([
      [OLD_PHONE, "failed", RESTORE_ERROR_CODES.android_version],
      [PHONE, "failed", RESTORE_ERROR_CODES.object_missing],
    ]);
    expect(await readFile(OLD_PHONE, NOTES)).toBeUndefined();
  });
});

describe("restoreMany against the emulator", () => {
  const phones = Array.from(
    { length: 30 },
    (_, n) => `00000000000000000000000000b1${String(n).padStart(4, "0")}`,
  );
  const KEEP = "/data/local/tmp/keep.bin";
  const GONE = "/data/local/tmp/gone.txt";
  const original = (phone: string) => `${phone}: ${"x".repeat(300)}\u00e9\n`;

  async function files(phone: string): Promise<Record<string, string>> {
    const response = await request(`${emulator.url}/__emulator/phones/${phone}/files`, { dispatcher });
    const body = (await response.body.json()) as { files: string[] };
    const out: Record<string, string> = {};
    for (const path of body.files) {
      if (path.startsWith("/data/local/tmp/")) out[path] = (await readFile(phone, path)) ?? "";
    }
    return out;
  }

  it("puts 30 phones' files back byte for byte after they were changed and deleted, with a journal", async () => {
    for (const phone of phones) {
      await putFile(phone, KEEP, original(phone));
      await putFile(phone, GONE, `will be deleted from ${phone}\n`);
    }
    const before = new Map<string, Record<string, string>>();
    for (const phone of phones) before.set(phone, await files(phone));
    const infos: StorageInfo[] = phones.map((phone) => ({
      phone_id: phone,
      include_files: ["/data/local/tmp"],
      bucket_name: "backups",
      object_path: `many/${phone}.tar`,
    }));
    const wait = { intervalMs: 10, maxIntervalMs: 20, timeoutMs: 20_000 };
    const exported: string[] = [];
    for await (const result of client.exportMany(infos, { batchSize: 7, wait })) exported.push(result.state);
    expect(exported).toEqual(phones.map(() => "succeeded"));
    expect(Object.keys(before.get(phones[0]!)!).length).toBeGreaterThanOrEqual(2);

    for (const phone of phones) {
      await putFile(phone, KEEP, "changed after the export\n");
      const response = await request(fileUrl(phone, GONE), { method: "DELETE", dispatcher });
      await response.body.text();
      expect(response.statusCode).toBe(200);
    }
    const journal = join(dir, "restore.journal");
    const results = [];
    for await (const result of client.restoreMany(
      infos.map((info) => restoreInfoFromStorageInfo(info)),
      { batchSize: 7, concurrency: 2, wait, journal },
    ))
      results.push(result);
    results.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    expect(results.map((result) => [result.phoneId, result.state])).toEqual(
      phones.map((phone) => [phone, "succeeded"]),
    );
    for (const phone of phones) expect(await files(phone)).toEqual(before.get(phone));

    // A rerun with the journal restores nothing again.
    const rerun = [];
    for await (const result of client.restoreMany(
      infos.map((info) => restoreInfoFromStorageInfo(info)),
      { journal },
    ))
      rerun.push(result);
    expect(rerun.every((result) => result.fromJournal && result.state === "succeeded")).toBe(true);
    const ledger = await request(`${emulator.url}/__emulator/restore-ledger`, { dispatcher });
    const entries = ((await ledger.body.json()) as { entries: Array<{ phone_id: string }> }).entries.filter(
      (entry) => phones.includes(entry.phone_id),
    );
    expect(entries).toHaveLength(30);
  });

  it("refuses bad restore infos per phone, with the field path, and sends the others", async () => {
    const results = [];
    for await (const result of client.restoreMany([
      { phone_id: phones[0]!, bucket_name: "backups", object_path: `many/${phones[0]}.tar` },
      { phone_id: phones[1]!, bucket_name: "192.168.1.1", object_path: "x.tar" },
      { phone_id: phones[0]!, bucket_name: "backups", object_path: "again.tar" },
    ]))
      results.push(result);
    results.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    expect(results.map((result) => [result.state, result.errorCode])).toEqual([
      ["accepted", undefined],
      ["rejected", "bucket_ip_address"],
      ["rejected", "duplicate_phone"],
    ]);
    expect(results[1]!.errorMessage).toMatch(/^bucket_name: /);
    expect(results[2]!.errorMessage).toContain("it is restored once");
  });
});
