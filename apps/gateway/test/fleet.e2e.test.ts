// Fleet listing through the real gateway bin in front of the real emulator bin: paging, a bad query,
// and a caller confined to servers (listing and export).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "../src/auth.js";
import {
  bearer,
  cleanUp,
  EXPORT_PATH,
  gatewayConfig,
  KEYS,
  leakedSecrets,
  PROJECT,
  request,
  type Spawned,
  startEmulator,
  startGateway,
} from "./support.js";

const PHONES = `/v1/${PROJECT}/cloud-phone/phones`;
const SERVERS = `/v1/${PROJECT}/cloud-phone/servers`;
const CONFINED_KEY = "e2e-confined-api-key-3d1f77b0-secret";

interface Listed {
  phone_id: string;
  server_id: string;
  status: number;
}

let emulator: Spawned;
let gateway: Spawned;
/** The emulator's server ids in its listing order; the confined caller has [2] and [0]. */
let servers: string[] = [];

beforeAll(async () => {
  // 3 servers x 84 phones = 252 phones.
  emulator = await startEmulator({ inventory: { servers: 3, phonesPerServer: 84, seed: 7 } });
  const base = gatewayConfig(emulator.url);
  servers = await listServers(emulator.url);
  gateway = await startGateway({
    ...base,
    callers: [
      ...base.callers,
      {
        name: "confined",
        apiKeySha256: hashApiKey(CONFINED_KEY),
        projects: [PROJECT],
        buckets: ["team-a-*"],
        objectPathPrefixes: ["team-a/"],
        servers: [servers[2] as string, servers[0] as string],
        requestsPerMinute: 10_000,
      },
    ],
  });
});

afterAll(async () => {
  await cleanUp();
  expect(leakedSecrets()).toEqual([]);
});

/** The emulator's server ids, read through a gateway that is not yet confined (a direct token would do too). */
async function listServers(emulatorUrl: string): Promise<string[]> {
  const open = await startGateway(gatewayConfig(emulatorUrl));
  const answer = await request(`${open.url}${SERVERS}`, { headers: bearer(KEYS.teamA) });
  await open.stop();
  expect(answer.status).toBe(200);
  return (answer.body["servers"] as Array<{ server_id: string }>).map((server) => server.server_id);
}

async function listCalls(): Promise<number> {
  const stats = (await request(`${emulator.url}/__emulator/stats`)).body as { listPhones: number };
  return stats.listPhones;
}

async function walk(key: string, limit: number): Promise<{ phones: Listed[]; pages: number }> {
  const phones: Listed[] = [];
  for (let offset = 0, pages = 1; ; offset += limit, pages++) {
    const answer = await request(`${gateway.url}${PHONES}?offset=${offset}&limit=${limit}`, {
      headers: bearer(key),
    });
    expect(answer.status, answer.text).toBe(200);
    const page = answer.body["phones"] as Listed[];
    phones.push(...page);
    if (page.length < limit) return { phones, pages };
  }
}

describe("the fleet through the gateway", () => {
  it("pages 252 phones at limit 100 in 3 calls, each phone once", async () => {
    const before = await listCalls();
    const { phones, pages } = await walk(KEYS.teamA, 100);
    expect(pages).toBe(3);
    expect(phones).toHaveLength(252);
    expect(new Set(phones.map((phone) => phone.phone_id)).size).toBe(252);
    expect((await listCalls()) - before).toBe(3);
  });

  it("refuses limit 101 with 400 naming limit, without calling the emulator", async () => {
    const before = await listCalls();
    const answer = await request(`${gateway.url}${PHONES}?limit=101`, { headers: bearer(KEYS.teamA) });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error_code: "CPHGW.4006", details: [{ path: "limit" }] });
    expect(await listCalls()).toBe(before);
  });

  it("shows a confined caller only its servers' phones and refuses exporting any other", async () => {
    const all = (await walk(KEYS.teamA, 100)).phones;
    const allowed = new Set([servers[2], servers[0]]);
    const { phones } = await walk(CONFINED_KEY, 50);
    expect(phones.map((phone) => phone.phone_id).sort()).toEqual(
      all
        .filter((phone) => allowed.has(phone.server_id))
        .map((phone) => phone.phone_id)
        .sort(),
    );
    const serverList = await request(`${gateway.url}${SERVERS}`, { headers: bearer(CONFINED_KEY) });
    expect(
      (serverList.body["servers"] as Array<{ server_id: string }>).map((server) => server.server_id),
    ).toEqual([servers[2], servers[0]]);

    const mine = phones.find((phone) => phone.status === 2) as Listed;
    const other = all.find((phone) => !allowed.has(phone.server_id)) as Listed;
    const info = (phoneId: string) => ({
      phone_id: phoneId,
      include_files: ["/data/media"],
      bucket_name: "team-a-backups",
      object_path: `team-a/${phoneId}.tar`,
    });
    const refused = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(CONFINED_KEY),
      body: JSON.stringify({ storage_infos: [info(mine.phone_id), info(other.phone_id)] }),
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error_code: "CPHGW.4035",
      details: [{ path: "storage_infos[1].phone_id", code: "phone_not_allowed" }],
    });
    const ledger = (await request(`${emulator.url}/__emulator/ledger`)).body as unknown;
    const ledgerText = JSON.stringify(ledger);
    expect(ledgerText).not.toContain(other.phone_id);

    const accepted = await request(`${gateway.url}${EXPORT_PATH}`, {
      method: "POST",
      headers: bearer(CONFINED_KEY),
      body: JSON.stringify({ storage_infos: [info(mine.phone_id)] }),
    });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body["jobs"]).toEqual([expect.objectContaining({ phone_id: mine.phone_id })]);
  });
});
