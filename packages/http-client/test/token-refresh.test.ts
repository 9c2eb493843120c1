// IAM password credentials against the emulator: the token is refreshed ahead of its expires_at,
// and once after a 401. The emulator runs in-process so that its clock can be moved, which makes
// "expired" deterministic without waiting.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type RunningEmulator, startEmulator } from "@cph-export/emulator";
import { createCphClient } from "@cph-export/http-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CphClient } from "../src/types.js";

const TTL_SECONDS = 3600;
let dataDir: string;
let emulator: RunningEmulator;
/** Added to the emulator's clock (token issue and expiry, signature window). */
let offsetMs = 0;
/** `METHOD path status` of every request the emulator answered. */
let answered: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "cph-http-client-refresh-"));
  emulator = await startEmulator({
    dataDir,
    config: { tokenTtlSeconds: TTL_SECONDS },
    clock: () => new Date(Date.now() + offsetMs),
    log: (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as { method: string; path: string; status: number };
      answered.push(`${entry.method} ${entry.path} ${entry.status}`);
    },
  });
});

afterAll(async () => {
  await emulator?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  offsetMs = 0;
  answered = [];
});

function passwordClient(): CphClient {
  return createCphClient({
    endpoint: emulator.url,
    projectId: DEMO_CREDENTIALS.projectId,
    credentials: {
      type: "password",
      domainName: DEMO_CREDENTIALS.domainName,
      userName: DEMO_CREDENTIALS.userName,
      password: DEMO_CREDENTIALS.password,
      iamEndpoint: emulator.url,
    },
  });
}

const listJobs = (client: CphClient) => client.listJobs({ requestIds: ["no-such-request"] });
const LIST = `GET /v1/${DEMO_CREDENTIALS.projectId}/cloud-phone/jobs`;

describe("token refresh against the emulator", () => {
  it("gets a new token ahead of expires_at, before the emulator would refuse the old one", async () => {
    // Tokens are issued already past their expires_at for the client, yet valid for an hour
    // longer on the emulator's clock: only the client's own reading of expires_at can refresh.
    offsetMs = -TTL_SECONDS * 1000 - 1000;
    const client = passwordClient();
    try {
      await listJobs(client);
      await listJobs(client);
    } finally {
      await client.close();
    }
    expect(answered).toEqual([
      "POST /v3/auth/tokens 201",
      `${LIST} 200`,
      "POST /v3/auth/tokens 201",
      `${LIST} 200`,
    ]);
  });

  it("refreshes once after the emulator refuses an expired token, and the call succeeds", async () => {
    const client = passwordClient();
    try {
      await listJobs(client);
      // Two hours later on the emulator's clock: the cached token has expired there.
      offsetMs = 2 * 3600 * 1000;
      await expect(listJobs(client)).resolves.toMatchObject({ jobs: [] });
    } finally {
      await client.close();
    }
    expect(answered).toEqual([
      "POST /v3/auth/tokens 201",
      `${LIST} 200`,
      `${LIST} 401`,
      "POST /v3/auth/tokens 201",
      `${LIST} 200`,
    ]);
  });
});
