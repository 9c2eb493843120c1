import type { Phone } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseGatewayConfig } from "./config.js";
import { listPhonesWithin, type PhonesQuery, ServerPhoneIndex } from "./fleet.js";
import {
  configInput,
  exportBody,
  fleet,
  PROJECT,
  storageInfo,
  TEAM_B_SK,
  TEAM_B_SK_ENV,
  testApp,
  testConfig,
} from "./test-support/fixtures.js";

const PHONES = `/v1/${PROJECT}/cloud-phone/phones`;
const SERVERS = `/v1/${PROJECT}/cloud-phone/servers`;
const EXPORT = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;

/** The test config with team-a confined to `servers`. */
function confined(servers: string[], overrides: { policyCacheMs?: number } = {}) {
  const input = configInput(overrides);
  const callers = input.callers.map((caller) => (caller.name === "team-a" ? { ...caller, servers } : caller));
  return testConfig({ callers, ...overrides });
}

type Harness = ReturnType<typeof testApp>;

async function getJson(harness: Harness, path: string) {
  const response = await harness.app.request(path, { headers: harness.bearer() });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Walks the gateway's phone listing as the client does: offset until a short page. */
async function walk(harness: Harness, limit: number, filter = ""): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  for (let offset = 0, pages = 1; ; offset += limit, pages++) {
    const { status, body } = await getJson(harness, `${PHONES}?offset=${offset}&limit=${limit}${filter}`);
    expect(status).toBe(200);
    const phones = body["phones"] as Phone[];
    ids.push(...phones.map((phone) => phone.phone_id as string));
    if (phones.length < limit) return { ids, pages };
  }
}

describe("ListCloudPhones through the gateway", () => {
  it("forwards an unconfined caller's pages: 250 phones at limit 100 are 3 calls", async () => {
    const harness = testApp();
    harness.upstream.fleet = fleet(250, 3);
    const { ids, pages } = await walk(harness, 100);
    expect(pages).toBe(3);
    expect(harness.upstream.count("listPhones")).toBe(3);
    expect(ids).toEqual(fleet(250, 3).map((phone) => phone.phone_id));
    const first = harness.upstream.calls.find((call) => call.operation === "listPhones");
    expect(first?.argument).toEqual({ offset: "0", limit: "100" });
  });

  it("passes the filters on, a status word as its number", async () => {
    const harness = testApp();
    harness.upstream.fleet = fleet(50, 2);
    const { body } = await getJson(harness, `${PHONES}?server_id=srv-1&status=off&phone_name=phone-1`);
    const phones = body["phones"] as Phone[];
    expect(phones.map((phone) => phone.phone_id)).toEqual(["phone0019"]);
    expect(harness.upstream.calls.at(-1)?.argument).toEqual({
      offset: "0",
      limit: "100",
      phone_name: "phone-1",
      server_id: "srv-1",
      status: "8",
    });
  });

  it("refuses a bad query with 400 CPHGW.4006 naming each parameter, and sends nothing", async () => {
    const harness = testApp();
    for (const [query, paths] of [
      ["limit=101", ["limit"]],
      ["limit=0", ["limit"]],
      ["limit=ten", ["limit"]],
      ["offset=-1&limit=500", ["offset", "limit"]],
      ["status=sleeping", ["status"]],
      ["status=creating", ["status"]],
      ["type=x&server_id=", ["server_id", "type"]],
    ] as const) {
      const { status, body } = await getJson(harness, `${PHONES}?${query}`);
      expect(status, query).toBe(400);
      expect(body["error_code"]).toBe("CPHGW.4006");
      const details = body["details"] as Array<{ path: string; message: string }>;
      expect(details.map((detail) => detail.path).sort(), query).toEqual([...paths].sort());
      expect(body["error_msg"]).toContain(details[0]?.path);
    }
    expect(harness.upstream.calls).toEqual([]);
  });

  it("shows a confined caller only the phones of its servers, each once, over any page size", async () => {
    const harness = testApp({ config: confined(["srv-2", "srv-0"]) });
    harness.upstream.fleet = fleet(300, 3);
    const expected = [
      ...fleet(300, 3).filter((phone) => phone.server_id === "srv-2"),
      ...fleet(300, 3).filter((phone) => phone.server_id === "srv-0"),
    ].map((phone) => phone.phone_id);
    for (const limit of [100, 30, 7]) {
      const { ids } = await walk(harness, limit);
      expect(ids).toEqual(expected);
    }
    const asked = new Set(
      harness.upstream.calls
        .filter((call) => call.operation === "listPhones")
        .map((call) => (call.argument as Record<string, string>)["server_id"]),
    );
    expect([...asked].sort()).toEqual(["srv-0", "srv-2"]);
  });

  it("answers an empty page for a server outside the policy, without asking upstream", async () => {
    const harness = testApp({ config: confined(["srv-0"]) });
    harness.upstream.fleet = fleet(20, 2);
    const outside = await getJson(harness, `${PHONES}?server_id=srv-1`);
    expect(outside).toMatchObject({ status: 200, body: { phones: [] } });
    expect(harness.upstream.count("listPhones")).toBe(0);
    const inside = await getJson(harness, `${PHONES}?server_id=srv-0&status=running`);
    const phones = inside.body["phones"] as Phone[];
    expect(phones.length).toBe(8);
    expect(phones.every((phone) => phone.server_id === "srv-0" && phone.status === 2)).toBe(true);
  });

  it("passes an upstream error of a confined listing on with its code", async () => {
    const harness = testApp({ config: confined(["srv-0"]) });
    harness.upstream.script.listPhones = async () => ({
      status: 429,
      bodyText: JSON.stringify({ error_code: "APIGW.0308", error_msg: "throttled" }),
    });
    const { status, body } = await getJson(harness, PHONES);
    expect(status).toBe(429);
    expect(body["error_code"]).toBe("APIGW.0308");
  });

  it("allows only GET", async () => {
    const harness = testApp();
    const response = await harness.app.request(PHONES, { method: "POST", headers: harness.bearer() });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });
});

describe("ListCloudPhoneServers through the gateway", () => {
  it("forwards an unconfined caller's query and lists only a confined caller's servers", async () => {
    const open = testApp();
    open.upstream.fleet = fleet(30, 3);
    const all = await getJson(open, `${SERVERS}?limit=2`);
    expect((all.body["servers"] as Array<{ server_id: string }>).map((server) => server.server_id)).toEqual([
      "srv-0",
      "srv-1",
    ]);
    const harness = testApp({ config: confined(["srv-2", "srv-0"]) });
    harness.upstream.fleet = fleet(30, 3);
    const mine = await getJson(harness, SERVERS);
    expect((mine.body["servers"] as Array<{ server_id: string }>).map((server) => server.server_id)).toEqual([
      "srv-2",
      "srv-0",
    ]);
    const paged = await getJson(harness, `${SERVERS}?offset=1&limit=1`);
    expect(paged.body["servers"]).toEqual([{ server_id: "srv-0", server_name: "server srv-0", status: 5 }]);
    expect((await getJson(harness, `${SERVERS}?server_id=srv-1`)).body["servers"]).toEqual([]);
    const bad = await getJson(harness, `${SERVERS}?limit=1000`);
    expect(bad).toMatchObject({
      status: 400,
      body: { error_code: "CPHGW.4006", details: [{ path: "limit" }] },
    });
  });
});

describe("exports of a caller confined to servers", () => {
  it("refuses a request naming a phone of another server, naming it, and sends nothing", async () => {
    const harness = testApp({ config: confined(["srv-0"]) });
    harness.upstream.fleet = fleet(10, 2);
    const response = await harness.app.request(EXPORT, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...harness.bearer() },
      body: exportBody(3),
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as {
      error_code: string;
      details: Array<{ path: string; code: string }>;
    };
    expect(body.error_code).toBe("CPHGW.4035");
    expect(body.details).toEqual([
      expect.objectContaining({ path: "storage_infos[1].phone_id", code: "phone_not_allowed" }),
    ]);
    expect(harness.upstream.count("batchExport")).toBe(0);
  });

  it("forwards phones of its servers and lists each server once while the cache is fresh", async () => {
    let clock = 1_000_000;
    const harness = testApp({ config: confined(["srv-0", "srv-1"]), now: () => clock });
    harness.upstream.fleet = fleet(10, 2);
    const send = (infos: unknown[]) =>
      harness.app.request(EXPORT, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...harness.bearer() },
        body: JSON.stringify({ storage_infos: infos }),
      });
    expect((await send([storageInfo(0), storageInfo(1)])).status).toBe(200);
    expect((await send([storageInfo(2), storageInfo(3)])).status).toBe(200);
    expect(harness.upstream.count("listPhones")).toBe(2);
    expect(harness.upstream.count("batchExport")).toBe(2);
    // A phone created since the servers were read is found once they are a little old.
    harness.upstream.fleet.push({ phone_id: "phone0077", server_id: "srv-1", phone_name: "new", status: 2 });
    clock += 2500;
    expect((await send([storageInfo(77)])).status).toBe(200);
    expect(harness.upstream.count("listPhones")).toBe(4);
  });
});

describe("the servers of a caller's policy", () => {
  const parse = (servers: unknown) => () =>
    parseGatewayConfig(
      {
        ...configInput(),
        callers: configInput().callers.map((caller) =>
          caller.name === "team-a" ? { ...caller, servers } : caller,
        ),
      },
      (name) => (name === TEAM_B_SK_ENV ? TEAM_B_SK : undefined),
    );

  it("refuses an empty list, a repeated id and a malformed id, with the field path", () => {
    expect(parse([])).toThrow(/callers\[0\]\.servers: give at least one server id/);
    expect(parse(["a", "a"])).toThrow(/callers\[0\]\.servers: a server id is listed twice/);
    expect(parse(["bad id"])).toThrow(/callers\[0\]\.servers\[0\]: must be a server id/);
    expect(parse(["srv-1"])).not.toThrow();
  });
});

describe("a listing over several servers", () => {
  const byServer = fc.array(fc.nat({ max: 60 }), { minLength: 0, maxLength: 5 });

  test.prop([byServer, fc.nat({ max: 200 }), fc.integer({ min: 1, max: 100 })])(
    "is the page of the concatenation of the servers' own listings",
    async (sizes, offset, limit) => {
      const servers = sizes.map((_, index) => `srv-${index}`);
      const phones = sizes.flatMap((size, server) =>
        Array.from({ length: size }, (_, index) => ({
          phone_id: `s${server}p${index}`,
          server_id: `srv-${server}`,
        })),
      );
      let calls = 0;
      const fetch = async (query: PhonesQuery): Promise<Phone[]> => {
        calls++;
        expect(query.limit).toBeLessThanOrEqual(100);
        const mine = phones.filter((phone) => phone.server_id === query.serverId);
        return mine.slice(query.offset, query.offset + query.limit);
      };
      const page = await listPhonesWithin(servers, { offset, limit }, fetch);
      expect(page).toEqual(phones.slice(offset, offset + limit));
      // One call per server, plus the counting of servers wholly before the offset.
      expect(calls).toBeLessThanOrEqual(
        servers.length + sizes.reduce((sum, size) => sum + Math.floor(size / 100) + 1, 0),
      );
    },
  );
});

describe("the phone index of the policies' servers", () => {
  it("asks upstream again only once entries are stale, and only for a phone it does not know", async () => {
    let clock = 0;
    const index = new ServerPhoneIndex({ ttlMs: 10_000, refreshAfterMs: 1000, now: () => clock });
    const lists: string[] = [];
    const phones: Record<string, string[]> = { a: ["p1"], b: ["p2"] };
    const fetch = async (server: string) => {
      lists.push(server);
      return phones[server] ?? [];
    };
    expect(await index.outside(["a", "b"], ["p1", "p2"], fetch)).toEqual([]);
    expect(await index.outside(["a"], ["p1", "p2"], fetch)).toEqual([1]);
    expect(lists).toEqual(["a", "b"]);
    clock = 1500;
    phones["a"] = ["p1", "p3"];
    expect(await index.outside(["a"], ["p3"], fetch)).toEqual([]);
    expect(lists).toEqual(["a", "b", "a"]);
    clock = 20_000;
    expect(await index.outside(["b"], ["p2"], fetch)).toEqual([]);
    expect(lists).toEqual(["a", "b", "a", "b"]);
  });
});
