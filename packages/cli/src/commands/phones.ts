import { type Phone, phoneStatusWord } from "@cph-export/core";
import type { ClientFactory } from "../client.js";
import { colorEnabled } from "../config.js";
import { connect } from "../connect.js";
import { EXIT } from "../exit-codes.js";
import { type Context, terminalWidth } from "../io.js";
import { parseOptions, phonesListOptionsSchema } from "../options.js";
import { ResultWriter } from "../output/results.js";
import { type Column, paint } from "../output/table.js";
import { listSelected, phoneFilters } from "../selection.js";

export interface PhonesDependencies {
  createClient?: ClientFactory | undefined;
}

/**
 * One row of `phones list`. Every key but `phone_id` is one `export --input` ignores (rows.ts
 * INFORMATIONAL_FIELDS), so the NDJSON or JSON output is an input for `export` as it is.
 */
export interface PhoneListRow {
  phone_id: string;
  phone_name?: string | undefined;
  server_id?: string | undefined;
  status?: number | undefined;
  status_word?: string | undefined;
  image_id?: string | undefined;
  phone_model_name?: string | undefined;
  type?: number | undefined;
}

/** The row of a listed phone; undefined for one without a phone_id, which nothing can use. */
export function phoneListRow(phone: Phone): PhoneListRow | undefined {
  if (!phone.phone_id) return undefined;
  const row: PhoneListRow = { phone_id: phone.phone_id };
  if (phone.phone_name) row.phone_name = phone.phone_name;
  if (phone.server_id) row.server_id = phone.server_id;
  const code = phone.status;
  if (code !== undefined) {
    row.status = code;
    row.status_word = phoneStatusWord(code);
  }
  if (phone.image_id) row.image_id = phone.image_id;
  if (phone.phone_model_name) row.phone_model_name = phone.phone_model_name;
  const type = phone.type;
  if (type !== undefined) row.type = type;
  return row;
}

export function phoneListColumns(color: boolean): Column<PhoneListRow>[] {
  return [
    { header: "PHONE", value: (row) => row.phone_id },
    { header: "NAME", value: (row) => row.phone_name, maxWidth: 40, shrink: "end" },
    { header: "SERVER", value: (row) => row.server_id, shrink: "end" },
    {
      header: "STATUS",
      value: (row) => row.status_word,
      ...(color
        ? { style: (cell: string, row: PhoneListRow) => (row.status === 2 ? paint(cell, "green") : cell) }
        : {}),
    },
    { header: "IMAGE", value: (row) => row.image_id, shrink: "end" },
  ];
}

/** `cph-export phones list`: the project's phones (ListCloudPhones, every page), filtered by CPH. */
export async function phonesListCommand(
  raw: unknown,
  context: Context,
  dependencies: PhonesDependencies = {},
): Promise<number> {
  const options = parseOptions(phonesListOptionsSchema, raw, "phones list");
  const client = await connect(options, context, dependencies.createClient);
  const { io } = context;
  try {
    const format = options.output ?? (io.stdoutIsTTY ? "table" : "json");
    const writer = new ResultWriter<PhoneListRow>(
      context.out,
      format,
      phoneListColumns(colorEnabled(io.env, io.stdoutIsTTY)),
      { width: io.stdoutIsTTY ? terminalWidth(io) : undefined },
    );
    const byStatus = new Map<string, number>();
    let withoutId = 0;
    for await (const phone of listSelected(client, phoneFilters(options), io.signal)) {
      const row = phoneListRow(phone);
      if (!row) {
        withoutId++;
        continue;
      }
      const word = row.status_word ?? "no status";
      byStatus.set(word, (byStatus.get(word) ?? 0) + 1);
      await writer.add(row);
    }
    await writer.end();
    if (withoutId > 0)
      context.err.write(`warning: ${withoutId} listed phones have no phone_id; they are left out\n`);
    const detail = [...byStatus].map(([word, count]) => `${count} ${word}`).join(", ");
    context.err.write(
      `phones: ${writer.count} ${writer.count === 1 ? "phone" : "phones"}${detail ? ` (${detail})` : ""}\n`,
    );
    return EXIT.ok;
  } finally {
    await client.close().catch(() => {});
  }
}
