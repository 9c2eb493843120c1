// spawnEmulator: the public helper that runs the built bin as a child process.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBatchExportRequest, signRequest } from "@cph-export/core";
import { describe, expect, it } from "vitest";
import { DEMO_CREDENTIALS, EmulatorProcessError, spawnEmulator } from "../src/index.js";
import { childEnvironment } from "../src/env.js";

async function exportPhones(url: string, phones: string[]): Promise<Response> {
  const request = await signRequest(
    buildBatchExportRequest({
      endpoint: url,
      projectId: DEMO_CREDENTIALS.projectId,
      storageInfos: phones.map((phone_id) => ({
        phone_id,
        include_files: ["/data/local/tmp"],
        bucket_name: "spawned",
        object_path: `${phone_id}.tar`,
      })),
    }),
    {
      accessKey: DEMO_CREDENTIALS.accessKey,
      secretKey: DEMO_CREDENTIALS.secretKey,
      projectId: DEMO_CREDENTIALS.projectId,
    },
  );
  return fetch(request.url, { method: request.method, headers: request.headers, body: request.body! });
}

describe("spawnEmulator", () => {
  it("runs the bin with the config, drives the control routes, and stop() removes what it made", async () => {
    const emulator = await spawnEmulator({
      config: { jobDurationMs: 60_000, phones: { missing: ["gone"] } },
    });
    try {
      expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.pid).toBeGreaterThan(0);
      const answer = await exportPhones(emulator.url, ["kept-1", "kept-2", "gone"]);
      expect(answer.status).toBe(200);
      const requestId = answer.headers.get("x-request-id")!;
      expect((await emulator.ledger()).map((entry) => entry.phone_id)).toEqual(["kept-1", "kept-2"]);
      expect(await emulator.ledger({ phoneId: "kept-2" })).toEqual([
        expect.objectContaining({ phone_id: "kept-2", request_id: requestId, outcome: "running" }),
      ]);
      expect(await emulator.ledger({ requestId: "no-such-request" })).toEqual([]);
      expect(await emulator.stats()).toEqual({
        requests: 1,
        throttled: 0,
        errors: 0,
        drops: 0,
        droppedPhones: 0,
        listPhones: 0,
        listServers: 0,
      });

      await emulator.setFaults({ errorRate: 1 });
      expect((await exportPhones(emulator.url, ["refused"])).status).toBe(503);
      await emulator.setFaults({});
      expect(await emulator.stats()).toMatchObject({ requests: 2, errors: 1 });

      await emulator.reset();
      expect(await emulator.ledger()).toEqual([]);
      expect((await emulator.stats()).requests).toBe(0);
      expect(emulator.output().stdout.split("\n")[0]).toBe(`cph-emulator listening on ${emulator.url}`);
    } finally {
      expect(await emulator.stop()).toEqual({ code: 0, signal: null });
    }
    expect(existsSync(emulator.dataDir)).toBe(false);
    // Once stopped, stop() gives the same exit again.
    expect(await emulator.stop("SIGKILL")).toEqual({ code: 0, signal: null });
  });

  it("keeps a data directory it was given, and says so when the control routes are disabled", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "cph-emulator-given-"));
    try {
      const emulator = await spawnEmulator({ dataDir, args: ["--no-control-routes"] });
      try {
        expect(emulator.dataDir).toBe(dataDir);
        const refused = emulator.stats();
        await expect(refused).rejects.toBeInstanceOf(EmulatorProcessError);
        await expect(refused).rejects.toMatchObject({
          code: "ERR_CPH_EMULATOR_PROCESS",
          message: expect.stringContaining("control routes disabled"),
        });
      } finally {
        expect(await emulator.stop("SIGINT")).toEqual({ code: 0, signal: null });
      }
      expect(existsSync(dataDir)).toBe(true);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("takes credentials from env, and fails with the bin's own message when it cannot start", async () => {
    const emulator = await spawnEmulator({
      env: { CPH_EMULATOR_AK: "SPAWNEDAK0001", CPH_EMULATOR_SK: "spawned-secret-0001" },
    });
    try {
      // The demo key is replaced by the one from the environment.
      expect((await exportPhones(emulator.url, ["demo-key"])).status).toBe(401);
    } finally {
      await emulator.stop();
    }
    await expect(spawnEmulator({ config: { faults: { dropRate: 3 } } })).rejects.toMatchObject({
      code: "ERR_CPH_EMULATOR_PROCESS",
      message: expect.stringMatching(/exited \(code 2\) before listening.*faults\.dropRate/s),
    });
    await expect(spawnEmulator({ env: { CPH_EMULATOR_AK: "HALF" } })).rejects.toThrow(
      /CPH_EMULATOR_SK is not/,
    );
  });
});

describe("childEnvironment", () => {
  it("passes this process's environment on without CPH_EMULATOR_*, then adds or removes what is asked", () => {
    const parent = { PATH: "/bin", CPH_EMULATOR_SK: "from-the-shell", DROPPED: "1", KEPT: "2" };
    expect(childEnvironment({ CPH_EMULATOR_AK: "GIVEN", DROPPED: undefined }, parent)).toEqual({
      PATH: "/bin",
      KEPT: "2",
      CPH_EMULATOR_AK: "GIVEN",
    });
  });
});
