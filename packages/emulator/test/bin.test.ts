// The bin's command line: environment credentials, token expiry, --no-control-routes, --help, usage errors.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildIamTokenRequest } from "@cph-export/core";
import { afterAll, describe, expect, it } from "vitest";
import { type SpawnedEmulator, spawnEmulator } from "../src/index.js";
import { eventually } from "../src/test-support/fixtures.js";
import { runBin } from "./support/run-bin.js";

const ENV = {
  CPH_EMULATOR_PROJECT_ID: "aaaabbbbccccddddeeeeffff00001111",
  CPH_EMULATOR_AK: "SCRIPTAK000000001",
  CPH_EMULATOR_SK: "script-secret-key-value",
  CPH_EMULATOR_IAM_DOMAIN: "script-account",
  CPH_EMULATOR_IAM_USER: "script-user",
  CPH_EMULATOR_IAM_PASSWORD: "script-password-value",
};

const started: SpawnedEmulator[] = [];
afterAll(() => Promise.all(started.map((emulator) => emulator.stop())));

describe("cph-emulator bin", () => {
  it("takes credentials from CPH_EMULATOR_*, lets tokens expire after tokenTtlSeconds, hides control routes, stops on SIGINT", async () => {
    const emulator = await spawnEmulator({
      env: ENV,
      config: { tokenTtlSeconds: 1 },
      args: ["--no-control-routes"],
    });
    started.push(emulator);
    const tokenFor = (domainName: string, userName: string, password: string) =>
      buildIamTokenRequest({
        iamEndpoint: emulator.url,
        domainName,
        userName,
        password,
        project: { id: ENV.CPH_EMULATOR_PROJECT_ID },
      });
    const demo = tokenFor("demo-account", "demo-user", "demo-password-0001");
    expect((await fetch(demo.url, { method: "POST", headers: demo.headers, body: demo.body! })).status).toBe(
      401,
    );
    const request = tokenFor(
      ENV.CPH_EMULATOR_IAM_DOMAIN,
      ENV.CPH_EMULATOR_IAM_USER,
      ENV.CPH_EMULATOR_IAM_PASSWORD,
    );
    const response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body!,
    });
    expect(response.status).toBe(201);
    const token = response.headers.get("x-subject-token")!;
    const list = () =>
      fetch(`${emulator.url}/v1/${ENV.CPH_EMULATOR_PROJECT_ID}/cloud-phone/jobs?request_id=r`, {
        headers: { "X-Auth-Token": token },
      });
    expect((await list()).status).toBe(200);
    const expired = await eventually(
      async () => {
        const answer = await list();
        return answer.status === 401 ? ((await answer.json()) as Record<string, unknown>) : undefined;
      },
      10_000,
      "the token to expire",
    );
    expect(expired).toMatchObject({
      error_code: "APIGW.0301",
      error_msg: expect.stringContaining("expired"),
    });
    expect((await fetch(`${emulator.url}/__emulator/stats`)).status).toBe(404);

    expect(await emulator.stop("SIGINT")).toEqual({ code: 0, signal: null });
    const { stdout, stderr } = emulator.output();
    for (const secret of [ENV.CPH_EMULATOR_SK, ENV.CPH_EMULATOR_IAM_PASSWORD, token]) {
      expect(stdout + stderr).not.toContain(secret);
    }
  });

  it("prints its usage with --help and exits 0", async () => {
    const result = await runBin(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: cph-emulator --data-dir DIR");
    expect(result.stdout).toContain("CPH_EMULATOR_AK");
  });

  it("exits 2 with a clear message on a usage error, a half-set key pair or an invalid config", async () => {
    const missing = await runBin(["--port", "0"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--data-dir is required");
    const unknown = await runBin(["--data-dir", "x", "--colour"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--colour");
    const dir = await mkdtemp(join(tmpdir(), "cph-emulator-bin-"));
    try {
      const halfKey = await runBin(["--data-dir", dir], { CPH_EMULATOR_AK: "ONLYAK" });
      expect(halfKey.code).toBe(2);
      expect(halfKey.stderr).toContain("CPH_EMULATOR_SK is not");
      const file = join(dir, "config.json");
      await writeFile(file, JSON.stringify({ faults: { dropRate: 3 } }));
      const invalid = await runBin(["--data-dir", dir, "--config", file]);
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).toContain("faults.dropRate");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
