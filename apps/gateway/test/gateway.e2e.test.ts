// The real gateway bin in front of the real emulator bin, on loopback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  cleanUp,
  closedPort,
  EXPORT_PATH,
  emulatorStats,
  eventually,
  gatewayConfig,
  gatewayEnv,
  KEYS,
  leakedSecrets,
  metric,
  outputs,
  PROJECT,
  request,
  runGateway,
  type Spawned,
  setFaults,
  signedInit,
  startEmulator,
  startGateway,
  storageInfos,
  TEAM_B_SECRET_ENV,
  UPSTREAM,
  writeConfig,
} from "./support.js";
import { hashApiKey } from "../src/auth.js";

let emulator: Spawned;
let gateway: Spawned;

beforeAll(async () => {
  emulator = await startEmulator();
  gateway = await startGateway(gatewayConfig(emulator.url));
});

afterAll(async () => {
  await cleanUp();
  // Checked last, over the output of every process this file started (the access key, which is
  // not a secret, shows that the output was collected).
  expect(outputs.join("")).toContain(KEYS.teamBAccessKey);
  expect(leakedSecrets()).toEqual([]);
});

function exportInit(key: string, infos: unknown[], headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: bearer(key, headers), body: JSON.stringify({ storage_infos: infos }) };
}

describe("CPH-compatible routes through the gateway", () => {
  it("exports with a bearer key, then reads the job and lists the jobs", async () => {
    const infos = storageInfos(2);
    const answer = await request(
      `${gateway.url}${EXPORT_PATH}`,
      exportInit(KEYS.teamA, infos, { "X-Request-Id": "e2e-trace-1" }),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-request-id")).toBe("e2e-trace-1");
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    const jobs = answer.body["jobs"] as Array<{ phone_id: string; job_id: string }>;
    expect(jobs.map((job) => job.phone_id)).toEqual(infos.map((info) => info.phone_id));
    const requestId = answer.body["request_id"] as string;
    expect(requestId).toMatch(/\S/);

    const job = await request(`${gateway.url}/v1/${PROJECT}/cloud-phone/jobs/${jobs[0]?.job_id}`, {
      headers: bearer(KEYS.teamA),
    });
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ job_id: jobs[0]?.job_id, phone_id: infos[0]?.phone_id });

    const list = await request(`${gateway.url}/v1/${PROJECT}/cloud-phone/jobs?request_ids=${requestId}`, {
      headers: bearer(KEYS.teamA),
    });
    expect(list.status).toBe(200);
    expect((list.body["jobs"] as Array<{ job_id: string }>).map((entry) => entry.job_id).sort()).toEqual(
      jobs.map((entry) => entry.job_id).sort(),
    );
    const ledger = (await request(`${emulator.url}/__emulator/ledger`)).body["entries"] as Array<{
      phone_id: string;
    }>;
    expect(ledger.map((entry) => entry.phone_id)).toEqual(
      expect.arrayContaining(infos.map((info) => info.phone_id)),
    );
  });

  it("accepts requests signed with SDK-HMAC-SHA256 by a gateway-issued access key, as an SDK signs them", async () => {
    const body = JSON.stringify({
      storage_infos: storageInfos(1, { bucket_name: "team-b-backups", object_path: "b/one.tar" }),
    });
    const answer = await request(
      `${gateway.url}${EXPORT_PATH}`,
      await signedInit("POST", `${gateway.url}${EXPORT_PATH}`, body),
    );
    expect(answer.status).toBe(200);
    const listUrl = `${gateway.url}/v1/${PROJECT}/cloud-phone/jobs?request_id=${answer.body["request_id"]}&limit=5`;
    const list = await request(listUrl, await signedInit("GET", listUrl));
    expect(list.status).toBe(200);
    expect(list.body["jobs"]).toHaveLength(1);
    // Log lines are written in batches, a moment after the answer.
    const line = await eventually(
      async () => gateway.logs().find((entry) => entry["caller"] === "team-b" && entry["msg"] === "request"),
      "team-b's access log line",
    );
    expect(line).toMatchObject({ access_key: KEYS.teamBAccessKey, status: 200 });
  });
});

describe("refusals never reach the upstream", () => {
  it("answers 401, 403 and 400 with the rule's code, and logs the caller", async () => {
    const before = await emulatorStats(emulator);
    const url = `${gateway.url}${EXPORT_PATH}`;
    const cases: Array<[RequestInit, number, string]> = [
      [{ method: "POST", body: "{}" }, 401, "CPHGW.4011"],
      [exportInit("not-a-key", storageInfos(1)), 401, "CPHGW.4012"],
      [
        await signedInit("POST", url, JSON.stringify({ storage_infos: [] }), "a-wrong-secret-key-1234"),
        401,
        "CPHGW.4013",
      ],
      [exportInit(KEYS.teamA, storageInfos(1, { bucket_name: "team-b-backups" })), 403, "CPHGW.4032"],
      [exportInit(KEYS.teamA, storageInfos(1, { object_path: "b/x.tar" })), 403, "CPHGW.4033"],
      [exportInit(KEYS.teamA, storageInfos(6)), 403, "CPHGW.4034"],
      [exportInit(KEYS.teamA, storageInfos(1, { include_files: ["/system/app"] })), 400, "CPHGW.4001"],
    ];
    for (const [init, status, code] of cases) {
      const answer = await request(url, init);
      expect({ status: answer.status, code: answer.body["error_code"] }).toEqual({ status, code });
    }
    const otherProject = await request(
      `${gateway.url}/v1/ffffffffffffffffffffffffffffffff/cloud-phone/jobs/j1`,
      { headers: bearer(KEYS.teamA) },
    );
    expect(otherProject.status).toBe(403);
    expect(otherProject.body["error_code"]).toBe("CPHGW.4031");
    expect((await emulatorStats(emulator)).requests).toBe(before.requests);
    const refusals = await eventually(async () => {
      const lines = gateway.logs().filter((entry) => entry["msg"] === "refused");
      return lines.some((entry) => entry["error_code"] === "CPHGW.4031") ? lines : undefined;
    }, "the refusal log lines");
    expect(refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ caller: "team-a", error_code: "CPHGW.4032" }),
        expect.objectContaining({ caller: "team-a", error_code: "CPHGW.4031" }),
        expect.objectContaining({ caller: null, access_key: KEYS.teamBAccessKey, error_code: "CPHGW.4013" }),
      ]),
    );
  });

  it("reports every validation issue with its path", async () => {
    const infos = [
      {
        phone_id: "p1",
        include_files: ["/data/../etc"],
        bucket_name: "team-a-x",
        object_path: "team-a/1.tar",
      },
      { phone_id: "p1", include_files: ["/data/a*b"], bucket_name: "team-a-x", object_path: "team-a/2.tar" },
    ];
    const answer = await request(`${gateway.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos));
    expect(answer.status).toBe(400);
    const details = answer.body["details"] as Array<{ code: string; path: string }>;
    expect(details.map((detail) => `${detail.code}@${detail.path}`)).toEqual(
      expect.arrayContaining([
        "path_dot_segment@storage_infos[0].include_files[0]",
        "path_wildcard_position@storage_infos[1].include_files[0]",
        "phone_id_duplicate@storage_infos[1].phone_id",
      ]),
    );
  });

  it("limits a caller's requests per minute with 429 and Retry-After", async () => {
    const url = `${gateway.url}/v1/${PROJECT}/cloud-phone/jobs?request_id=none`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let index = 0; index < 5; index++) {
      const answer = await request(url, { headers: bearer(KEYS.limited) });
      statuses.push(answer.status);
      if (answer.status === 429) {
        retryAfter = answer.headers.get("retry-after");
        expect(answer.body["error_code"]).toBe("CPHGW.4291");
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it("answers 413 for a body over 12 MB", async () => {
    const answer = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(KEYS.teamA),
      body: `{"storage_infos":[${" ".repeat(12 * 1024 * 1024)}]}`,
    });
    expect(answer.status).toBe(413);
    expect(answer.body["error_code"]).toBe("CPHGW.4131");
    // Without a Content-Length (chunked), the limit holds as the body arrives.
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 14) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(KEYS.teamA),
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(chunked.body["error_code"]).toBe("CPHGW.4131");
    expect((await request(`${gateway.url}/healthz`)).status).toBe(200);
  });
});

describe("idempotency", () => {
  it("replays the first answer, refuses another body with 422 and a duplicate in flight with 409", async () => {
    const infos = storageInfos(2);
    const key = { "Idempotency-Key": `e2e-${Date.now()}` };
    const first = await request(`${gateway.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
    const replay = await request(`${gateway.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(first.body);
    const conflict = await request(
      `${gateway.url}${EXPORT_PATH}`,
      exportInit(KEYS.teamA, storageInfos(1), key),
    );
    expect(conflict.status).toBe(422);
    expect(conflict.body["error_code"]).toBe("CPHGW.4221");
    const ledger = (await request(`${emulator.url}/__emulator/ledger`)).body["entries"] as Array<{
      phone_id: string;
    }>;
    expect(ledger.filter((entry) => entry.phone_id === infos[0]?.phone_id)).toHaveLength(1);

    await setFaults(emulator, { latencyMs: 1500 });
    try {
      const slowKey = { "Idempotency-Key": `e2e-slow-${Date.now()}` };
      const slowInfos = storageInfos(1);
      const claimedBefore = metric(
        (await request(`${gateway.url}/metrics`)).text,
        'cph_gateway_idempotency_total{outcome="claimed"}',
      );
      const pending = request(`${gateway.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, slowInfos, slowKey));
      await eventually(async () => {
        const text = (await request(`${gateway.url}/metrics`)).text;
        return metric(text, 'cph_gateway_idempotency_total{outcome="claimed"}') > claimedBefore
          ? true
          : undefined;
      }, "the first request to claim its key");
      const duplicate = await request(
        `${gateway.url}${EXPORT_PATH}`,
        exportInit(KEYS.teamA, slowInfos, slowKey),
      );
      expect(duplicate.status).toBe(409);
      expect(duplicate.body["error_code"]).toBe("CPHGW.4091");
      expect((await pending).status).toBe(200);
    } finally {
      await setFaults(emulator, {});
    }
  });
});

describe("upstream trouble", () => {
  it("passes the CPH 429 of a throttled upstream through, with its code", async () => {
    await setFaults(emulator, { throttleRps: 1 });
    try {
      const url = `${gateway.url}/v1/${PROJECT}/cloud-phone/jobs?request_id=throttle-test`;
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => request(url, { headers: bearer(KEYS.teamA) })),
      );
      const throttled = answers.filter((answer) => answer.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      for (const answer of throttled) expect(answer.body["error_code"]).toMatch(/^APIGW\.0308$|^APIG\.0308$/);
      expect((await emulatorStats(emulator)).throttled).toBeGreaterThanOrEqual(throttled.length);
    } finally {
      await setFaults(emulator, {});
    }
  });

  it("answers 504 when the upstream is slower than the deadline", async () => {
    await setFaults(emulator, { latencyMs: 5000 });
    try {
      const answer = await request(`${gateway.url}/v1/${PROJECT}/cloud-phone/jobs/slow-job`, {
        headers: bearer(KEYS.teamA),
      });
      expect(answer.status).toBe(504);
      expect(answer.body["error_code"]).toBe("CPHGW.5041");
    } finally {
      await setFaults(emulator, {});
    }
  });

  it("answers 502 when the upstream is down, and is not ready when no token can be had", async () => {
    const port = await closedPort();
    const down = await startGateway(gatewayConfig(`http://127.0.0.1:${port}`));
    const answer = await request(`${down.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, storageInfos(1)));
    expect(answer.status).toBe(502);
    expect(answer.body["error_code"]).toBe("CPHGW.5021");
    const job = await request(`${down.url}/v1/${PROJECT}/cloud-phone/jobs/j1`, {
      headers: bearer(KEYS.teamA),
    });
    expect(job.status).toBe(502);
    expect((await request(`${down.url}/healthz`)).status).toBe(200);
    // AK/SK needs no token, so readiness only fails with IAM credentials whose IAM is down.
    const iamDown = await startGateway(gatewayConfig(`http://127.0.0.1:${port}`), {
      CPH_GATEWAY_UPSTREAM_IAM_DOMAIN: UPSTREAM.domain,
      CPH_GATEWAY_UPSTREAM_IAM_USER: UPSTREAM.user,
      CPH_GATEWAY_UPSTREAM_IAM_PASSWORD: UPSTREAM.password,
      [TEAM_B_SECRET_ENV]: KEYS.teamBSecret,
    });
    const notReady = await request(`${iamDown.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.body["checks"]).toMatchObject({
      upstream: expect.stringMatching(/^failed/),
      memory: "ok",
    });
    expect(await down.stop()).toBe(0);
    expect(await iamDown.stop()).toBe(0);
  });

  it("is ready with IAM password credentials, and not with a wrong password", async () => {
    const iamEnv = (password: string) => ({
      CPH_GATEWAY_UPSTREAM_IAM_DOMAIN: UPSTREAM.domain,
      CPH_GATEWAY_UPSTREAM_IAM_USER: UPSTREAM.user,
      CPH_GATEWAY_UPSTREAM_IAM_PASSWORD: password,
      [TEAM_B_SECRET_ENV]: KEYS.teamBSecret,
    });
    const good = await startGateway(gatewayConfig(emulator.url), iamEnv(UPSTREAM.password));
    const bad = await startGateway(gatewayConfig(emulator.url), iamEnv("not-the-password-1"));
    expect((await request(`${good.url}/readyz`)).status).toBe(200);
    const export_ = await request(`${good.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, storageInfos(1)));
    expect(export_.status).toBe(200);
    const notReady = await request(`${bad.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.body["checks"]).toMatchObject({ upstream: expect.stringMatching(/^failed/) });
    await Promise.all([good.stop(), bad.stop()]);
  });
});

describe("operations", () => {
  it("serves metrics and the OpenAPI document", async () => {
    const text = (await request(`${gateway.url}/metrics`)).text;
    expect(text).toContain("# TYPE cph_gateway_requests_total counter");
    expect(text).toMatch(
      /cph_gateway_upstream_duration_seconds_bucket\{le="0.5",operation="batch_export",outcome="ok"\} \d+/,
    );
    // prom-client's default process metrics are there too.
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
    expect(metric(text, 'cph_gateway_refusals_total{caller="limited",code="CPHGW.4291"}')).toBe(1);
    const document = await request(`${gateway.url}/openapi.json`);
    expect(document.body["openapi"]).toBe("3.1.0");
  });

  it("answers 503 CPHGW.5032, not a hang, when its Redis cannot be reached", async () => {
    const port = await closedPort();
    const noRedis = await startGateway(
      gatewayConfig(emulator.url),
      gatewayEnv({ CPH_GATEWAY_REDIS_URL: `redis://127.0.0.1:${port}` }),
    );
    const answer = await request(`${noRedis.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, storageInfos(1)));
    expect(answer.status).toBe(503);
    expect(answer.body["error_code"]).toBe("CPHGW.5032");
    const ready = await request(`${noRedis.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body["checks"]).toMatchObject({ redis: "failed", upstream: "ok" });
    expect(await noRedis.stop()).toBe(0);
  });

  it("hashes an API key for the config with hash-key", () => {
    const result = runGateway(["hash-key"], {}, `${KEYS.teamA}\n`);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(hashApiKey(KEYS.teamA));
  });

  it("refuses a bad config at start with the path of every bad field", async () => {
    const config = gatewayConfig("http://127.0.0.1:9") as unknown as {
      callers: Array<Record<string, unknown>>;
    };
    (config.callers[0] as Record<string, unknown>)["buckets"] = ["Team_A"];
    (config.callers[1] as Record<string, unknown>)["requestsPerMinute"] = -1;
    // Named by CPH_GATEWAY_CONFIG instead of --config.
    const result = runGateway([], gatewayEnv({ CPH_GATEWAY_CONFIG: await writeConfig(config) }));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("callers[0].buckets[0]");
    expect(result.stderr).toContain("callers[1].requestsPerMinute");
    const missingSecret = runGateway(["--config", await writeConfig(gatewayConfig("http://127.0.0.1:9"))], {
      CPH_GATEWAY_UPSTREAM_AK: UPSTREAM.accessKey,
      CPH_GATEWAY_UPSTREAM_SK: UPSTREAM.secretKey,
    });
    expect(missingSecret.status).toBe(2);
    expect(missingSecret.stderr).toContain(
      `callers[1].secretKeyEnv: the environment variable ${TEAM_B_SECRET_ENV} is not set`,
    );
    const noCredentials = runGateway(
      ["--config", await writeConfig(gatewayConfig("http://127.0.0.1:9"))],
      {},
    );
    expect(noCredentials.status).toBe(2);
    expect(noCredentials.stderr).toContain("CPH_GATEWAY_UPSTREAM_AK");
  });

  it("on SIGTERM answers every request in flight, then exits 0", async () => {
    const stopping = await startGateway(gatewayConfig(emulator.url));
    await setFaults(emulator, { latencyMs: 1200 });
    try {
      const pending = Array.from({ length: 8 }, (_, index) =>
        request(`${stopping.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, storageInfos(1, {}, index))),
      );
      await eventually(async () => {
        const text = (await request(`${stopping.url}/metrics`)).text;
        // The metrics request itself is in flight too.
        return metric(text, "cph_gateway_in_flight_requests") >= 9 ? true : undefined;
      }, "eight requests in flight");
      stopping.process.kill("SIGTERM");
      const answers = await Promise.all(pending);
      expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
      expect(await stopping.exited).toBe(0);
      const messages = stopping.logs().map((entry) => entry["msg"]);
      expect(messages.indexOf("shutdown started")).toBeLessThan(messages.lastIndexOf("request"));
      expect(messages.at(-1)).toBe("shutdown complete");
      await expect(fetch(`${stopping.url}/healthz`)).rejects.toThrow();
    } finally {
      await setFaults(emulator, {});
    }
  });
});
