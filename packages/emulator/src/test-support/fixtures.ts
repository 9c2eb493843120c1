// Helpers for the in-process tests: temp data dirs, an app per test, token and export requests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildIamTokenRequest, type StorageInfo } from "@cph-export/core";
import { createEmulatorApp, type EmulatorApp, type EmulatorAppOptions } from "../app.js";
import { DEMO_CREDENTIALS } from "../config.js";

export const PROJECT = DEMO_CREDENTIALS.projectId;
export const BASE = "http://cph.emulator.test";
export const EXPORT_PATH = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;
export const JOBS_PATH = `/v1/${PROJECT}/cloud-phone/jobs`;

/** Tracks what a test file creates so one `afterEach(cleanup)` removes it. */
export function createHarness() {
  const apps: EmulatorApp[] = [];
  const dirs: string[] = [];
  return {
    async tempDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), "cph-emulator-test-"));
      dirs.push(dir);
      return dir;
    },
    async app(options: Partial<EmulatorAppOptions> = {}): Promise<EmulatorApp> {
      const dataDir = options.dataDir ?? (await this.tempDir());
      const app = createEmulatorApp({ ...options, dataDir });
      apps.push(app);
      return app;
    },
    async cleanup(): Promise<void> {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

export function storageInfo(phoneId: string, overrides: Partial<StorageInfo> = {}): StorageInfo {
  return {
    phone_id: phoneId,
    include_files: ["/data/local/tmp"],
    bucket_name: "backups",
    object_path: `phones/${phoneId}.tar`,
    ...overrides,
  };
}

export async function demoToken(
  app: EmulatorApp,
  project: { id: string } | { name: string } = { id: PROJECT },
): Promise<string> {
  const request = buildIamTokenRequest({
    iamEndpoint: BASE,
    domainName: DEMO_CREDENTIALS.domainName,
    userName: DEMO_CREDENTIALS.userName,
    password: DEMO_CREDENTIALS.password,
    project,
  });
  const response = await app.request(request.url, {
    method: "POST",
    headers: request.headers,
    body: request.body!,
  });
  const token = response.headers.get("x-subject-token");
  if (response.status !== 201 || !token) throw new Error(`token request answered ${response.status}`);
  return token;
}

export async function exportWithToken(
  app: EmulatorApp,
  token: string,
  infos: readonly StorageInfo[] | unknown,
): Promise<Response> {
  return app.request(`${BASE}${EXPORT_PATH}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Auth-Token": token },
    body: JSON.stringify(Array.isArray(infos) ? { storage_infos: infos } : infos),
  });
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` (no fixed sleeps in tests). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
