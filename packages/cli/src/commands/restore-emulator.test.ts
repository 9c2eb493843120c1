// `cph-export restore` in one process, through the real client against a real emulator on loopback.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RESTORE_ERROR_CODES } from "@cph-export/emulator";
import { afterEach, describe, expect, it } from "vitest";
import type { CliIo } from "../io.js";
import {
  emulatorEnv,
  emulatorHarness,
  ledgerOf,
  ndjsonRows,
  type Running,
  runInMemory,
} from "../test-support/emulator.js";

const { emulatorWith, scratch, cleanup } = emulatorHarness("cph-export-restore-");
afterEach(cleanup);

const cli = (emulator: Running, args: string[], io: Partial<CliIo> = {}, stdin?: string) =>
  runInMemory(args, { env: emulatorEnv(emulator), ...io }, {}, stdin);

const rowsOf = ndjsonRows;

const fileUrl = (emulator: Running, phone: string, path: string) =>
  `${emulator.url}/__emulator/phones/${phone}/file?path=${encodeURIComponent(path)}`;

async function putFile(emulator: Running, phone: string, path: string, content: string): Promise<void> {
  const response = await fetch(fileUrl(emulator, phone, path), { method: "PUT", body: content });
  expect(response.status).toBe(200);
}

async function deleteFile(emulator: Running, phone: string, path: string): Promise<void> {
  const response = await fetch(fileUrl(emulator, phone, path), { method: "DELETE" });
  expect(response.status).toBe(200);
}

/** The files of a phone under /data/local/tmp, path -> bytes (base64). */
async function tmpFiles(emulator: Running, phone: string): Promise<Record<string, string>> {
  const listed = (await (await fetch(`${emulator.url}/__emulator/phones/${phone}/files`)).json()) as {
    files: string[];
  };
  const out: Record<string, string> = {};
  for (const path of listed.files.filter((candidate) => candidate.startsWith("/data/local/tmp/"))) {
    const response = await fetch(fileUrl(emulator, phone, path));
    out[path] = Buffer.from(await response.arrayBuffer()).toString("base64");
  }
  return out;
}

const restoreLedger = (emulator: Running) => ledgerOf(emulator, "restore-ledger");

const PHONES = Array.from(
  { length: 8 },
  (_, n) => `00000000000000000000000000c0${String(n).padStart(4, "0")}`,
);
const EXPORT_FLAGS = [
  "--include",
  "/data/local/tmp",
  "--bucket",
  "restore-tests",
  "--object-path",
  "r/{phone_id}.tar",
];

async function exportPhones(emulator: Running, dir: string, phones: readonly string[]) {
  const input = join(dir, "phones.ndjson");
  await writeFile(input, phones.map((phone) => JSON.stringify({ phone_id: phone })).join("\n"));
  const journal = join(dir, "export.journal");
  const result = await cli(emulator, [
    "export",
    "--input",
    input,
    ...EXPORT_FLAGS,
    "--wait",
    "--poll-interval",
    "20ms",
    "--journal",
    journal,
    "--output",
    "ndjson",
  ]);
  return { ...result, journal, input };
}

describe("restore against the emulator", () => {
  it("round trip: export, change and delete files, restore --from-journal, files equal byte for byte", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const dir = await scratch();
    for (const phone of PHONES) {
      await putFile(emulator, phone, "/data/local/tmp/notes.txt", `notes of ${phone}\n`);
      await putFile(emulator, phone, "/data/local/tmp/app/state.bin", `\u0000\u00ff${phone}`.repeat(50));
    }
    const before = new Map<string, Record<string, string>>();
    for (const phone of PHONES) before.set(phone, await tmpFiles(emulator, phone));
    const exported = await exportPhones(emulator, dir, PHONES);
    expect(exported.code, exported.stderr).toBe(0);

    for (const phone of PHONES) {
      await putFile(emulator, phone, "/data/local/tmp/notes.txt", "overwritten\n");
      await deleteFile(emulator, phone, "/data/local/tmp/app/state.bin");
      expect(await tmpFiles(emulator, phone)).not.toEqual(before.get(phone));
    }
    const journal = join(dir, "restore.journal");
    const args = [
      "restore",
      "--from-journal",
      exported.journal,
      "--journal",
      journal,
      "--yes",
      "--wait",
      "--poll-interval",
      "20ms",
      "--batch-size",
      "3",
      "--output",
      "ndjson",
    ];
    const restored = await cli(emulator, args);
    expect(restored.code, restored.stderr).toBe(0);
    // NDJSON rows come as the batches end, in any order: compared by phone.
    const rows = rowsOf(restored.stdout).sort((a, b) =>
      String(a["phone_id"]).localeCompare(String(b["phone_id"])),
    );
    expect(rows.map((row) => row["phone_id"])).toEqual([...PHONES].sort());
    expect(rows.map((row) => row["state"])).toEqual(PHONES.map(() => "succeeded"));
    expect(rows.map((row) => row["object_path"])).toEqual(
      [...PHONES].sort().map((phone) => `r/${phone}.tar`),
    );
    expect(restored.stderr).toMatch(/^restore: 8 phones in .*: 8 succeeded/m);
    for (const phone of PHONES) expect(await tmpFiles(emulator, phone)).toEqual(before.get(phone));

    // The rerun with the restore's journal restores nothing again.
    const again = await cli(emulator, args);
    expect(again.code).toBe(0);
    expect(rowsOf(again.stdout).every((row) => row["from_journal"] === true)).toBe(true);
    expect(await restoreLedger(emulator)).toHaveLength(PHONES.length);
    // A journal is of one operation: the export's cannot record a restore, nor the restore's an export.
    const mixed = await cli(emulator, [
      "restore",
      "--phone-id",
      PHONES[0]!,
      "--bucket",
      "restore-tests",
      "--object-path",
      "r/{phone_id}.tar",
      "--journal",
      exported.journal,
      "--yes",
    ]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain("it is the journal of export runs, not of a restore");
  });

  it("onto other phones with --to-phone-map; an archive from a newer Android fails that phone's job", async () => {
    const [source, newer, older, unmapped] = PHONES;
    const emulator = await emulatorWith({
      jobDurationMs: 5,
      phones: { androidVersions: { [source!]: 13, [newer!]: 14, [older!]: 11, [unmapped!]: 13 } },
    });
    const dir = await scratch();
    await putFile(emulator, source!, "/data/local/tmp/notes.txt", "from the source phone\n");
    const exported = await exportPhones(emulator, dir, [source!, unmapped!]);
    expect(exported.code, exported.stderr).toBe(0);
    const map = join(dir, "map.csv");
    await writeFile(map, `from_phone_id,to_phone_id\n${source},${newer}\n`);
    const migrated = await cli(emulator, [
      "restore",
      "--from-journal",
      exported.journal,
      "--to-phone-map",
      map,
      "--yes",
      "--wait",
      "--poll-interval",
      "20ms",
      "--output",
      "ndjson",
    ]);
    expect(migrated.code, migrated.stderr).toBe(0);
    const rows = rowsOf(migrated.stdout).sort((a, b) => Number(a["line"]) - Number(b["line"]));
    expect(rows.map((row) => [row["phone_id"], row["state"], row["error_code"]])).toEqual([
      [newer, "succeeded", undefined],
      [unmapped, "rejected", "not_in_map"],
    ]);
    expect(migrated.stderr).toContain("1 skipped (not in the map)");
    expect((await tmpFiles(emulator, newer!))["/data/local/tmp/notes.txt"]).toBe(
      Buffer.from("from the source phone\n").toString("base64"),
    );

    await writeFile(map, JSON.stringify({ [source!]: older }));
    const olderBefore = await tmpFiles(emulator, older!);
    const refused = await cli(emulator, [
      "restore",
      "--from-journal",
      exported.journal,
      "--to-phone-map",
      map,
      "--yes",
      "--wait",
      "--poll-interval",
      "20ms",
      "--output",
      "ndjson",
    ]);
    expect(refused.code).toBe(1);
    const onOlder = rowsOf(refused.stdout).find((row) => row["phone_id"] === older);
    expect(onOlder).toMatchObject({
      phone_id: older,
      state: "failed",
      error_code: RESTORE_ERROR_CODES.android_version,
    });
    // Refused before anything was written: the older phone's files are as they were.
    expect(await tmpFiles(emulator, older!)).toEqual(olderBefore);
  });

  it("a map onto a phone of the journal that the map leaves out reports that phone once, as the restore", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const dir = await scratch();
    const exported = await exportPhones(emulator, dir, [PHONES[0]!, PHONES[1]!]);
    expect(exported.code, exported.stderr).toBe(0);
    const map = join(dir, "swap.json");
    await writeFile(map, JSON.stringify({ [PHONES[0]!]: PHONES[1] }));
    const result = await cli(emulator, [
      "restore",
      "--from-journal",
      exported.journal,
      "--to-phone-map",
      map,
      "--yes",
      "--output",
      "ndjson",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(rowsOf(result.stdout).map((row) => [row["phone_id"], row["state"], row["object_path"]])).toEqual([
      [PHONES[1], "accepted", `r/${PHONES[0]}.tar`],
    ]);
    expect((await restoreLedger(emulator)).map((entry) => entry.phone_id)).toEqual([PHONES[1]]);
  });

  it("refuses a --to-phone-map naming a phone the --input does not hold, before sending anything", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const dir = await scratch();
    const input = join(dir, "phones.ndjson");
    await writeFile(input, `${JSON.stringify({ phone_id: PHONES[0] })}\n`);
    const map = join(dir, "map.csv");
    await writeFile(map, `from_phone_id,to_phone_id\n${PHONES[0]},${PHONES[1]}\n${PHONES[2]},${PHONES[3]}\n`);
    const result = await cli(emulator, [
      "restore",
      "--input",
      input,
      "--bucket",
      "r-bucket",
      "--object-path",
      "r/{phone_id}.tar",
      "--to-phone-map",
      map,
      "--yes",
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`line 3: phone ${PHONES[2]} is not in the input`);
    expect(await restoreLedger(emulator)).toEqual([]);
  });

  it("lists every issue of a bad input with its line and sends nothing (exit 2)", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const dir = await scratch();
    const input = join(dir, "bad.csv");
    const rows = ["phone_id,bucket_name,object_path"];
    for (let n = 0; n < 25; n++) rows.push(`p${n},192.168.1.${n},x${n}.tar`);
    rows.push("p1,good-bucket,a.tar");
    await writeFile(input, `${rows.join("\n")}\n`);
    const result = await cli(emulator, ["restore", "--input", input, "--yes"]);
    expect(result.code).toBe(2);
    for (let n = 0; n < 25; n++)
      expect(result.stderr).toContain(`line ${n + 2}: bucket_name bucket_ip_address`);
    expect(result.stderr).toContain(
      "line 27: phone_id phone_id_duplicate: phone p1 is already on line 3; a run restores each phone once",
    );
    expect(result.stderr).toContain("has 26 errors in 26 phones (all 26 issues above); nothing was sent.");
    expect(await restoreLedger(emulator)).toEqual([]);

    const badMap = join(dir, "map.csv");
    await writeFile(badMap, "from_phone_id,to_phone_id\na,b\nc,b\na,d\n");
    const mapped = await cli(emulator, [
      "restore",
      "--phone-id",
      "a",
      "--bucket",
      "bkt",
      "--object-path",
      "{phone_id}.tar",
      "--to-phone-map",
      badMap,
      "--yes",
    ]);
    expect(mapped.code).toBe(2);
    expect(mapped.stderr).toContain("line 3: phone b is already the target at line 2");
    expect(mapped.stderr).toContain("line 4: phone a is already mapped at line 2");
  });

  it("asks on a terminal before overwriting, needs --yes without one, and says what it would send", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const flags = [
      "restore",
      "--phone-id",
      PHONES[0]!,
      "--bucket",
      "restore-tests",
      "--object-path",
      "r/{phone_id}.tar",
    ];
    const piped = await cli(emulator, flags);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain("restore overwrites the data of 1 phone: pass --yes to go on");
    const tty = { stdinIsTTY: true, stderrIsTTY: true };
    const declined = await cli(emulator, flags, tty, "no\n");
    expect(declined.code).toBe(2);
    expect(declined.stderr).toContain(`${PHONES[0]} <- restore-tests/r/${PHONES[0]}.tar`);
    expect(declined.stderr).toContain("restore: not confirmed; nothing was sent.");
    expect(await restoreLedger(emulator)).toEqual([]);
    const accepted = await cli(emulator, [...flags, "--output", "ndjson"], tty, "yes\n");
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(rowsOf(accepted.stdout)).toEqual([
      expect.objectContaining({ phone_id: PHONES[0], state: "accepted" }),
    ]);
    expect(await restoreLedger(emulator)).toHaveLength(1);

    const dry = await cli(emulator, [...flags, "--dry-run", "--output", "json"]);
    expect(dry.code).toBe(0);
    const [request] = JSON.parse(dry.stdout) as Array<{ url: string; body: string }>;
    expect(request!.url).toMatch(/\/cloud-phone\/phones\/batch-restore$/);
    expect(JSON.parse(request!.body)).toEqual({
      restore_infos: [
        { phone_id: PHONES[0], bucket_name: "restore-tests", object_path: `r/${PHONES[0]}.tar` },
      ],
    });
    expect(await restoreLedger(emulator)).toHaveLength(1);
  });

  it("restores phones an export left accepted once verify found their archives; not before", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5 });
    const dir = await scratch();
    const input = join(dir, "phones.ndjson");
    await writeFile(
      input,
      PHONES.slice(0, 3)
        .map((phone) => JSON.stringify({ phone_id: phone }))
        .join("\n"),
    );
    const journal = join(dir, "export.journal");
    const exported = await cli(emulator, ["export", "--input", input, ...EXPORT_FLAGS, "--journal", journal]);
    expect(exported.code, exported.stderr).toBe(0);
    const before = await cli(emulator, ["restore", "--from-journal", journal, "--yes", "--output", "ndjson"]);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain("once its export succeeded (--wait) or verify found it");
    expect(before.stderr).toContain("none of its 3 phones has an archive to restore from");
    // The jobs end; verify proves the archives and records it in the journal.
    for (let attempt = 0; attempt < 100; attempt++) {
      const look = await cli(emulator, ["verify", "--journal", journal, "--output", "ndjson"]);
      if (look.code === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const after = await cli(emulator, ["restore", "--from-journal", journal, "--yes", "--output", "ndjson"]);
    expect(after.code, after.stderr).toBe(0);
    expect(rowsOf(after.stdout).map((row) => row["state"])).toEqual(["accepted", "accepted", "accepted"]);
    expect(await restoreLedger(emulator)).toHaveLength(3);
  });

  it("reports the phones an export left without an archive as not_exported, and restores the others", async () => {
    const emulator = await emulatorWith({ jobDurationMs: 5, faults: { phoneFailRate: 0.5, seed: 4 } });
    const dir = await scratch();
    const exported = await exportPhones(emulator, dir, PHONES);
    const failed = rowsOf(exported.stdout)
      .filter((row) => row["state"] === "failed")
      .map((row) => row["phone_id"]);
    expect(failed.length).toBeGreaterThan(0);
    await fetch(`${emulator.url}/__emulator/faults`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    const journalText = await readFile(exported.journal, "utf8");
    expect(journalText).toContain('"operation":"export"');
    const restored = await cli(emulator, [
      "restore",
      "--from-journal",
      exported.journal,
      "--yes",
      "--output",
      "ndjson",
    ]);
    expect(restored.code).toBe(1);
    const rows = rowsOf(restored.stdout);
    expect(rows).toHaveLength(PHONES.length);
    expect(
      rows
        .filter((row) => row["error_code"] === "not_exported")
        .map((row) => row["phone_id"])
        .sort(),
    ).toEqual([...failed].sort());
    expect((await restoreLedger(emulator)).map((entry) => entry.phone_id).sort()).toEqual(
      PHONES.filter((phone) => !failed.includes(phone)).sort(),
    );
  });
});
