import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CphAuthError } from "@cph-export/core";
import type { CphClientOptions } from "@cph-export/http-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./run.js";
import { type Decide, FakeClient, memoryIo } from "./test-support/fake-io.js";

const SK = "unit-test-secret-key-0001";
const ENV = {
  CPH_ENDPOINT: "http://127.0.0.1:9",
  CPH_PROJECT_ID: "0123456789abcdef0123456789abcdef",
  HUAWEICLOUD_SDK_AK: "UNITTESTAK000001",
  HUAWEICLOUD_SDK_SK: SK,
  HOME: "/nonexistent-home",
};

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "cph-export-run-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, text);
  return path;
}

function harness(decide: Decide = () => ({ state: "accepted", jobId: "job" }), throwAfter?: unknown) {
  const clients: FakeClient[] = [];
  const createClient = (options: CphClientOptions) => {
    const client = new FakeClient(options, decide, throwAfter);
    clients.push(client);
    return client;
  };
  return { clients, createClient };
}

const PHONES = ["p1", "p2", "p3"].map((id) => JSON.stringify({ phone_id: id })).join("\n");
const EXPORT_FLAGS = ["--include", "/data", "--bucket", "my-bucket", "--object-path", "x/{phone_id}.tar"];

describe("run: help and usage", () => {
  it("shows help with examples and exit codes, exit 0", async () => {
    const io = memoryIo();
    expect(await run(["--help"], io)).toBe(0);
    expect(io.stdoutText()).toMatch(/Examples:[\s\S]*cph-export export/);
    expect(io.stdoutText()).toMatch(/Exit codes: 0 all accepted/);
  });

  it("shows each command's help with its examples and the global options", async () => {
    for (const command of [
      ["export"],
      ["validate"],
      ["jobs", "get"],
      ["jobs", "list"],
      ["jobs", "wait"],
      ["regions"],
      ["completion"],
    ]) {
      const io = memoryIo();
      expect(await run([...command, "--help"], io)).toBe(0);
      expect(io.stdoutText()).toMatch(/Examples:\n {2}(#|\$)/);
      expect(io.stdoutText()).toMatch(/--region <id>/);
    }
  });

  it("exits 2 with one line for an unknown option or command", async () => {
    const io = memoryIo();
    expect(await run(["export", "--phone", "x"], io)).toBe(2);
    expect(io.stderrText()).toMatch(/^cph-export: unknown option '--phone'/);
    expect(await run(["exprot"], memoryIo())).toBe(2);
  });

  it("exits 2 with a clear sentence for bad option values, before any client exists", async () => {
    const { clients, createClient } = harness();
    const cases: Array<[string[], RegExp]> = [
      [
        ["export", "--phone-id", "p1", ...EXPORT_FLAGS, "--concurrency", "0"],
        /--concurrency must be a whole number from 1 to 64, not "0"/,
      ],
      [
        ["export", "--phone-id", "p1", ...EXPORT_FLAGS, "--output", "xml"],
        /--output must be one of table, json, ndjson/,
      ],
      [
        ["export", "--phone-id", "p1", ...EXPORT_FLAGS, "--timeout", "5m"],
        /--timeout only applies with --wait/,
      ],
      [
        [
          "export",
          "--phone-id",
          "p1",
          "--include",
          "/data/../etc",
          "--bucket",
          "b-1",
          "--object-path",
          "a.tar",
        ],
        /--include: .*\. or \.\. segment/,
      ],
      [
        ["export", "--phone-id", "p1", ...EXPORT_FLAGS.slice(0, 4), "--object-path", "{phone}.tar"],
        /unknown placeholder \{phone\}/,
      ],
      [["export"], /nothing to export/],
      [["--endpoint", "ftp://x", "export", "--phone-id", "p1", ...EXPORT_FLAGS], /must use http or https/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIo({ env: ENV });
      expect(await run(argv, io, { createClient }), argv.join(" ")).toBe(2);
      expect(io.stderrText()).toMatch(message);
      expect(io.stderrText()).not.toMatch(/\n\s+at /);
    }
    expect(clients).toHaveLength(0);
  });

  it("needs a target and credentials, and says where to put them", async () => {
    const io = memoryIo({ env: { HOME: "/nonexistent-home" } });
    expect(await run(["export", "--phone-id", "p1", ...EXPORT_FLAGS], io)).toBe(2);
    expect(io.stderrText()).toMatch(/no region or endpoint/);
    const noCredentials = memoryIo({
      env: { HOME: "/nonexistent-home", CPH_REGION: "cn-north-4", CPH_PROJECT_ID: "p" },
    });
    expect(await run(["export", "--phone-id", "p1", ...EXPORT_FLAGS], noCredentials)).toBe(2);
    expect(noCredentials.stderrText()).toMatch(/no credentials: set HUAWEICLOUD_SDK_AK/);
  });
});

describe("run: export", () => {
  it("sends every phone, prints one row each and exits 0 when all are accepted", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    const input = await file("ok.ndjson", PHONES);
    expect(
      await run(
        ["export", "--input", input, ...EXPORT_FLAGS, "--batch-size", "2", "--concurrency", "3"],
        io,
        { createClient },
      ),
    ).toBe(0);
    const rows = JSON.parse(io.stdoutText());
    expect(rows.map((row: { phone_id: string; line: number }) => [row.phone_id, row.line])).toEqual([
      ["p1", 1],
      ["p2", 2],
      ["p3", 3],
    ]);
    expect(rows[0]).toMatchObject({
      state: "accepted",
      job_id: "job",
      bucket_name: "my-bucket",
      object_path: "x/p1.tar",
    });
    const client = clients[0]!;
    expect(client.sent.map((info) => info.object_path)).toEqual(["x/p1.tar", "x/p2.tar", "x/p3.tar"]);
    expect(client.exportOptions).toMatchObject({ batchSize: 2, concurrency: 3, wait: false });
    expect(client.options).toMatchObject({
      endpoint: "http://127.0.0.1:9",
      credentials: { type: "aksk", accessKey: "UNITTESTAK000001" },
    });
    expect(client.closed).toBe(true);
    expect(io.stderrText()).toMatch(/export: 3 phones in .*: 3 accepted/);
  });

  it("exits 1 when a phone is rejected or failed, 4 when one is unknown or could not be sent, 3 on an auth refusal", async () => {
    const outcomes: Array<[Decide, number]> = [
      [
        (_, i) =>
          i === 1
            ? { state: "rejected", errorCode: "CPS.0005", errorMessage: "no such phone" }
            : { state: "succeeded" },
        1,
      ],
      [
        (_, i) =>
          i === 1 ? { state: "failed", errorCode: "CPS.0010", errorMessage: "disk" } : { state: "succeeded" },
        1,
      ],
      [
        (_, i) =>
          i === 1
            ? { state: "unknown", errorCode: "outcome_unknown", errorMessage: "reset" }
            : { state: "failed" },
        4,
      ],
      [() => ({ state: "rejected", errorCode: "not_sent", errorMessage: "ECONNREFUSED" }), 4],
      [() => ({ state: "rejected", errorCode: "APIGW.0301", errorMessage: "bad signature" }), 3],
    ];
    const input = await file("three.ndjson", PHONES);
    for (const [decide, code] of outcomes) {
      const { createClient } = harness(decide);
      const io = memoryIo({ env: ENV });
      expect(await run(["export", "--input", input, ...EXPORT_FLAGS, "--wait"], io, { createClient })).toBe(
        code,
      );
    }
  });

  it("exits 3 with one sentence when the client throws an auth error, after printing the known results", async () => {
    const auth = new CphAuthError({
      status: 401,
      errorCode: "APIGW.0301",
      errorMessage: "signature does not match",
    });
    const { createClient } = harness(
      () => ({ state: "rejected", errorCode: "APIGW.0301", errorMessage: "bad" }),
      auth,
    );
    const io = memoryIo({ env: ENV });
    const input = await file("auth.ndjson", PHONES);
    expect(await run(["export", "--input", input, ...EXPORT_FLAGS], io, { createClient })).toBe(3);
    expect(JSON.parse(io.stdoutText())).toHaveLength(3);
    expect(io.stderrText()).toMatch(/cph-export: authentication failed: APIGW\.0301/);
    expect(io.stderrText()).not.toMatch(/\n\s+at /);
  });

  it("validates the whole input first and sends nothing when any phone is invalid", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    const input = await file("bad.ndjson", `${PHONES}\n{"phone_id":"p4","include_files":["/system"]}\n`);
    expect(await run(["export", "--input", input, ...EXPORT_FLAGS], io, { createClient })).toBe(2);
    expect(clients).toHaveLength(0);
    expect(io.stderrText()).toMatch(/line 4: include_files\[0\] path_outside_roots: /);
    expect(io.stderrText()).toMatch(
      /has 1 error in 4 phones; nothing was sent\. Run "cph-export validate --input/,
    );
  });

  it("refuses an object path template that would make all phones overwrite one object", async () => {
    const io = memoryIo({ env: ENV });
    const input = await file("same.ndjson", PHONES);
    expect(
      await run(
        [
          "export",
          "--input",
          input,
          "--include",
          "/data",
          "--bucket",
          "bkt",
          "--object-path",
          "all-{date}.tar",
        ],
        io,
      ),
    ).toBe(2);
    expect(io.stderrText()).toMatch(
      /no \{phone_id\} or \{index\}, so all 3 phones would overwrite one object/,
    );
  });

  it("reads the phones from stdin with --input -", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    io.stdinStream.end("phone_id,include_files\ns1,/data/a|/data/b\ns2,/cache\n");
    expect(
      await run(
        [
          "export",
          "--input",
          "-",
          "--bucket",
          "bkt",
          "--object-path",
          "{phone_id}.tar",
          "--output",
          "ndjson",
        ],
        io,
        { createClient },
      ),
    ).toBe(0);
    expect(clients[0]?.sent).toEqual([
      { phone_id: "s1", include_files: ["/data/a", "/data/b"], bucket_name: "bkt", object_path: "s1.tar" },
      { phone_id: "s2", include_files: ["/cache"], bucket_name: "bkt", object_path: "s2.tar" },
    ]);
    expect(io.stdoutText().trim().split("\n")).toHaveLength(2);
  });

  it("stops on SIGINT (the io signal) and exits 130 with what is known", async () => {
    const controller = new AbortController();
    const { createClient } = harness((_, index) => {
      if (index === 1) controller.abort();
      return { state: "accepted", jobId: `job-${index}` };
    });
    const io = memoryIo({ env: ENV, signal: controller.signal });
    const input = await file("sigint.ndjson", PHONES);
    expect(
      await run(
        ["export", "--input", input, ...EXPORT_FLAGS, "--journal", join(directory, "j"), "--wait"],
        io,
        { createClient },
      ),
    ).toBe(130);
    // The phone never sent is reported too: every phone of a run ends in a state.
    const rows = JSON.parse(io.stdoutText()) as Array<{ state: string; error_code?: string }>;
    expect(rows).toHaveLength(3);
    expect(rows.filter((row) => row.error_code === "not_sent")).toEqual([
      expect.objectContaining({ state: "rejected", error_code: "not_sent" }),
    ]);
    expect(io.stderrText()).toMatch(
      /interrupted: 1 of 3 phones were not sent \(state rejected, not_sent\); the journal .* is saved: rerun the same command to resume/,
    );
  });

  it("--dry-run prints the signed requests with the signature redacted, and sends nothing", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    const input = await file("dry.ndjson", PHONES);
    expect(
      await run(["export", "--input", input, ...EXPORT_FLAGS, "--dry-run", "--batch-size", "2"], io, {
        createClient,
      }),
    ).toBe(0);
    expect(clients).toHaveLength(0);
    const requests = JSON.parse(io.stdoutText()) as Array<{
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    }>;
    expect(requests).toHaveLength(2);
    expect(requests[0]?.url).toBe(
      "http://127.0.0.1:9/v1/0123456789abcdef0123456789abcdef/cloud-phone/phones/batch-storage",
    );
    expect(requests[0]?.headers["Authorization"]).toBe("SDK-HMAC-SHA256 Access=UNITTESTAK000001, [REDACTED]");
    expect(requests[0]?.headers["X-Sdk-Date"]).toBe("20250607T080910Z");
    expect(JSON.parse(requests[1]?.body ?? "")).toEqual({
      storage_infos: [
        { phone_id: "p3", include_files: ["/data"], bucket_name: "my-bucket", object_path: "x/p3.tar" },
      ],
    });
    expect(io.stdoutText() + io.stderrText()).not.toContain(SK);
    expect(io.stderrText()).toMatch(
      /dry run: 3 phones in 2 requests to http:\/\/127\.0\.0\.1:9; nothing was sent/,
    );
  });

  it("--dry-run with a token shows X-Auth-Token redacted, as text on a terminal", async () => {
    const token = "unit-test-token-value-0001";
    const io = memoryIo({
      env: { ...ENV, HUAWEICLOUD_SDK_AK: "", HUAWEICLOUD_SDK_SK: "", CPH_AUTH_TOKEN: token },
      stdoutIsTTY: true,
    });
    expect(await run(["export", "--phone-id", "p1", ...EXPORT_FLAGS, "--dry-run"], io)).toBe(0);
    expect(io.stdoutText()).toMatch(
      /^POST http:\/\/127\.0\.0\.1:9\/v1\/.*\/batch-storage\nContent-Type: application\/json\nX-Auth-Token: \[REDACTED\]\nUser-Agent: cph-export\//,
    );
    expect(io.stdoutText()).not.toContain(token);
  });
});

describe("run: validate", () => {
  it("reports every issue with its line and field path, warnings included, and exits 2", async () => {
    const input = await file(
      "mixed.csv",
      [
        "phone_id,include_files,bucket_name,object_path",
        "ok1,/data,bkt,a.tar",
        "bad id!,/data,bkt,b.tar",
        "ok2,/data|/data/../x,bkt,c.tar",
        "ok3,/data,Bad_Bucket,d.zip",
        '"multi',
        'line",/data,bkt,e.tar',
        "ok4,/data,bkt,a.tar",
      ].join("\n"),
    );
    const io = memoryIo();
    expect(await run(["validate", "--input", input], io)).toBe(2);
    const lines = io.stdoutText().trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^line 3: warning: phone_id phone_id_charset: /),
      expect.stringMatching(/^line 4: include_files\[1\] path_dot_segment: /),
      expect.stringMatching(/^line 5: bucket_name bucket_charset: /),
      expect.stringMatching(/^line 5: bucket_name bucket_edge: /),
      expect.stringMatching(/^line 5: warning: object_path object_path_not_tar: /),
      expect.stringMatching(
        /^line 6: warning: phone_id phone_id_charset: phone_id "multi\\nline" contains a control character/,
      ),
      expect.stringMatching(
        /^line 8: warning: object_path object_path_duplicate: line 2 writes the same object bkt\/a\.tar/,
      ),
    ]);
    expect(io.stderrText()).toMatch(/validate: .*mixed\.csv: 6 phones, 3 errors, 4 warnings/);
  });

  it("exits 0 when there are only warnings, and writes JSON issues on request", async () => {
    const input = await file(
      "warn.json",
      '[\n  {"phone_id": "p1", "include_files": ["/data"], "bucket_name": "bkt", "object_path": "p1.zip"}\n]',
    );
    const io = memoryIo();
    expect(await run(["validate", "--input", input, "--output", "json"], io)).toBe(0);
    expect(JSON.parse(io.stdoutText())).toEqual([
      {
        line: 2,
        phone_id: "p1",
        path: "object_path",
        code: "object_path_not_tar",
        severity: "warning",
        message: expect.any(String),
      },
    ]);
  });

  it("fails clearly on a missing file", async () => {
    const io = memoryIo();
    expect(await run(["validate", "--input", join(directory, "absent.csv")], io)).toBe(2);
    expect(io.stderrText()).toMatch(/cannot read --input .*absent\.csv: no such file/);
  });
});

describe("run: jobs, regions, completion", () => {
  it("jobs wait exits 1 when a job failed and lists every outcome", async () => {
    const { createClient } = harness();
    const io = memoryIo({ env: ENV });
    expect(await run(["jobs", "wait", "--job-id", "j1,j9", "--output", "json"], io, { createClient })).toBe(
      1,
    );
    expect(
      JSON.parse(io.stdoutText()).map((row: { job_id: string; state: string }) => [row.job_id, row.state]),
    ).toEqual([
      ["j1", "succeeded"],
      ["j9", "failed"],
    ]);
  });

  it("jobs list and get print the jobs", async () => {
    const { createClient } = harness();
    const list = memoryIo({ env: ENV });
    expect(
      await run(["jobs", "list", "--request-id", "r1", "--request-id", "r2", "--output", "ndjson"], list, {
        createClient,
      }),
    ).toBe(0);
    expect(
      list
        .stdoutText()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).job_id),
    ).toEqual(["job-r1", "job-r2"]);
    const get = memoryIo({ env: ENV, stdoutIsTTY: true });
    expect(await run(["jobs", "get", "abc"], get, { createClient })).toBe(0);
    expect(get.stdoutText()).toMatch(/^JOB\s+PHONE\s+STATE[\s\S]*abc\s+p1\s+.*succeeded/);
  });

  it("regions lists every region as JSON off a terminal", async () => {
    const io = memoryIo();
    expect(await run(["regions"], io)).toBe(0);
    expect(JSON.parse(io.stdoutText())).toContainEqual({
      region: "cn-north-4",
      name: "CN North-Beijing4",
      endpoint: "https://cph.cn-north-4.myhuaweicloud.com",
      iam_endpoint: "https://iam.cn-north-4.myhuaweicloud.com",
    });
  });

  it("prints completion scripts naming every command; the bash one parses", async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const io = memoryIo();
      expect(await run(["completion", shell], io)).toBe(0);
      for (const word of [
        "export",
        "validate",
        "verify",
        "resend-missing",
        "jobs",
        "regions",
        "phone-id",
        "request-id",
        "cn-north-4",
      ]) {
        expect(io.stdoutText(), `${shell} ${word}`).toContain(word);
      }
      if (shell === "bash") {
        const check = spawnSync("bash", ["-n"], { input: io.stdoutText() });
        expect(check.status, check.stderr.toString()).toBe(0);
      }
    }
    expect(await run(["completion", "powershell"], memoryIo())).toBe(2);
  });
});
