import {
  parseBatchExportResponse,
  parseListCloudPhoneServersResponse,
  parseListCloudPhonesResponse,
  signRequest,
  type HttpResponseData,
  buildListCloudPhonesRequest,
} from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { afterEach, describe, expect, it } from "vitest";
import type { EmulatorApp } from "./app.js";
import { DEMO_CREDENTIALS, EmulatorConfigError, type EmulatorConfig, parseEmulatorConfig } from "./config.js";
import { Inventory, type InventoryPhone, type InventoryServer, statusCounts } from "./inventory.js";
import {
  BASE,
  createHarness,
  demoToken,
  exportWithToken,
  PROJECT,
  storageInfo,
} from "./test-support/fixtures.js";

const harness = createHarness();
afterEach(() => harness.cleanup());

const PHONES_PATH = `/v1/${PROJECT}/cloud-phone/phones`;
const SERVERS_PATH = `/v1/${PROJECT}/cloud-phone/servers`;

async function start(config: EmulatorConfig = {}): Promise<{ app: EmulatorApp; token: string }> {
  const app = await harness.app({ config });
  return { app, token: await demoToken(app) };
}

async function get(
  app: EmulatorApp,
  token: string,
  path: string,
  query: Record<string, string | number> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const search = new URLSearchParams(
    Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
  );
  const response = await app.request(`${BASE}${path}${search.size ? `?${search}` : ""}`, {
    headers: { "X-Auth-Token": token },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function phones(app: EmulatorApp, token: string, query: Record<string, string | number> = {}) {
  const answer = await get(app, token, PHONES_PATH, query);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body["phones"] as InventoryPhone[];
}

/** A fetch answer as core's parsers take it. */
async function data(response: Response): Promise<HttpResponseData> {
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    bodyText: await response.text(),
  };
}

async function stats(app: EmulatorApp): Promise<Record<string, number>> {
  return (await (await app.request("/__emulator/stats")).json()) as Record<string, number>;
}

function problemsOf(input: unknown): readonly string[] {
  try {
    parseEmulatorConfig(input, "test.json");
  } catch (error) {
    if (error instanceof EmulatorConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected an EmulatorConfigError");
}

describe("the inventory", () => {
  it("defaults to 40 phones on 2 servers: 34 running, 3 off, 2 frozen, 1 abnormal, the same each time", () => {
    const inventory = new Inventory();
    expect(inventory.servers.map((server) => server.server_name)).toEqual(["server-01", "server-02"]);
    expect(inventory.phones).toHaveLength(40);
    expect(inventory.phones[0]?.phone_name).toBe("phone-0001");
    expect(inventory.phones[39]?.phone_name).toBe("phone-0040");
    const byStatus = new Map<number, number>();
    for (const phone of inventory.phones) byStatus.set(phone.status, (byStatus.get(phone.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 2: 34, 8: 3, 6: 2, [-7]: 1 });
    for (const [index, phone] of inventory.phones.entries()) {
      expect(phone.phone_id).toMatch(/^[0-9a-f]{32}$/);
      expect(phone.server_id).toBe(inventory.servers[index < 20 ? 0 : 1]?.server_id);
      expect(phone.image_id).toMatch(/^[0-9a-f]{32}$/);
      expect(["true", "false"]).toContain(phone.vnc_enable);
      expect(phone.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(phone.update_time >= phone.create_time).toBe(true);
    }
    expect(new Set(inventory.phones.map((phone) => phone.phone_id)).size).toBe(40);
    expect(new Inventory().phones).toEqual(inventory.phones);
    expect(new Inventory({ seed: 2 }).phones[0]?.phone_id).not.toBe(inventory.phones[0]?.phone_id);
  });

  test.prop([fc.dictionary(fc.integer({ min: -9, max: 8 }).map(String), fc.nat(50)), fc.nat(500)])(
    "status counts add up to the phone count, each within one of its exact share",
    (weights, total) => {
      const sum = Object.values(weights).reduce((acc, weight) => acc + weight, 0);
      const counts = statusCounts(weights, total);
      if (sum === 0 || total === 0) {
        expect(counts.size).toBe(0);
        return;
      }
      expect([...counts.values()].reduce((acc, count) => acc + count, 0)).toBe(total);
      for (const [code, weight] of Object.entries(weights)) {
        const exact = (weight * total) / sum;
        expect(Math.abs((counts.get(Number(code)) ?? 0) - exact)).toBeLessThan(1);
      }
    },
  );

  it("builds large inventories from config, explicit phones after the generated ones", () => {
    const inventory = new Inventory({
      servers: 10,
      phonesPerServer: 1000,
      statuses: { running: 9, "8": 1 },
      phones: [{ name: "trial-phone", server: "server-03", status: "frozen", type: 1 }],
    });
    expect(inventory.phones).toHaveLength(10_001);
    expect(inventory.phones[0]?.phone_name).toBe("phone-00001");
    expect(inventory.phones.filter((phone) => phone.status === 8)).toHaveLength(1000);
    expect(inventory.phones.at(-1)).toMatchObject({
      phone_name: "trial-phone",
      server_id: inventory.servers[2]?.server_id,
      status: 6,
      type: 1,
    });
    expect(inventory.servers[9]?.server_name).toBe("server-10");
  });

  it("refuses a bad inventory config naming each field", () => {
    expect(
      problemsOf({
        inventory: {
          servers: -1,
          phonesPerServer: 1.5,
          statuses: { running: -1 },
          phones: [{ id: "ABC", name: "" }],
          colour: 1,
        },
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^inventory\.servers: /),
        expect.stringMatching(/^inventory\.phonesPerServer: /),
        expect.stringMatching(/^inventory\.statuses\.running: /),
        expect.stringMatching(/^inventory\.phones\[0\]\.id: must be 32 lowercase hex/),
        expect.stringMatching(/^inventory\.phones\[0\]\.name: /),
        expect.stringMatching(/^inventory: .*colour/),
      ]),
    );
    expect(
      problemsOf({
        inventory: {
          statuses: { sleeping: 1 },
          phones: [
            { name: "a", server: "server-09", status: "asleep" },
            { name: "a", id: "0".repeat(32) },
            { name: "b", id: "0".repeat(32) },
          ],
        },
      }),
    ).toEqual([
      expect.stringMatching(/^inventory\.statuses\.sleeping: "sleeping" is not a phone status/),
      expect.stringMatching(/^inventory\.phones\[0\]\.server: no server named .*"server-09".*server-02/),
      expect.stringMatching(/^inventory\.phones\[0\]\.status: "asleep" is not a phone status/),
      "inventory.phones[1].name: name a is used twice",
      `inventory.phones[2].id: phone ${"0".repeat(32)} is listed twice`,
    ]);
    expect(problemsOf({ inventory: { statuses: { off: 0 } } })).toEqual([
      "inventory.statuses: the weights add up to 0; give at least one weight above 0",
    ]);
    expect(problemsOf({ inventory: { servers: 0, phonesPerServer: 3 } })).toEqual([
      "inventory.servers: 0 servers cannot hold phonesPerServer phones",
    ]);
    expect(problemsOf({ inventory: { servers: 1000, phonesPerServer: 101 } })).toEqual([
      "inventory: 101000 phones; at most 100000 are allowed",
    ]);
    expect(() => parseEmulatorConfig({ inventory: { servers: 0, phonesPerServer: 0 } })).not.toThrow();
  });
});

describe("ListCloudPhones and ListCloudPhoneServers", () => {
  it("pages 250 phones by offset and limit: 100, 100, 50, then empty; 3 calls counted", async () => {
    const { app, token } = await start({ inventory: { servers: 1, phonesPerServer: 250 } });
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await phones(app, token, { offset, limit: 100 });
      sizes.push(page.length);
      seen.push(...page.map((phone) => phone.phone_name));
      if (page.length < 100) break;
    }
    expect(sizes).toEqual([100, 100, 50]);
    expect(seen).toEqual(
      Array.from({ length: 250 }, (_, index) => `phone-${String(index + 1).padStart(4, "0")}`),
    );
    expect(await stats(app)).toMatchObject({ listPhones: 3, listServers: 0 });
    expect(await phones(app, token, { offset: 250 })).toEqual([]);
    expect(await phones(app, token, { offset: 100_000 })).toEqual([]);
    expect(await phones(app, token)).toHaveLength(100);
    expect((await phones(app, token, { offset: 245, limit: 3 })).map((phone) => phone.phone_name)).toEqual([
      "phone-0246",
      "phone-0247",
      "phone-0248",
    ]);
  });

  it("answers the real shapes, readable by core's schemas, with the request id of the answer", async () => {
    const { app, token } = await start();
    const response = await app.request(`${BASE}${PHONES_PATH}?limit=5`, {
      headers: { "X-Auth-Token": token },
    });
    const raw = await data(response);
    const body = JSON.parse(raw.bodyText);
    expect(body.request_id).toBe(response.headers.get("x-request-id"));
    const parsed = parseListCloudPhonesResponse(raw);
    expect(parsed.phones).toHaveLength(5);
    expect(Object.keys(body.phones[0]).sort()).toEqual(
      [
        "phone_name",
        "server_id",
        "phone_id",
        "phone_model_name",
        "image_id",
        "vnc_enable",
        "status",
        "type",
        "metadata",
        "create_time",
        "update_time",
      ].sort(),
    );
    const servers = await app.request(`${BASE}${SERVERS_PATH}`, { headers: { "X-Auth-Token": token } });
    const parsedServers = parseListCloudPhoneServersResponse(await data(servers));
    expect(parsedServers.servers?.map((server) => server.server_name)).toEqual(["server-01", "server-02"]);
    expect(await stats(app)).toMatchObject({ listPhones: 1, listServers: 1 });
  });

  it("filters by name (substring, any case), server, status and type, combined with AND", async () => {
    const { app, token } = await start({
      inventory: {
        servers: 3,
        phonesPerServer: 10,
        statuses: { running: 1 },
        phones: [
          { name: "Trial-Alpha", server: "server-02", status: "off", type: 1 },
          { name: "trial-beta", server: "server-02", status: 2, type: 1 },
        ],
      },
    });
    const servers = (await get(app, token, SERVERS_PATH)).body["servers"] as InventoryServer[];
    const second = servers[1]!.server_id;
    const names = async (query: Record<string, string | number>) =>
      (await phones(app, token, query)).map((phone) => phone.phone_name);
    expect(await names({ phone_name: "TRIAL" })).toEqual(["Trial-Alpha", "trial-beta"]);
    expect(await names({ phone_name: "phone-001" })).toEqual([
      "phone-0010",
      "phone-0011",
      "phone-0012",
      "phone-0013",
      "phone-0014",
      "phone-0015",
      "phone-0016",
      "phone-0017",
      "phone-0018",
      "phone-0019",
    ]);
    expect(await names({ server_id: second })).toHaveLength(12);
    expect(
      (await phones(app, token, { server_id: second })).every((phone) => phone.server_id === second),
    ).toBe(true);
    expect(await names({ status: 8 })).toEqual(["Trial-Alpha"]);
    expect(await names({ type: 1 })).toEqual(["Trial-Alpha", "trial-beta"]);
    expect(await names({ type: 1, status: 2 })).toEqual(["trial-beta"]);
    expect(await names({ server_id: second, phone_name: "0011" })).toEqual(["phone-0011"]);
    expect(await names({ server_id: servers[0]!.server_id, phone_name: "trial" })).toEqual([]);
    expect(await names({ server_id: "no-such-server" })).toEqual([]);
    expect(await names({ phone_name: "" })).toHaveLength(32);
    expect(await names({ type: 1, limit: 1, offset: 1 })).toEqual(["trial-beta"]);

    const byName = await get(app, token, SERVERS_PATH, { server_name: "ER-03" });
    expect((byName.body["servers"] as InventoryServer[]).map((server) => server.server_name)).toEqual([
      "server-03",
    ]);
    const byId = await get(app, token, SERVERS_PATH, { server_id: second, limit: 1 });
    expect((byId.body["servers"] as InventoryServer[]).map((server) => server.server_id)).toEqual([second]);
    expect((await get(app, token, SERVERS_PATH, { offset: 3 })).body["servers"]).toEqual([]);
  });

  it.each([
    [{ limit: 0 }, "CPS.0002", /limit must be a whole number from 1 to 100/],
    [{ limit: 101 }, "CPS.0002", /limit/],
    [{ limit: "ten" }, "CPS.0002", /limit/],
    [{ offset: -1 }, "CPS.0002", /offset must be a whole number of 0 or more/],
    [{ offset: "1.5" }, "CPS.0002", /offset/],
    [{ status: "running" }, "CPH.INVALID_PARAMETER", /status must be a whole number/],
    [{ type: "x" }, "CPH.INVALID_PARAMETER", /type must be a whole number/],
  ])("refuses the query %j with a 400 %s", async (query, code, message) => {
    const { app, token } = await start();
    const answer = await get(app, token, PHONES_PATH, query);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error_code: code, error_msg: expect.stringMatching(message) });
    if (!("status" in query) && !("type" in query)) {
      const servers = await get(app, token, SERVERS_PATH, query);
      expect(servers.status).toBe(400);
      expect(servers.body["error_code"]).toBe(code);
    }
  });

  it("needs the same credentials as the other CPH routes and accepts a signed request", async () => {
    const { app } = await start();
    const anonymous = await app.request(`${BASE}${PHONES_PATH}`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error_code: "APIGW.0301" });
    const signed = await signRequest(
      buildListCloudPhonesRequest({ endpoint: BASE, projectId: PROJECT, limit: 2, status: 2 }),
      { accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey, projectId: PROJECT },
    );
    const response = await app.request(signed.url, { headers: signed.headers });
    expect(response.status).toBe(200);
    const body = parseListCloudPhonesResponse(await data(response));
    expect(body.phones?.map((phone) => phone.status)).toEqual([2, 2]);
    const other = await get(
      app,
      await demoToken(app),
      "/v1/fedcba9876543210fedcba9876543210/cloud-phone/phones",
    );
    expect(other.status).toBe(403);
  });

  it("throttles and fails list calls under the faults", async () => {
    const { app, token } = await start({ faults: { throttleRps: 2 } });
    expect((await get(app, token, PHONES_PATH)).status).toBe(200);
    expect((await get(app, token, PHONES_PATH)).status).toBe(200);
    const throttled = await get(app, token, PHONES_PATH);
    expect(throttled.status).toBe(429);
    expect(throttled.body["error_code"]).toBe("APIGW.0308");
    // Servers are throttled apart.
    expect((await get(app, token, SERVERS_PATH)).status).toBe(200);
    await app.request("/__emulator/faults", { method: "POST", body: JSON.stringify({ listErrorRate: 1 }) });
    const failed = await get(app, token, SERVERS_PATH);
    expect(failed.status).toBe(503);
    expect(failed.body["error_code"]).toBe("APIGW.0201");
    expect(await stats(app)).toMatchObject({ listPhones: 3, listServers: 2, throttled: 1, errors: 1 });
  });
});

describe("exporting inventory phones", () => {
  it("refuses a phone that is not running inside the 200, accepts a running one and an unknown id", async () => {
    const { app, token } = await start();
    const all = await phones(app, token);
    const off = all.find((phone) => phone.status === 8)!;
    const frozen = all.find((phone) => phone.status === 6)!;
    const running = all.find((phone) => phone.status === 2)!;
    const unknown = "f".repeat(32);
    const response = await exportWithToken(
      app,
      token,
      [off, running, frozen].map((phone) => storageInfo(phone.phone_id)).concat(storageInfo(unknown)),
    );
    expect(response.status).toBe(200);
    const jobs = parseBatchExportResponse(await data(response)).jobs ?? [];
    expect(jobs[0]).toEqual({
      phone_id: off.phone_id,
      error_code: "CPS.0015",
      error_msg: `The cloud phone ${off.phone_id} is not running (status 8, off); only a running cloud phone can export data.`,
    });
    expect(jobs[1]).toMatchObject({
      phone_id: running.phone_id,
      job_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(jobs[2]).toMatchObject({ phone_id: frozen.phone_id, error_code: "CPS.0015" });
    expect(jobs[2]?.error_msg).toMatch(/status 6, frozen/);
    expect(jobs[3]).toMatchObject({ phone_id: unknown, job_id: expect.any(String) });
    const ledger = (await (await app.request("/__emulator/ledger")).json()) as {
      entries: { phone_id: string }[];
    };
    expect(ledger.entries.map((entry) => entry.phone_id)).toEqual([running.phone_id, unknown]);
    const job = await app.request(`${BASE}/v1/${PROJECT}/cloud-phone/jobs/${jobs[1]?.job_id}`, {
      headers: { "X-Auth-Token": token },
    });
    expect(await job.json()).toMatchObject({ server_id: running.server_id });
  });

  it("with inventory.strict, refuses a phone that is not in the inventory as not found", async () => {
    const { app, token } = await start({ inventory: { strict: true } });
    const [first] = await phones(app, token, { status: 2, limit: 1 });
    const response = await exportWithToken(app, token, [
      storageInfo("f".repeat(32)),
      storageInfo(first!.phone_id),
    ]);
    const jobs = parseBatchExportResponse(await data(response)).jobs ?? [];
    expect(jobs[0]).toMatchObject({ error_code: "CPS.0005" });
    expect(jobs[1]).toMatchObject({ job_id: expect.any(String) });
  });
});
