// Two real gateway processes sharing one real redis-server agree on idempotency and rate limits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStateStore } from "../src/redis-store.js";
import type { StateStore } from "../src/state-store.js";
import { stateStoreContract } from "../src/test-support/store-contract.js";
import {
  bearer,
  cleanUp,
  EXPORT_PATH,
  eventually,
  gatewayConfig,
  gatewayEnv,
  KEYS,
  leakedSecrets,
  metric,
  PROJECT,
  type RedisHandle,
  request,
  type Spawned,
  setFaults,
  startEmulator,
  startGateway,
  startRedis,
  storageInfos,
} from "./support.js";

const redis = await startRedis();
const skip = typeof redis === "string";
if (skip) console.warn(`gateway Redis tests skipped: ${redis}`);
const handle = redis as RedisHandle;

describe.skipIf(skip)("two gateways sharing Redis", () => {
  let emulator: Spawned;
  let first: Spawned;
  let second: Spawned;
  const stores: StateStore[] = [];

  beforeAll(async () => {
    emulator = await startEmulator();
    const config = gatewayConfig(emulator.url, { redis: { keyPrefix: handle.keyPrefix } });
    const env = gatewayEnv({ CPH_GATEWAY_REDIS_URL: handle.url });
    [first, second] = await Promise.all([startGateway(config, env), startGateway(config, env)]);
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    // A graceful stop closes the Redis connection too, and exits 0.
    expect(await Promise.all([first.stop(), second.stop()])).toEqual([0, 0]);
    await handle.stop();
    await cleanUp();
    expect(leakedSecrets()).toEqual([]);
  });

  function exportInit(key: string, infos: unknown[], headers: Record<string, string> = {}): RequestInit {
    return { method: "POST", headers: bearer(key, headers), body: JSON.stringify({ storage_infos: infos }) };
  }

  it("both are ready with Redis reachable", async () => {
    for (const gateway of [first, second]) {
      const ready = await request(`${gateway.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.body["checks"]).toMatchObject({ redis: "ok" });
    }
  });

  it("replays on one gateway what the other answered, and refuses another body with 422", async () => {
    const infos = storageInfos(2);
    const key = { "Idempotency-Key": `shared-${Date.now()}` };
    const original = await request(`${first.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
    expect(original.status).toBe(200);
    const replay = await request(`${second.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(original.body);
    const conflict = await request(
      `${second.url}${EXPORT_PATH}`,
      exportInit(KEYS.teamA, storageInfos(1), key),
    );
    expect(conflict.status).toBe(422);
    const ledger = (await request(`${emulator.url}/__emulator/ledger`)).body["entries"] as Array<{
      phone_id: string;
    }>;
    expect(ledger.filter((entry) => entry.phone_id === infos[0]?.phone_id)).toHaveLength(1);
  });

  it("refuses on one gateway a duplicate the other has in flight (409)", async () => {
    await setFaults(emulator, { latencyMs: 1500 });
    try {
      const infos = storageInfos(1);
      const key = { "Idempotency-Key": `shared-slow-${Date.now()}` };
      const claimed = 'cph_gateway_idempotency_total{outcome="claimed"}';
      const before = metric((await request(`${first.url}/metrics`)).text, claimed);
      const pending = request(`${first.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
      await eventually(
        async () =>
          metric((await request(`${first.url}/metrics`)).text, claimed) > before ? true : undefined,
        "the claim",
      );
      const duplicate = await request(`${second.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
      expect(duplicate.status).toBe(409);
      expect(duplicate.body["error_code"]).toBe("CPHGW.4091");
      expect((await pending).status).toBe(200);
      const replay = await request(`${second.url}${EXPORT_PATH}`, exportInit(KEYS.teamA, infos, key));
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
    } finally {
      await setFaults(emulator, {});
    }
  });

  it("counts one rate window for a caller across both gateways", async () => {
    const path = `/v1/${PROJECT}/cloud-phone/jobs?request_id=rate-test`;
    const statuses: number[] = [];
    for (const gateway of [first, second, first, second, first, second]) {
      statuses.push((await request(`${gateway.url}${path}`, { headers: bearer(KEYS.limited) })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  describe("the Redis store itself", () => {
    stateStoreContract(() => {
      const store = createRedisStateStore({ url: handle.url, keyPrefix: handle.keyPrefix });
      stores.push(store);
      return store;
    });
  });
});
