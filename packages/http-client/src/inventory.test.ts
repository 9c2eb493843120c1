import { CphError, CphValidationError, type Phone, type StorageInfo } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { RESULT_CODES } from "./batch-result.js";
import { SkippedPhone } from "./skipped-phone.js";
import {
  acceptAll,
  BATCH_PATH,
  collect,
  cphError,
  mockClient,
  mockCph,
  PROJECT_ID,
  type Reply,
  type SeenRequest,
  storageInfo,
} from "./test-support/mock-cph.js";

const PHONES_PATH = `/v1/${PROJECT_ID}/cloud-phone/phones`;
const SERVERS_PATH = `/v1/${PROJECT_ID}/cloud-phone/servers`;

function fleet(count: number, status = (index: number) => (index % 10 === 9 ? 8 : 2)): Phone[] {
  return Array.from({ length: count }, (_, index) => ({
    phone_id: index.toString(16).padStart(32, "0"),
    phone_name: `phone-${String(index).padStart(4, "0")}`,
    server_id: `server-${index % 2}`,
    status: status(index),
  }));
}

/** A ListCloudPhones that pages `phones` by offset and limit, filtered as CPH filters. */
function pagedPhones(phones: readonly Phone[]) {
  return (request: SeenRequest): Reply => {
    const q = request.query;
    const offset = Number(q.get("offset"));
    const limit = Number(q.get("limit"));
    const selected = phones.filter(
      (phone) =>
        (!q.has("server_id") || phone.server_id === q.get("server_id")) &&
        (!q.has("status") || phone.status === Number(q.get("status"))) &&
        (!q.has("phone_name") || phone.phone_name?.includes(q.get("phone_name")!)),
    );
    return { status: 200, body: { request_id: "rq", phones: selected.slice(offset, offset + limit) } };
  };
}

const listCalls = (requests: SeenRequest[], path = PHONES_PATH) =>
  requests.filter((request) => request.method === "GET" && request.path === path);

describe("listPhones", () => {
  it("walks 250 phones in pages of 100: 3 calls, each phone once, in order", async () => {
    const phones = fleet(250);
    const { agent, requests } = mockCph(pagedPhones(phones));
    const client = mockClient(agent);
    const listed = await collect(client.listPhones());
    expect(listed.map((phone) => phone.phone_id)).toEqual(phones.map((phone) => phone.phone_id));
    expect(listCalls(requests).map((request) => request.query.get("offset"))).toEqual(["0", "100", "200"]);
    expect(listCalls(requests).every((request) => request.query.get("limit") === "100")).toBe(true);
  });

  test.prop([fc.integer({ min: 0, max: 450 }), fc.integer({ min: 1, max: 100 })], { numRuns: 25 })(
    "any fleet and page size: every phone exactly once, calls = floor(n / size) + 1",
    async (count, pageSize) => {
      const phones = fleet(count);
      const { agent, requests } = mockCph(pagedPhones(phones));
      const listed = await collect(mockClient(agent).listPhones({ pageSize }));
      expect(listed.map((phone) => phone.phone_id)).toEqual(phones.map((phone) => phone.phone_id));
      expect(listCalls(requests)).toHaveLength(Math.floor(count / pageSize) + 1);
    },
  );

  it("sends the filters as CPH's query parameters, encoded", async () => {
    const { agent, requests } = mockCph(pagedPhones(fleet(30)));
    const listed = await collect(
      mockClient(agent).listPhones({ serverId: "server-1", status: 2, phoneName: "phone-00" }),
    );
    const query = listCalls(requests)[0]!.query;
    expect(query.get("server_id")).toBe("server-1");
    expect(query.get("status")).toBe("2");
    expect(query.get("phone_name")).toBe("phone-00");
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((phone) => phone.server_id === "server-1" && phone.status === 2)).toBe(true);
  });

  it("retries a page that failed with a 503 and lists each phone once", async () => {
    const phones = fleet(150);
    const serve = pagedPhones(phones);
    let failed = false;
    const { agent, requests } = mockCph((request) => {
      if (request.query.get("offset") === "100" && !failed) {
        failed = true;
        return cphError(503, "CPS.0003", "busy");
      }
      return serve(request);
    });
    const listed = await collect(mockClient(agent).listPhones());
    expect(new Set(listed.map((phone) => phone.phone_id)).size).toBe(150);
    expect(listed).toHaveLength(150);
    expect(listCalls(requests).map((request) => request.query.get("offset"))).toEqual(["0", "100", "100"]);
  });

  it("does not list a phone twice when the pages shift under the walk", async () => {
    const phones = fleet(200);
    const { agent } = mockCph((request) => {
      // A phone was created at the front after the first page: the second page starts one earlier.
      const offset = Number(request.query.get("offset"));
      const start = offset === 0 ? 0 : offset - 1;
      return { status: 200, body: { phones: phones.slice(start, start + 100) } };
    });
    const listed = await collect(mockClient(agent).listPhones());
    expect(listed.map((phone) => phone.phone_id)).toEqual(phones.map((phone) => phone.phone_id));
  });

  it("stops with an error when the service ignores offset and repeats a full page", async () => {
    const phones = fleet(100);
    const { agent, requests } = mockCph(() => ({ status: 200, body: { phones } }));
    const listed: Phone[] = [];
    const walk = (async () => {
      for await (const phone of mockClient(agent).listPhones()) listed.push(phone);
    })();
    const error = await walk.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CphError);
    expect((error as CphError).message).toMatch(/does not page by offset/);
    expect(listed).toHaveLength(100);
    expect(listCalls(requests)).toHaveLength(2);
  });

  it("refuses a bad page size or filter before sending anything", async () => {
    const { agent, requests } = mockCph(pagedPhones(fleet(5)));
    const client = mockClient(agent);
    for (const filter of [
      { pageSize: 0 },
      { pageSize: 101 },
      { pageSize: 2.5 },
      { phoneName: "" },
      { status: 1.5 },
    ]) {
      const error = await collect(client.listPhones(filter)).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, JSON.stringify(filter)).toBeInstanceOf(CphValidationError);
    }
    expect(requests).toHaveLength(0);
  });

  it("fetches nothing until iterated, and only the pages read when the loop breaks", async () => {
    const { agent, requests } = mockCph(pagedPhones(fleet(1_000)));
    const iterable = mockClient(agent).listPhones({ pageSize: 10 });
    expect(requests).toHaveLength(0);
    let seen = 0;
    for await (const _ of iterable) if (++seen === 15) break;
    expect(listCalls(requests)).toHaveLength(2);
  });
});

describe("listServers", () => {
  it("pages the servers with their filters", async () => {
    const servers = Array.from({ length: 120 }, (_, index) => ({
      server_id: `server-${index}`,
      server_name: `srv-${index}`,
      status: 5,
    }));
    const { agent, requests } = mockCph((request) => {
      const offset = Number(request.query.get("offset"));
      const limit = Number(request.query.get("limit"));
      return { status: 200, body: { servers: servers.slice(offset, offset + limit) } };
    });
    const listed = await collect(mockClient(agent).listServers({ serverName: "srv" }));
    expect(listed.map((server) => server.server_id)).toEqual(servers.map((server) => server.server_id));
    const calls = listCalls(requests, SERVERS_PATH);
    expect(calls.map((request) => request.query.get("offset"))).toEqual(["0", "100"]);
    expect(calls[0]!.query.get("server_name")).toBe("srv");
  });
});

describe("a listing as the source of exportMany", () => {
  it("exports the running phones and reports the others as not exportable, never sent", async () => {
    const phones = fleet(40);
    const listing = pagedPhones(phones);
    const { agent, requests } = mockCph((request) =>
      request.path === BATCH_PATH ? acceptAll(request) : listing(request),
    );
    const client = mockClient(agent);
    async function* selection(): AsyncGenerator<StorageInfo | SkippedPhone> {
      for await (const phone of client.listPhones()) {
        const info = { ...storageInfo(phone.phone_id!), bucket_name: "backups" };
        if (phone.status === 2) yield info;
        else
          yield new SkippedPhone({
            phoneId: info.phone_id,
            errorCode: RESULT_CODES.notExportable,
            errorMessage: `phone is off (status ${phone.status})`,
            bucketName: info.bucket_name,
            objectPath: info.object_path,
          });
      }
    }
    const results = await collect(client.exportMany(selection()));
    const running = phones.filter((phone) => phone.status === 2).map((phone) => phone.phone_id);
    const off = phones.filter((phone) => phone.status !== 2).map((phone) => phone.phone_id);
    expect(results).toHaveLength(40);
    expect(
      results
        .filter((result) => result.state === "accepted")
        .map((result) => result.phoneId)
        .sort(),
    ).toEqual([...running].sort());
    const skipped = results.filter((result) => result.state === "rejected");
    expect(skipped.map((result) => result.phoneId).sort()).toEqual([...off].sort());
    expect(skipped.every((result) => result.errorCode === "not_exportable")).toBe(true);
    expect(skipped[0]!.bucketName).toBe("backups");
    const sent = requests
      .filter((request) => request.path === BATCH_PATH)
      .flatMap((request) => (JSON.parse(request.text) as { storage_infos: StorageInfo[] }).storage_infos)
      .map((info) => info.phone_id);
    expect(sent.sort()).toEqual([...running].sort());
  });

  it("reports a skipped phone that appears twice as a duplicate", async () => {
    const { agent, requests } = mockCph(() => cphError(500, "X", "not used"));
    const skip = () =>
      new SkippedPhone({
        phoneId: "a".repeat(32),
        errorCode: RESULT_CODES.notExportable,
        errorMessage: "off",
      });
    const results = await collect(mockClient(agent).exportMany([skip(), skip()]));
    expect(results.map((result) => result.errorCode)).toEqual(["not_exportable", "duplicate_phone"]);
    expect(requests).toHaveLength(0);
  });
});
