// The published packages as a stranger gets them: packed with pnpm, installed with plain npm into an empty
// project outside the workspace, and run there with the Node that runs this suite (Node 20, and Node 24 in CI).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

describe("the packed tarballs", () => {
  it("are exactly core, http-client, cli and emulator; the gateway is private", () => {
    expect(packages.map((pkg) => pkg.name).sort()).toEqual([
      "@cph-export/cli",
      "@cph-export/core",
      "@cph-export/emulator",
      "@cph-export/http-client",
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
    const viaShebang = await consumer.npx(["--", "node", "-e", "console.log(process.version)"]);
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
