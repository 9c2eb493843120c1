import { fc, test as property } from "@fast-check/vitest";
import { PHONE_STATUS_WORDS, type Phone, phoneStatusWord } from "@cph-export/core";
import type { CphClientOptions } from "@cph-export/http-client";
import { describe, expect, it } from "vitest";
import { recordsFromChunks } from "../input/source.js";
import { RowPreparer } from "../rows.js";
import { run } from "../run.js";
import { notExportableMessage, selectPhones } from "../selection.js";
import { type Decide, FakeClient, memoryIo } from "../test-support/fake-io.js";
import { phoneListRow } from "./phones.js";

const ENV = {
  CPH_ENDPOINT: "http://127.0.0.1:9",
  CPH_PROJECT_ID: "0123456789abcdef0123456789abcdef",
  HUAWEICLOUD_SDK_AK: "UNITTESTAK000001",
  HUAWEICLOUD_SDK_SK: "unit-test-secret-key-0001",
  HOME: "/nonexistent-home",
};
const EXPORT_FLAGS = ["--include", "/data", "--bucket", "fleet", "--object-path", "x/{phone_id}.tar"];

const id = (n: number) => n.toString(16).padStart(32, "0");

/** 6 phones on 2 servers: 4 running, one off, one frozen. */
function fleet(): Phone[] {
  const statuses = [2, 2, 8, 2, 6, 2];
  return statuses.map((status, index) => ({
    phone_id: id(index + 1),
    phone_name: `game-${index + 1}`,
    server_id: index < 3 ? "server-a" : "server-b",
    status,
    type: 0,
    image_id: "img-1",
    phone_model_name: "kvm.4u8g",
  }));
}

function harness(decide: Decide = () => ({ state: "accepted", jobId: "job" })) {
  const clients: FakeClient[] = [];
  const createClient = (options: CphClientOptions) => {
    const client = new FakeClient(options, decide);
    client.phones = fleet();
    client.servers = [
      { server_id: "server-a", server_name: "prod-a", server_model_name: "physical.rx1", status: 5 },
      { server_id: "server-b", server_name: "prod-b", server_model_name: "physical.rx1", status: 5 },
    ];
    clients.push(client);
    return client;
  };
  return { clients, createClient };
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("phones list", () => {
  it("writes one NDJSON row per phone with status word, and a count by status on stderr", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    expect(await run(["phones", "list", "--output", "ndjson"], io, { createClient })).toBe(0);
    const rows = lines(io.stdoutText());
    expect(rows).toHaveLength(6);
    expect(rows[2]).toEqual({
      phone_id: id(3),
      phone_name: "game-3",
      server_id: "server-a",
      status: 8,
      status_word: "off",
      image_id: "img-1",
      phone_model_name: "kvm.4u8g",
      type: 0,
    });
    expect(io.stderrText()).toBe("phones: 6 phones (4 running, 1 off, 1 frozen)\n");
    expect(clients[0]?.closed).toBe(true);
  });

  it("passes the filters to ListCloudPhones, one walk per status code", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    const args = ["phones", "list", "--server-id", "server-a", "--name", "game", "--type", "0"];
    expect(await run([...args, "--status", "off,frozen", "--page-size", "50"], io, { createClient })).toBe(0);
    expect(clients[0]?.phoneFilters).toEqual([
      { serverId: "server-a", phoneName: "game", type: 0, pageSize: 50, status: 8 },
      { serverId: "server-a", phoneName: "game", type: 0, pageSize: 50, status: 6 },
    ]);
    // server-a has the off phone; the frozen one is on server-b.
    expect((JSON.parse(io.stdoutText()) as { phone_id: string }[]).map((row) => row.phone_id)).toEqual([
      id(3),
    ]);
    // `creating` is two codes, so two walks.
    const creating = harness();
    expect(await run(["phones", "list", "--status", "creating"], memoryIo({ env: ENV }), creating)).toBe(0);
    expect(creating.clients[0]?.phoneFilters.map((filter) => filter.status)).toEqual([0, 1]);
  });

  it("prints an aligned table with phone, name, server, status word and image", async () => {
    const { createClient } = harness();
    const io = memoryIo({ env: ENV });
    expect(await run(["phones", "list", "--output", "table"], io, { createClient })).toBe(0);
    const table = io.stdoutText().split("\n");
    expect(table[0]).toMatch(/^PHONE +NAME +SERVER +STATUS +IMAGE$/);
    expect(table[3]).toBe(`${id(3)}  game-3  server-a  off      img-1`);
    const column = (table[0] ?? "").indexOf("STATUS");
    for (const line of table.slice(1, 7)) expect(line.slice(column)).toMatch(/^(running|off|frozen) /);
  });

  it("refuses an unknown status word or a page size out of range: exit 2 naming the flag, nothing listed", async () => {
    for (const [flag, value, pattern] of [
      [
        "--status",
        "sleeping",
        /--status: "sleeping" is not a phone status; use one of creating, running, .*shutdown-failed, or a status number/,
      ],
      ["--page-size", "101", /--page-size must be a whole number from 1 to 100, not "101"/],
      ["--page-size", "0", /--page-size must be a whole number from 1 to 100/],
      ["--type", "2", /--type must be a whole number from 0 to 1/],
    ] as const) {
      const { clients, createClient } = harness();
      const io = memoryIo({ env: ENV });
      expect(await run(["phones", "list", flag, value], io, { createClient })).toBe(2);
      expect(io.stderrText()).toMatch(pattern);
      expect(clients).toHaveLength(0);
    }
  });

  it("writes NDJSON that validate and export read as input, as it is", async () => {
    const listed = memoryIo({ env: ENV });
    expect(await run(["phones", "list", "--output", "ndjson"], listed, harness())).toBe(0);
    const output = listed.stdoutText();

    const validate = memoryIo({ env: ENV });
    validate.stdinStream.end(output);
    const validated = await run(["validate", "--input", "-", ...EXPORT_FLAGS], validate);
    expect(validate.stdoutText() + validate.stderrText()).toBe(
      "validate: stdin: 6 phones, 0 errors, 0 warnings\n",
    );
    expect(validated).toBe(0);

    const { clients, createClient } = harness();
    const exporting = memoryIo({ env: ENV });
    exporting.stdinStream.end(output);
    expect(await run(["export", "--input", "-", ...EXPORT_FLAGS], exporting, { createClient })).toBe(0);
    expect(clients[0]?.sent).toEqual(
      fleet().map((phone) => ({
        phone_id: phone.phone_id,
        include_files: ["/data"],
        bucket_name: "fleet",
        object_path: `x/${phone.phone_id}.tar`,
      })),
    );
  });
});

describe("servers list", () => {
  it("lists the servers as NDJSON or a table, filtered by name", async () => {
    const io = memoryIo({ env: ENV });
    expect(await run(["servers", "list", "--output", "ndjson"], io, harness())).toBe(0);
    expect(lines(io.stdoutText())).toEqual([
      { server_id: "server-a", server_name: "prod-a", server_model_name: "physical.rx1", status: 5 },
      { server_id: "server-b", server_name: "prod-b", server_model_name: "physical.rx1", status: 5 },
    ]);
    expect(io.stderrText()).toBe("servers: 2 servers\n");
    const table = memoryIo({ env: ENV });
    expect(await run(["servers", "list", "--name", "-b", "--output", "table"], table, harness())).toBe(0);
    expect(table.stdoutText()).toMatch(
      /^SERVER +NAME +MODEL +PHONE MODEL +STATUS\nserver-b +prod-b +physical\.rx1 +- +5\n$/,
    );
  });
});

describe("export with a selection from the API", () => {
  it("--all sends the running phones only; the others are rejected not_exportable with the reason, exit 0", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    expect(await run(["export", "--all", ...EXPORT_FLAGS, "--output", "ndjson"], io, { createClient })).toBe(
      0,
    );
    const client = clients[0] as FakeClient;
    expect(clients).toHaveLength(1);
    expect(client.phoneFilters).toEqual([{}]);
    expect(client.sent.map((info) => info.phone_id)).toEqual([id(1), id(2), id(4), id(6)]);
    expect(client.sent[0]).toEqual({
      phone_id: id(1),
      include_files: ["/data"],
      bucket_name: "fleet",
      object_path: `x/${id(1)}.tar`,
    });
    const rows = lines(io.stdoutText());
    expect(rows.map((row) => [row["phone_id"], row["state"]])).toEqual([
      [id(1), "accepted"],
      [id(2), "accepted"],
      [id(3), "rejected"],
      [id(4), "accepted"],
      [id(5), "rejected"],
      [id(6), "accepted"],
    ]);
    expect(rows[2]).toMatchObject({
      error_code: "not_exportable",
      error_msg: "phone is off (status 8), not running: not exported",
    });
    expect(rows[2]).not.toHaveProperty("object_path");
    expect(rows[4]).toMatchObject({ error_msg: "phone is frozen (status 6), not running: not exported" });
    const stderr = io.stderrText();
    expect(stderr).toMatch(/^selected 6 phones with --all: 4 to send, 2 skipped \(1 off, 1 frozen\)$/m);
    expect(stderr).toMatch(/^export: 6 phones in .*: 4 accepted, 2 skipped \(not exportable\)$/m);
    expect(client.closed).toBe(true);
  });

  it("exits 1 when a phone is rejected for another reason, as for --input", async () => {
    const { createClient } = harness((info) =>
      info.phone_id === id(2) ? { state: "rejected", errorCode: "CPS.0005" } : { state: "accepted" },
    );
    const io = memoryIo({ env: ENV });
    expect(await run(["export", "--all", ...EXPORT_FLAGS], io, { createClient })).toBe(1);
    // The skipped phones are not listed among the failures.
    expect(io.stderrText()).toMatch(/^ {2}rejected 0+2: CPS\.0005/m);
    expect(io.stderrText()).not.toMatch(/^ {2}rejected 0+3/m);
  });

  it("--server-id, --status and --exportable narrow what is listed and what is sent", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    const args = ["export", "--server-id", "server-a", "--status", "off,running", "--exportable", "off"];
    expect(await run([...args, ...EXPORT_FLAGS], io, { createClient })).toBe(0);
    const client = clients[0] as FakeClient;
    expect(client.phoneFilters).toEqual([
      { serverId: "server-a", status: 8 },
      { serverId: "server-a", status: 2 },
    ]);
    expect(client.sent.map((info) => info.phone_id)).toEqual([id(3)]);
    expect(client.skipped.map((phone) => [phone.phoneId, phone.errorMessage])).toEqual([
      [id(1), "phone is running (status 2), not off: not exported"],
      [id(2), "phone is running (status 2), not off: not exported"],
    ]);
  });

  it("--dry-run prints each phone as send or skip and the requests of the sendable ones; nothing is exported", async () => {
    const { clients, createClient } = harness();
    const io = memoryIo({ env: ENV });
    expect(
      await run(["export", "--all", ...EXPORT_FLAGS, "--dry-run", "--output", "json"], io, { createClient }),
    ).toBe(0);
    const client = clients[0] as FakeClient;
    expect(client.exportOptions).toBeUndefined();
    expect(client.sent).toEqual([]);
    const requests = JSON.parse(io.stdoutText()) as { method: string; url: string; body: string }[];
    expect(requests).toHaveLength(1);
    const body = JSON.parse(requests[0]?.body ?? "{}") as { storage_infos: { phone_id: string }[] };
    expect(body.storage_infos.map((info) => info.phone_id)).toEqual([id(1), id(2), id(4), id(6)]);
    const stderr = io.stderrText();
    expect(stderr).toContain(`send phone ${id(1)} (game-1)\n`);
    expect(stderr).toContain(
      `skip phone ${id(3)} (game-3): phone is off (status 8), not running: not exported\n`,
    );
    expect(stderr).toMatch(
      /dry run: 4 phones in 1 request to http:\/\/127\.0\.0\.1:9; 2 skipped, not exportable; nothing was sent\./,
    );
    expect(stderr).not.toContain(ENV.HUAWEICLOUD_SDK_SK);
  });

  it("refuses a selection with --input or --phone-id, --all with a filter, and selection-only flags alone: exit 2, nothing listed", async () => {
    for (const [args, pattern] of [
      [["--all", "--input", "phones.ndjson"], /give either --input or --all, not both/],
      [["--server-id", "s", "--phone-id", "p1"], /give either --phone-id or --server-id, not both/],
      [
        ["--all", "--status", "off"],
        /--all selects every phone of the project; leave it out to select with --status/,
      ],
      [["--phone-id", "p1", "--exportable", "off"], /--exportable only applies to a selection/],
      [["--all", "--status", "asleep"], /--status: "asleep" is not a phone status/],
      [["--all", "--exportable", "asleep"], /--exportable: "asleep" is not a phone status/],
      [["--all", "--page-size", "1000"], /--page-size must be a whole number from 1 to 100/],
    ] as const) {
      const { clients, createClient } = harness();
      const io = memoryIo({ env: ENV });
      expect(await run(["export", ...args, ...EXPORT_FLAGS], io, { createClient })).toBe(2);
      expect(io.stderrText()).toMatch(pattern);
      expect(clients).toHaveLength(0);
    }
  });

  it("refuses a selection with no phone, or with no exportable phone: exit 2, nothing sent", async () => {
    const none = harness();
    const io = memoryIo({ env: ENV });
    expect(await run(["export", "--server-id", "nowhere", ...EXPORT_FLAGS], io, none)).toBe(2);
    expect(io.stderrText()).toMatch(/no phone matches --server-id nowhere; nothing to export\./);
    expect(none.clients[0]?.closed).toBe(true);

    const off = harness();
    const offIo = memoryIo({ env: ENV });
    expect(await run(["export", "--status", "off,frozen", ...EXPORT_FLAGS], offIo, off)).toBe(2);
    expect(offIo.stderrText()).toMatch(
      /none of the 2 phones of --status off,frozen is running, so nothing would be exported \(0 to send, 2 skipped \(1 off, 1 frozen\)\)/,
    );
    expect(off.clients[0]?.exportOptions).toBeUndefined();
  });

  it("needs credentials even for a dry run: the selection is listed from the API", async () => {
    const { HUAWEICLOUD_SDK_AK: _ak, HUAWEICLOUD_SDK_SK: _sk, ...env } = ENV;
    const { clients, createClient } = harness();
    const io = memoryIo({ env });
    expect(await run(["export", "--all", ...EXPORT_FLAGS, "--dry-run"], io, { createClient })).toBe(2);
    expect(io.stderrText()).toMatch(/credentials/i);
    expect(clients).toHaveLength(0);
  });
});

describe("help and completion", () => {
  it("documents the new commands and flags, and completes them with the status words", async () => {
    for (const command of [
      ["phones", "list"],
      ["servers", "list"],
    ]) {
      const io = memoryIo();
      expect(await run([...command, "--help"], io)).toBe(0);
      expect(io.stdoutText()).toMatch(/Examples:\n {2}\$/);
      expect(io.stdoutText()).toMatch(/--page-size <n>/);
    }
    const help = memoryIo();
    expect(await run(["export", "--help"], help)).toBe(0);
    expect(help.stdoutText()).toMatch(/--all +select every phone/);
    expect(help.stdoutText()).toMatch(/they do not\s+make the exit code 1/);
    const bash = memoryIo();
    expect(await run(["completion", "bash"], bash)).toBe(0);
    expect(bash.stdoutText()).toContain(
      '"phones list") words="--server-id --name --status --type --page-size',
    );
    expect(bash.stdoutText()).toContain(
      `--status) COMPREPLY=( $(compgen -W "${PHONE_STATUS_WORDS.map((e) => e.word).join(" ")}"`,
    );
  });
});

const phoneArbitrary = fc.record({
  phone_id: fc.stringMatching(/^[0-9a-f]{32}$/),
  phone_name: fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { nil: undefined }),
  server_id: fc.option(fc.stringMatching(/^[0-9a-f]{8}$/), { nil: undefined }),
  status: fc.oneof(
    fc.constantFrom(...PHONE_STATUS_WORDS.flatMap((entry) => entry.codes)),
    fc.integer({ min: -20, max: 20 }),
    fc.constant(undefined),
  ),
  image_id: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  type: fc.option(fc.constantFrom(0, 1), { nil: undefined }),
});

describe("selection rules", () => {
  property.prop([
    fc.array(phoneArbitrary, { maxLength: 30 }),
    fc.subarray([-9, -5, 0, 1, 2, 3, 4, 6, 7, 8], { minLength: 1 }),
  ])(
    "every listed phone is selected once; it is skipped exactly when its status is not exportable, and the reason names its status",
    async (phones, exportable) => {
      const client = new FakeClient({ projectId: "p" } as CphClientOptions, () => ({ state: "accepted" }));
      client.phones = phones;
      const { phones: selected } = await selectPhones(
        client,
        { all: true, status: [] },
        exportable,
        undefined,
      );
      const firsts = phones.filter(
        (phone, index) => phones.findIndex((other) => other.phone_id === phone.phone_id) === index,
      );
      expect(selected.map((phone) => phone.phoneId)).toEqual(firsts.map((phone) => phone.phone_id));
      for (const [index, phone] of selected.entries()) {
        const status = firsts[index]?.status;
        expect(phone.skip === undefined).toBe(status !== undefined && exportable.includes(status));
        if (phone.skip !== undefined) {
          expect(phone.skip).toBe(notExportableMessage(status, exportable));
          expect(phone.skip).toContain(status === undefined ? "no status" : String(status));
          if (status !== undefined && !phoneStatusWord(status).startsWith("status "))
            expect(phone.skip).toContain(`is ${phoneStatusWord(status)} (status ${status})`);
        }
      }
    },
  );

  property.prop([phoneArbitrary])(
    "a phones list row is a valid export input row that sends only its phone_id",
    async (phone) => {
      const row = phoneListRow(phone);
      const records = recordsFromChunks(
        (async function* () {
          yield `${JSON.stringify(row)}\n`;
        })(),
        "ndjson",
      );
      const preparer = new RowPreparer({ include: ["/data"], bucket: "bucket-b", date: new Date(0) });
      for await (const record of records) {
        const prepared = preparer.prepare({
          ...record,
          value: { ...(record.value as object), object_path: "o.tar" },
        });
        expect(prepared.issues.filter((issue) => issue.severity === "error")).toEqual([]);
        expect(prepared.info).toEqual({
          phone_id: phone.phone_id,
          include_files: ["/data"],
          bucket_name: "bucket-b",
          object_path: "o.tar",
        });
      }
      expect(preparer.count).toBe(1);
    },
  );
});
