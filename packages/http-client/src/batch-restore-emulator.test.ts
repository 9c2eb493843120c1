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
