// The built `cph-emulator` bin, spawned on a loopback port and driven over HTTP.
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  buildBatchExportRequest,
  buildIamTokenRequest,
  buildListJobsRequest,
  type HttpRequest,
  matchExportPaths,
  signRequest,
  type StorageInfo,
} from "@cph-export/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CREDENTIALS, listPhoneFiles, type SpawnedEmulator, spawnEmulator } from "../src/index.js";
import { eventually } from "../src/test-support/fixtures.js";
import { readTarMembers } from "../src/test-support/tar.js";

const PROJECT = DEMO_CREDENTIALS.projectId;
const TEMP_KEY = {
  accessKey: "TEMPORARYAK0001",
  secretKey: "temporary-secret-0001",
  securityToken: "temporary-security-token-0001",
};
const MISSING = "00000000000000000000000000000404";
const UNAVAILABLE = "00000000000000000000000000000503";
const FAILING = "0000000000000000000000000000dead";

let emulator: SpawnedEmulator;
/** Every secret the run uses or receives; none may appear in the process output. */
const secrets = new Set<string>([
  DEMO_CREDENTIALS.secretKey,
  DEMO_CREDENTIALS.password,
  TEMP_KEY.secretKey,
  TEMP_KEY.securityToken,
]);

beforeAll(async () => {
  emulator = await spawnEmulator({
    config: {
      jobDurationMs: 100,
      accessKeys: [
        { accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
        TEMP_KEY,
      ],
      phones: { missing: [MISSING], unavailable: [UNAVAILABLE], failing: { [FAILING]: "CPS.0010" } },
    },
  });
});
afterAll(async () => {
  await emulator?.stop();
});

async function send(request: HttpRequest): Promise<Response> {
  const init: RequestInit = { method: request.method, headers: request.headers };
  if (request.body) init.body = request.body;
  return fetch(request.url, init);
}

async function sign(request: HttpRequest, date?: Date): Promise<HttpRequest> {
  const signed = await signRequest(request, {
    accessKey: DEMO_CREDENTIALS.accessKey,
    secretKey: DEMO_CREDENTIALS.secretKey,
    projectId: PROJECT,
    ...(date ? { date } : {}),
  });
  secrets.add(/Signature=([0-9a-f]{64})/.exec(signed.headers["Authorization"]!)![1]!);
  return signed;
}

const exportRequest = (storageInfos: StorageInfo[]) =>
  buildBatchExportRequest({ endpoint: emulator.url, projectId: PROJECT, storageInfos });

async function token(): Promise<string> {
  const response = await send(
    buildIamTokenRequest({
      iamEndpoint: emulator.url,
      domainName: DEMO_CREDENTIALS.domainName,
      userName: DEMO_CREDENTIALS.userName,
      password: DEMO_CREDENTIALS.password,
      project: { id: PROJECT },
    }),
  );
  expect(response.status).toBe(201);
  const value = response.headers.get("x-subject-token")!;
  secrets.add(value);
  return value;
}

async function control(path: string, body?: object): Promise<Record<string, unknown>> {
  const init: RequestInit = body === undefined ? {} : { method: "POST", body: JSON.stringify(body) };
  const response = await fetch(`${emulator.url}/__emulator/${path}`, init);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function listJobs(requestIds: string[]): Promise<Array<Record<string, unknown>>> {
  const response = await send(
    await sign(buildListJobsRequest({ endpoint: emulator.url, projectId: PROJECT, requestIds })),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { jobs: Array<Record<string, unknown>> }).jobs;
}

const info = (phoneId: string, overrides: Partial<StorageInfo> = {}): StorageInfo => ({
  phone_id: phoneId,
  include_files: ["/data/local/tmp"],
  bucket_name: "backups",
  object_path: `run/${phoneId}.tar`,
  ...overrides,
});

describe("cph-emulator process", () => {
  it("issues IAM tokens (201, X-Subject-Token, expires_at) that CPH calls accept; a wrong password is 401", async () => {
    const response = await send(
      buildIamTokenRequest({
        iamEndpoint: emulator.url,
        domainName: DEMO_CREDENTIALS.domainName,
        userName: DEMO_CREDENTIALS.userName,
        password: DEMO_CREDENTIALS.password,
        project: { name: DEMO_CREDENTIALS.projectName },
      }),
    );
    expect(response.status).toBe(201);
    const subject = response.headers.get("x-subject-token")!;
    secrets.add(subject);
    const body = (await response.json()) as { token: { expires_at: string; issued_at: string } };
    expect(Date.parse(body.token.expires_at) - Date.parse(body.token.issued_at)).toBe(86_400_000);
    const list = await fetch(`${emulator.url}/v1/${PROJECT}/cloud-phone/jobs?request_id=none`, {
      headers: { "X-Auth-Token": subject },
    });
    expect(list.status).toBe(200);
    expect(list.headers.get("x-request-id")).toMatch(/^[0-9a-f]{32}$/);
    const wrong = await send(
      buildIamTokenRequest({
        iamEndpoint: emulator.url,
        domainName: "demo-account",
        userName: "demo-user",
        password: "wrong",
        project: { id: PROJECT },
      }),
    );
    expect(wrong.status).toBe(401);
  });

  it("accepts AK/SK requests signed by core, refuses a tampered body or header (0301) and an old date (0303)", async () => {
    const request = exportRequest([info("aksk-phone")]);
    const accepted = await send(await sign(request));
    expect(accepted.status).toBe(200);
    const signed = await sign(request);
    const tamperedBody = await send({
      ...signed,
      body: new TextEncoder().encode(
        new TextDecoder().decode(signed.body).replace("aksk-phone", "other-phone"),
      ),
    });
    expect(tamperedBody.status).toBe(401);
    expect(await tamperedBody.json()).toMatchObject({
      error_code: "APIGW.0301",
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const tamperedHeader = await send({
      ...signed,
      headers: { ...signed.headers, "Content-Type": "text/plain" },
    });
    expect(tamperedHeader.status).toBe(401);
    expect(await tamperedHeader.json()).toMatchObject({ error_code: "APIGW.0301" });
    const old = await send(await sign(request, new Date(Date.now() - 20 * 60 * 1000)));
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ error_code: "APIGW.0303" });
    const temporary = await signRequest(request, { ...TEMP_KEY, projectId: PROJECT });
    expect((await send(temporary)).status).toBe(200);
  });

  it("answers validation errors with 400, the CPH body and every issue's path", async () => {
    const response = await send(
      await sign(
        exportRequest([
          info("p1", { include_files: ["/system/app"] }),
          info("p1", { object_path: "bad path.tar" }),
        ]),
      ),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error_code: string;
      request_id: string;
      details: Array<{ code: string; path: string }>;
    };
    expect(body.request_id).toBe(response.headers.get("x-request-id"));
    expect(body.details.map((issue) => `${issue.code}@${issue.path}`)).toEqual(
      expect.arrayContaining([
        "path_outside_roots@storage_infos[0].include_files[0]",
        "phone_id_duplicate@storage_infos[1].phone_id",
        "object_path_charset@storage_infos[1].object_path",
      ]),
    );
  });

  it("reports missing and unavailable phones inside the 200 and gives the others jobs", async () => {
    const response = await send(
      await sign(exportRequest([info("partial-ok"), info(MISSING), info(UNAVAILABLE)])),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { jobs: Array<Record<string, string>> };
    expect(body.jobs).toEqual([
      { phone_id: "partial-ok", job_id: expect.stringMatching(/^[0-9a-f]{32}$/) },
      { phone_id: MISSING, error_code: "CPS.0005", error_msg: expect.any(String) },
      { phone_id: UNAVAILABLE, error_code: "CPS.0006", error_msg: expect.any(String) },
    ]);
  });

  it("runs jobs to an archive on disk whose members are exactly matchExportPaths of the phone (exclude wins)", async () => {
    const phone = "7a1c0de5f00d4badb0a7c0ffee123456";
    const include = ["/data/data", "/data/media/0/DCIM", "/cache/recovery/last_log"];
    const exclude = ["/data/data/com.example.app/cache", "/data/media/0/DCIM/Camera/IMG_202401*"];
    const response = await send(
      await sign(
        exportRequest([
          info(phone, { include_files: include, exclude_files: exclude, object_path: "e2e/phone.tar" }),
          info(FAILING),
        ]),
      ),
    );
    const requestId = response.headers.get("x-request-id")!;
    const jobs = await eventually(async () => {
      const current = await listJobs([requestId]);
      return current.every((job) => job["status"] !== 1) ? current : undefined;
    });
    expect(jobs.map((job) => [job["phone_id"], job["status"], job["error_code"]])).toEqual([
      [phone, 2, null],
      [FAILING, -1, "CPS.0010"],
    ]);
    expect(jobs[0]).toMatchObject({
      end_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      error_msg: null,
    });
    const expected = matchExportPaths(listPhoneFiles(phone), include, exclude);
    expect(expected.length).toBeGreaterThan(20);
    expect(expected.some((file) => file.startsWith("/data/data/com.example.app/cache/"))).toBe(false);
    const members = await readTarMembers(join(emulator.dataDir, "backups", "e2e", "phone.tar"));
    expect(members.map((member) => `/${member.name}`)).toEqual(expected);
    expect(existsSync(join(emulator.dataDir, "backups", "run", `${FAILING}.tar`))).toBe(false);
  });

  it("throttles above throttleRps with 429 APIGW.0308 and Retry-After", async () => {
    await control("reset", {});
    await control("faults", { throttleRps: 3 });
    const tokenValue = await token();
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${emulator.url}/v1/${PROJECT}/cloud-phone/jobs?request_id=x`, {
          headers: { "X-Auth-Token": tokenValue },
        }),
      ),
    );
    const throttled = responses.filter((response) => response.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(6);
    for (const response of throttled) {
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await response.json()).toMatchObject({ error_code: "APIGW.0308" });
    }
    expect(await control("stats")).toMatchObject({ throttled: throttled.length });
    await control("faults", {});
  });

  it("cuts the connection after creating the jobs on a drop, and records them in the ledger and stats", async () => {
    await control("reset", {});
    await control("faults", { dropRate: 1 });
    const phones = ["drop-1", "drop-2", MISSING];
    await expect(send(await sign(exportRequest(phones.map((phone) => info(phone)))))).rejects.toThrow();
    await control("faults", {});
    const ledger = (await control("ledger")) as { entries: Array<Record<string, unknown>> };
    expect(ledger.entries.map((entry) => [entry["phone_id"], entry["dropped"]])).toEqual([
      ["drop-1", true],
      ["drop-2", true],
    ]);
    expect(await control("stats")).toMatchObject({ drops: 1, droppedPhones: 3 });
    const jobs = await listJobs([String(ledger.entries[0]!["request_id"])]);
    expect(jobs.map((job) => job["phone_id"])).toEqual(["drop-1", "drop-2"]);
  });

  it("answers 503 before processing under errorRate: no ledger entry", async () => {
    await control("reset", {});
    await control("faults", { errorRate: 1 });
    const response = await send(await sign(exportRequest([info("error-1")])));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error_code: "APIGW.0201" });
    await control("faults", {});
    expect(await control("ledger")).toEqual({ entries: [] });
  });

  it("accounts for 1,000 phones sent in 10 requests: each in the ledger exactly once, all succeeded", async () => {
    await control("reset", {});
    const tokenValue = await token();
    const phones = Array.from({ length: 1000 }, (_, index) => `fleet${String(index).padStart(4, "0")}`);
    const batches = Array.from({ length: 10 }, (_, batch) => phones.slice(batch * 100, batch * 100 + 100));
    const answers = await Promise.all(
      batches.map(async (batch) => {
        const request = exportRequest(
          batch.map((phone) => info(phone, { object_path: `fleet/${phone}.tar` })),
        );
        const response = await fetch(request.url, {
          method: "POST",
          headers: { ...request.headers, "X-Auth-Token": tokenValue },
          body: request.body!,
        });
        expect(response.status).toBe(200);
        return (await response.json()) as {
          request_id: string;
          jobs: Array<{ phone_id: string; job_id: string }>;
        };
      }),
    );
    const accepted = new Map(
      answers.flatMap((answer) => answer.jobs.map((job) => [job.phone_id, job.job_id] as const)),
    );
    expect(accepted.size).toBe(1000);
    const entries = await eventually(async () => {
      const ledger = (await control("ledger")) as {
        entries: Array<{ phone_id: string; job_id: string; outcome: string }>;
      };
      return ledger.entries.length === 1000 && ledger.entries.every((entry) => entry.outcome === "succeeded")
        ? ledger.entries
        : undefined;
    }, 30_000);
    expect(new Set(entries.map((entry) => entry.phone_id)).size).toBe(1000);
    for (const entry of entries) expect(accepted.get(entry.phone_id)).toBe(entry.job_id);
    expect(existsSync(join(emulator.dataDir, "backups", "fleet", "fleet0999.tar"))).toBe(true);
  });

  it("stops with exit code 0 on SIGTERM, having logged JSON lines without any secret", async () => {
    const status = await emulator.stop("SIGTERM");
    expect(status).toEqual({ code: 0, signal: null });
    const { stdout, stderr } = emulator.output();
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`cph-emulator listening on ${emulator.url}`);
    const entries = lines.slice(1).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(20);
    expect(entries.some((entry) => entry["status"] === "dropped")).toBe(true);
    for (const secret of secrets) {
      expect(stdout.includes(secret), "a secret in stdout").toBe(false);
      expect(stderr.includes(secret), "a secret in stderr").toBe(false);
    }
    expect(secrets.size).toBeGreaterThan(8);
  });
});
