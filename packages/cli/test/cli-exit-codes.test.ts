import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEMO_CREDENTIALS, type SpawnedEmulator } from "@cph-export/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  emulatorEnv,
  ndjson,
  runCli,
  ledgerOf,
  SECRETS,
  startEmulator,
  tempDir,
  transcripts,
} from "./helpers.js";

let emulator: SpawnedEmulator;
let work: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  emulator = await startEmulator({
    jobDurationMs: 200,
    phones: { missing: ["ex1-missing"], failing: { "ex1-failing": "CPS.0010" } },
    // CPH documents no per-request limit; this emulator takes what --batch-size sends.
    maxPhonesPerRequest: 1000,
  });
  work = await tempDir();
});

afterAll(async () => {
  await emulator?.stop();
  await work?.remove();
  // No secret from the environment in any stdout or stderr of any run of this file.
  for (const text of transcripts) for (const secret of SECRETS) expect(text).not.toContain(secret);
});

const FLAGS = [
  "--include",
  "/data/data",
  "--exclude",
  "/data/data/cache",
  "--bucket",
  "cli-tests",
  "--object-path",
  "exports/{date}/{phone_id}.tar",
];

async function input(name: string, text: string): Promise<string> {
  const path = join(work.path, name);
  await writeFile(path, text);
  return path;
}

describe("cph-export against the emulator (process level)", () => {
  it("--version prints the version, exit 0", async () => {
    const result = await runCli(["--version"]);
    expect(result).toMatchObject({ code: 0, stdout: "0.1.0\n" });
  });

  it("--help is printed from the build-time cache exactly as commander prints it", async () => {
    for (const path of [[], ["export"], ["jobs", "wait"]]) {
      const cached = await runCli([...path, "--help"]);
      // --debug before --help bypasses the cache: commander renders the help itself.
      const live = await runCli([...path, "--debug", "--help"]);
      expect(cached.code).toBe(0);
      expect(live.code).toBe(0);
      expect(cached.stdout).toMatch(/Examples:/);
      expect(cached.stdout).toBe(live.stdout);
    }
  });

  it("exit 0: exports and waits; one row per phone; the archives are written", async () => {
    const ids = ["ex0-a", "ex0-b", "ex0-c", "ex0-d"];
    const result = await runCli(
      [
        "export",
        "--input",
        await input("ok.ndjson", ndjson(ids)),
        ...FLAGS,
        "--wait",
        "--poll-interval",
        "200ms",
        "--batch-size",
        "3",
      ],
      {
        env: emulatorEnv(emulator),
      },
    );
    expect(result.stderr).toMatch(/export: 4 phones in .*: 4 succeeded/);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{
      phone_id: string;
      state: string;
      job_id: string;
      object_path: string;
    }>;
    // JSON rows come in the order the phones finish.
    expect(rows.map((row) => [row.phone_id, row.state]).sort()).toEqual(ids.map((id) => [id, "succeeded"]));
    for (const row of rows) {
      expect(row.job_id).toMatch(/\S/);
      expect(existsSync(join(emulator.dataDir, "cli-tests", row.object_path))).toBe(true);
    }
    expect((await ledgerOf(emulator, "ex0-")).map((entry) => entry.phone_id).sort()).toEqual(ids);
  });

  it("exit 1: a phone rejected inside the 200 and a job that fails, each with its reason", async () => {
    const result = await runCli(
      [
        "export",
        "--input",
        await input("mixed.ndjson", ndjson(["ex1-ok", "ex1-missing", "ex1-failing"])),
        ...FLAGS,
        "--wait",
        "--poll-interval",
        "200ms",
        "--output",
        "ndjson",
      ],
      { env: emulatorEnv(emulator) },
    );
    expect(result.code).toBe(1);
    const rows = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { phone_id: string; state: string; error_code?: string });
    const byPhone = Object.fromEntries(rows.map((row) => [row.phone_id, row]));
    expect(byPhone["ex1-ok"]).toMatchObject({ state: "succeeded" });
    expect(byPhone["ex1-missing"]).toMatchObject({ state: "rejected", error_code: "CPS.0005" });
    expect(byPhone["ex1-failing"]).toMatchObject({ state: "failed", error_code: "CPS.0010" });
    expect(result.stderr).toMatch(/rejected ex1-missing: CPS\.0005/);
    expect(result.stderr).toMatch(/failed ex1-failing: CPS\.0010/);
  });

  it("exit 2: validate reports each issue of a mixed file with its line number and field path", async () => {
    const file = await input(
      "mixed.ndjson",
      [
        '{"phone_id":"v-ok","include_files":["/data"],"bucket_name":"bkt","object_path":"a.tar"}',
        "",
        '{"phone_id":"v-dots","include_files":["/data/app","/data/../system"],"bucket_name":"bkt","object_path":"b.tar"}',
        '{"phone_id":"v-json", "include_files": [}',
        '{"phone_id":"v-bucket","include_files":["/data"],"bucket_name":"192.168.1.1","object_path":"c.tar"}',
        '{"phone_id":"v-warn","include_files":["/cache/x*"],"bucket_name":"bkt","object_path":"d.zip"}',
        '{"phone_id":"v-ok","include_files":["/data"],"bucket_name":"bkt","object_path":"e.tar","extra":1}',
      ].join("\n"),
    );
    const result = await runCli(["validate", "--input", file]);
    expect(result.code).toBe(2);
    expect(result.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^line 3: include_files\[1\] path_dot_segment: "\/data\/\.\.\/system" has a \. or \.\. segment/,
      ),
      expect.stringMatching(/^line 4: input_syntax: not valid JSON/),
      expect.stringMatching(/^line 5: bucket_name bucket_ip_address: /),
      expect.stringMatching(/^line 6: warning: object_path object_path_not_tar: /),
      expect.stringMatching(/^line 7: extra unrecognized_key: /),
      expect.stringMatching(/^line 7: phone_id phone_id_duplicate: phone v-ok is already on line 1/),
    ]);
    expect(result.stderr).toMatch(/6 phones, 5 errors, 1 warning/);
  });

  it("exit 2: an invalid input is refused as a whole and nothing is sent", async () => {
    const before = await emulator.stats();
    const csv = "phone_id,include_files\nex2-a,/data\nex2-b,/system\n";
    const result = await runCli(["export", "--input", await input("bad.csv", csv), ...FLAGS.slice(4)], {
      env: emulatorEnv(emulator),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /line 2: include_files required|line 3: include_files\[0\] path_outside_roots/,
    );
    expect(result.stderr).toMatch(/nothing was sent/);
    expect(await ledgerOf(emulator, "ex2-")).toEqual([]);
    expect((await emulator.stats()).requests).toBe(before.requests);
  });

  it("--dry-run prints the exact requests, redacted, and sends nothing", async () => {
    const before = await emulator.stats();
    const result = await runCli(
      [
        "export",
        "--input",
        await input("dry.ndjson", ndjson(["dry-a", "dry-b", "dry-c"])),
        ...FLAGS,
        "--dry-run",
        "--batch-size",
        "2",
      ],
      {
        env: emulatorEnv(emulator),
      },
    );
    expect(result.code).toBe(0);
    const requests = JSON.parse(result.stdout) as Array<{
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    }>;
    expect(requests.map((request) => JSON.parse(request.body).storage_infos.length)).toEqual([2, 1]);
    expect(requests[0]).toMatchObject({
      method: "POST",
      url: `${emulator.url}/v1/${DEMO_CREDENTIALS.projectId}/cloud-phone/phones/batch-storage`,
    });
    expect(requests[0]?.headers["Authorization"]).toBe(
      `SDK-HMAC-SHA256 Access=${DEMO_CREDENTIALS.accessKey}, [REDACTED]`,
    );
    expect(await ledgerOf(emulator, "dry-")).toEqual([]);
    expect((await emulator.stats()).requests).toBe(before.requests);
  });

  it("exit 3: a wrong secret key is an authentication failure, said in one sentence", async () => {
    const result = await runCli(["export", "--phone-id", "ex3-a", ...FLAGS], {
      env: emulatorEnv(emulator, { HUAWEICLOUD_SDK_SK: "wrong-secret-key-0002" }),
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/APIGW\.0301/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await ledgerOf(emulator, "ex3-")).toEqual([]);
  });

  it("exit 4: nothing listens on the port", async () => {
    const closed = emulatorEnv(emulator, { CPH_ENDPOINT: "http://127.0.0.1:9" });
    const result = await runCli(["--retries", "0", "export", "--phone-id", "ex4-a", ...FLAGS], {
      env: closed,
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/ECONNREFUSED|could not connect/);
  });

  it("exit 4: the connection drops after the jobs were created, so the phones are unknown", async () => {
    await emulator.setFaults({ dropRate: 1 });
    try {
      const result = await runCli(
        ["export", "--input", await input("drop.ndjson", ndjson(["ex4-d1", "ex4-d2"])), ...FLAGS],
        {
          env: emulatorEnv(emulator),
        },
      );
      expect(result.code).toBe(4);
      expect((JSON.parse(result.stdout) as Array<{ state: string }>).map((row) => row.state)).toEqual([
        "unknown",
        "unknown",
      ]);
      expect(result.stderr).toMatch(/2 phones are unknown/);
      // The jobs exist although the client never heard of them: that is why it must not resend.
      expect(await ledgerOf(emulator, "ex4-d")).toHaveLength(2);
    } finally {
      await emulator.setFaults({});
    }
  });

  it("--batch-size above the default 100 is sent as asked: 150 phones in one request", async () => {
    const ids = Array.from({ length: 150 }, (_, index) => `big-${index}`);
    const result = await runCli(
      ["export", "--input", await input("big.ndjson", ndjson(ids)), ...FLAGS, "--batch-size", "150"],
      { env: emulatorEnv(emulator) },
    );
    expect(result.stderr).toContain("150 phones");
    expect(result.code).toBe(0);
    const ledger = await ledgerOf(emulator, "big-");
    expect(ledger.map((entry) => entry.phone_id).sort()).toEqual([...ids].sort());
    expect(new Set(ledger.map((entry) => entry.request_id)).size).toBe(1);
  });

  it("jobs list and jobs wait follow jobs started by an earlier export", async () => {
    const exported = await runCli(
      ["export", "--input", await input("jobs.ndjson", ndjson(["job-a", "job-b"])), ...FLAGS],
      {
        env: emulatorEnv(emulator),
      },
    );
    expect(exported.code).toBe(0);
    const requestId = (JSON.parse(exported.stdout) as Array<{ request_id: string }>)[0]?.request_id ?? "";
    const waited = await runCli(["jobs", "wait", "--request-id", requestId, "--poll-interval", "200ms"], {
      env: emulatorEnv(emulator),
    });
    expect(waited.code).toBe(0);
    expect(
      (JSON.parse(waited.stdout) as Array<{ phone_id: string; state: string }>)
        .map((row) => [row.phone_id, row.state])
        .sort(),
    ).toEqual([
      ["job-a", "succeeded"],
      ["job-b", "succeeded"],
    ]);
    const listed = await runCli(["jobs", "list", "--request-id", requestId, "--output", "ndjson"], {
      env: emulatorEnv(emulator),
    });
    expect(listed.stdout.trim().split("\n")).toHaveLength(2);
  });

  it("IAM password login works and neither the password nor the token is printed, even with --debug", async () => {
    const env = {
      CPH_ENDPOINT: emulator.url,
      CPH_PROJECT_ID: DEMO_CREDENTIALS.projectId,
      CPH_IAM_USER: DEMO_CREDENTIALS.userName,
      CPH_IAM_PASSWORD: DEMO_CREDENTIALS.password,
      CPH_IAM_DOMAIN: DEMO_CREDENTIALS.domainName,
      CPH_IAM_ENDPOINT: emulator.url,
    };
    const result = await runCli(["--debug", "export", "--phone-id", "iam-a", ...FLAGS], { env });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/debug: /);
    expect(result.stdout + result.stderr).not.toContain(DEMO_CREDENTIALS.password);
    expect(result.stdout + result.stderr).not.toMatch(/MII[A-Za-z0-9+/=_-]{20,}/);
  });
});
