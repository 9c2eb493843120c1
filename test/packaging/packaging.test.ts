// The published packages as a stranger gets them: packed with pnpm, installed with plain npm into an empty
// project outside the workspace, and run there with the Node that runs this suite (Node 20, and Node 24 in CI).
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Consumer, createConsumer, firstCodeBlock, packedManifest, published } from "./consumer.js";

const packages = published();
const byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
let consumer: Consumer;

beforeAll(async () => {
  for (const pkg of packages) {
    if (!existsSync(join(pkg.dir, "dist", "index.js"))) {
      throw new Error(
        `${pkg.name} is not built (${pkg.dir}/dist): run 'npm test' or 'npx turbo run build' first`,
      );
    }
  }
  consumer = await createConsumer(packages);
}, 180_000);

afterAll(() => consumer?.remove());

/** Starts an installed server bin and resolves with the URL from its first stdout line. */
function startServer(
  name: string,
  args: string[],
  firstLine: RegExp,
): Promise<{ child: ChildProcess; url: string; stop: () => Promise<number | null> }> {
  const child = consumer.startBin(name, args);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    return exited;
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      const match = firstLine.exec(line);
      if (match?.[1]) resolve({ child, url: match[1], stop });
      else void stop().then(() => reject(new Error(`${name} printed '${line}' first; stderr: ${stderr}`)));
    });
    void exited.then((code) =>
      reject(new Error(`${name} exited with ${code} before listening; stderr: ${stderr}`)),
    );
  });
}

describe("the packed tarballs", () => {
  it("are exactly core, http-client, obs, cli and emulator; the gateway is private", () => {
    expect(packages.map((pkg) => pkg.name).sort()).toEqual([
      "@cph-export/cli",
      "@cph-export/core",
      "@cph-export/emulator",
      "@cph-export/http-client",
      "@cph-export/obs",
    ]);
  });

  it("name internal dependencies by their real versions, never workspace: or catalog:", async () => {
    for (const [name, tarball] of consumer.tarballs) {
      const manifest = await packedManifest(tarball);
      const dependencies = (manifest["dependencies"] ?? {}) as Record<string, string>;
      for (const [dependency, range] of Object.entries(dependencies)) {
        expect(range, `${name} -> ${dependency}`).not.toMatch(/^(workspace|catalog):/);
        const internal = byName.get(dependency);
        if (internal) expect(range, `${name} -> ${dependency}`).toBe(internal.version);
        else expect(range, `${name} -> ${dependency}`).toMatch(/^\d+\.\d+\.\d+/);
      }
    }
  });

  it("are installed once each, from the tarballs and not from the registry", () => {
    const lock = JSON.parse(readFileSync(join(consumer.dir, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; resolved?: string }>;
    };
    for (const pkg of packages) {
      const entry = lock.packages[`node_modules/${pkg.name}`];
      expect(entry?.version, pkg.name).toBe(pkg.version);
      expect(entry?.resolved, pkg.name).toMatch(/^file:/);
    }
    const nested = Object.keys(lock.packages).filter((path) =>
      /node_modules\/.+\/node_modules\/@cph-export\//.test(path),
    );
    expect(nested).toEqual([]);
  });
});

describe("@cph-export/core in a plain ESM script", () => {
  it("runs on the Node that runs this suite, with npm's bins resolving to it", async () => {
    const direct = await consumer.node(["-p", "process.version"]);
    expect(direct.stdout.trim()).toBe(process.version);
    const viaShebang = await consumer.npx(["node", "-e", "console.log(process.version)"]);
    expect(viaShebang.stdout.trim()).toBe(process.version);
  });

  it("runs the README example: validates, builds and signs a batch export", async () => {
    const readme = join(consumer.dir, "node_modules", "@cph-export", "core", "README.md");
    const script = consumer.write("readme-example.mjs", firstCodeBlock(readme, "js"));
    const result = await consumer.node([script]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [requestLine, headerLine] = result.stdout.trim().split("\n");
    expect(requestLine).toBe(
      "POST https://cph.cn-north-4.myhuaweicloud.com/v1/0123456789abcdef0123456789abcdef/cloud-phone/phones/batch-storage",
    );
    expect(headerLine).toBe("Authorization Content-Type Host X-Project-Id X-Sdk-Date");
  });

  it("reports every issue with its code and path, and builds the exact body", async () => {
    const script = consumer.write(
      "validate.mjs",
      `import { buildBatchExportRequest, utf8Text, validateBatchExportRequest } from "@cph-export/core";
const bad = validateBatchExportRequest({
  storage_infos: [
    { phone_id: "p1", include_files: ["/data/../system"], bucket_name: "Bad_Bucket", object_path: "a.tar" },
  ],
});
const good = validateBatchExportRequest({
  storage_infos: [{ phone_id: "p2", include_files: ["/data/app"], bucket_name: "backups", object_path: "p2.tar" }],
});
const request = buildBatchExportRequest({ endpoint: "http://127.0.0.1:1", projectId: "p", storageInfos: good.value.storage_infos });
console.log(JSON.stringify({
  bad: { ok: bad.ok, issues: bad.issues.map((issue) => [issue.path, issue.code]) },
  good: good.ok,
  body: utf8Text(request.body),
}));
`,
    );
    const result = await consumer.node([script]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as {
      bad: { ok: boolean; issues: [string, string][] };
      good: boolean;
      body: string;
    };
    expect(output.bad.ok).toBe(false);
    expect(output.bad.issues.map(([path]) => path)).toEqual(
      expect.arrayContaining(["storage_infos[0].include_files[0]", "storage_infos[0].bucket_name"]),
    );
    expect(output.good).toBe(true);
    expect(output.body).toBe(
      '{"storage_infos":[{"phone_id":"p2","include_files":["/data/app"],"bucket_name":"backups","object_path":"p2.tar"}]}',
    );
  });

  it("refuses deep imports into internals", async () => {
    const script = consumer.write(
      "deep-import.mjs",
      `try { await import("@cph-export/core/dist/index.js"); console.log("imported"); }
catch (error) { console.log(error.code); }
`,
    );
    const result = await consumer.node([script]);
    expect(result.stdout.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });
});

describe("cph-emulator from its tarball", () => {
  it("runs its README example: startEmulator in a script, an IAM token, close", async () => {
    const readme = join(consumer.dir, "node_modules", "@cph-export", "emulator", "README.md");
    const script = consumer.write("emulator-example.mjs", firstCodeBlock(readme, "js"));
    // The example makes its data directory under the system temp dir: keep it inside the project, removed with it.
    const temporary = join(consumer.dir, "tmp");
    mkdirSync(temporary, { recursive: true });
    const result = await consumer.node([script], { TMPDIR: temporary });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n").at(-1)).toBe("201 token issued");
  });

  let emulator: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    emulator = await startServer(
      "cph-emulator",
      ["--port", "0", "--host", "127.0.0.1", "--data-dir", join(consumer.dir, "emulator-data")],
      /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/,
    );
  }, 30_000);

  afterAll(async () => {
    await emulator?.stop();
  });

  it("answers POST /v3/auth/tokens with a token for the demo credentials", async () => {
    const tokenFor = (password: string) =>
      fetch(`${emulator.url}/v3/auth/tokens`, {
        method: "POST",
        headers: { "Content-Type": "application/json;charset=utf8" },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ["password"],
              password: { user: { domain: { name: "demo-account" }, name: "demo-user", password } },
            },
            scope: { project: { id: "0123456789abcdef0123456789abcdef" } },
          },
        }),
      });
    const response = await tokenFor("demo-password-0001");
    expect(response.status).toBe(201);
    expect(response.headers.get("x-subject-token")).toMatch(/\S{16,}/);
    const wrong = await tokenFor("wrong-password");
    expect(wrong.status).toBe(401);
  });

  it("accepts a batch export that core's README example signs, sent with fetch", async () => {
    const readme = join(consumer.dir, "node_modules", "@cph-export", "core", "README.md");
    const example = firstCodeBlock(readme, "js");
    const script = consumer.write(
      "send-example.mjs",
      `${example}
import { parseBatchExportResponse } from "@cph-export/core";
const response = await fetch(signed.url, { method: signed.method, headers: signed.headers, body: signed.body });
const text = await response.text();
const parsed = parseBatchExportResponse({ status: response.status, headers: Object.fromEntries(response.headers), bodyText: text });
console.log(JSON.stringify({ status: response.status, jobs: parsed.jobs ?? null, text }));
`,
    );
    const result = await consumer.node([script], {
      CPH_ENDPOINT: emulator.url,
      HUAWEICLOUD_SDK_AK: "EMULATORDEMOAK0000001",
      HUAWEICLOUD_SDK_SK: "emulator-demo-secret-key-0001",
    });
    expect(result.stderr).toBe("");
    const last = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      status: number;
      jobs: { phone_id?: string; job_id?: string }[] | null;
      text: string;
    };
    expect(last.status, last.text).toBe(200);
    expect(last.jobs?.[0]?.phone_id).toBe("1234567890abcdef1234567890abcdef");
    expect(last.jobs?.[0]?.job_id).toMatch(/\S+/);
  });
});

describe("@cph-export/http-client from its tarball", () => {
  let emulator: Awaited<ReturnType<typeof startServer>>;
  const dataDir = () => join(consumer.dir, "client-emulator-data");

  beforeAll(async () => {
    emulator = await startServer(
      "cph-emulator",
      ["--port", "0", "--data-dir", dataDir()],
      /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/,
    );
  }, 30_000);

  afterAll(async () => {
    await emulator?.stop();
  });

  it("runs its README example against the installed emulator: exports, waits, then resumes from the journal", async () => {
    const readme = join(consumer.dir, "node_modules", "@cph-export", "http-client", "README.md");
    const script = consumer.write("client-example.mjs", firstCodeBlock(readme, "js"));
    const env = {
      CPH_ENDPOINT: emulator.url,
      CPH_PROJECT_ID: "0123456789abcdef0123456789abcdef",
      HUAWEICLOUD_SDK_AK: "EMULATORDEMOAK0000001",
      HUAWEICLOUD_SDK_SK: "emulator-demo-secret-key-0001",
    };
    const first = await consumer.node([script], env);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n").sort();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^1234567890abcdef1234567890abcdef succeeded \S+$/);
    expect(lines[1]).toMatch(/^fedcba0987654321fedcba0987654321 succeeded \S+$/);
    for (const phoneId of ["1234567890abcdef1234567890abcdef", "fedcba0987654321fedcba0987654321"]) {
      expect(existsSync(join(dataDir(), "phone-backups", "2025-01-31", `${phoneId}.tar`)), phoneId).toBe(
        true,
      );
    }

    const ledger = async () =>
      ((await (await fetch(`${emulator.url}/__emulator/ledger`)).json()) as { entries: unknown[] }).entries
        .length;
    const exported = await ledger();
    const second = await consumer.node([script], env);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split("\n").sort()).toEqual(lines);
    expect(await ledger()).toBe(exported);
  });
});

describe("cph-export from its tarball", () => {
  const good = [
    {
      phone_id: "1234567890abcdef1234567890abcdef",
      include_files: ["/data/app"],
      bucket_name: "phone-backups",
      object_path: "cli/1234567890abcdef1234567890abcdef.tar",
    },
  ];
  const bad = [
    ...good,
    {
      phone_id: "fedcba0987654321fedcba0987654321",
      include_files: ["/data/../system"],
      bucket_name: "phone-backups",
      object_path: "cli/fedcba0987654321fedcba0987654321.tar",
    },
  ];

  it("prints its version with npx", async () => {
    const result = await consumer.npx(["cph-export", "--version"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(byName.get("@cph-export/cli")?.version);
  });

  it("validates an input file: exit 0 when clean, 2 with every issue's line and path when not", async () => {
    const clean = await consumer.npx([
      "cph-export",
      "validate",
      "--input",
      consumer.write("good.json", JSON.stringify(good)),
    ]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(/1 phone, 0 errors/);

    const file = consumer.write("bad.ndjson", `${bad.map((info) => JSON.stringify(info)).join("\n")}\n`);
    const broken = await consumer.npx(["cph-export", "validate", "--input", file]);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toMatch(/^line 2: include_files\[0\] path_dot_segment: /m);
    expect(broken.stderr).toMatch(/2 phones, 1 error/);
  });

  it("exports through the installed emulator and waits for the jobs", async () => {
    const dataDir = join(consumer.dir, "cli-emulator-data");
    const emulator = await startServer(
      "cph-emulator",
      ["--port", "0", "--data-dir", dataDir],
      /^cph-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/,
    );
    try {
      const result = await consumer.npx(
        [
          "cph-export",
          "export",
          "--endpoint",
          emulator.url,
          "--project-id",
          "0123456789abcdef0123456789abcdef",
          "--input",
          consumer.write("export.json", JSON.stringify(good)),
          "--wait",
          "--output",
          "ndjson",
        ],
        { HUAWEICLOUD_SDK_AK: "EMULATORDEMOAK0000001", HUAWEICLOUD_SDK_SK: "emulator-demo-secret-key-0001" },
      );
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const results = result.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { phone_id: string; state: string });
      expect(results.map(({ phone_id, state }) => [phone_id, state])).toEqual([
        ["1234567890abcdef1234567890abcdef", "succeeded"],
      ]);
      expect(existsSync(join(dataDir, "phone-backups", "cli", "1234567890abcdef1234567890abcdef.tar"))).toBe(
        true,
      );
    } finally {
      await emulator.stop();
    }
  });
});
