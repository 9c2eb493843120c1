import { DEFAULT_EXPORTABLE_STATUSES, type Phone, phoneStatusWord } from "@cph-export/core";
import type { CphClient, PhoneFilter } from "@cph-export/http-client";
import type { PhoneSource, SourceRecord } from "./phones.js";

// `export --all | --server-id | --name | --status`: the phones come from ListCloudPhones, not a file.

/** The flags that select phones from the API; each narrows the listing (AND). */
export interface SelectionFlags {
  all: boolean;
  serverId?: string | undefined;
  name?: string | undefined;
  /** Status codes to list (any of them); empty lists every status. */
  status: readonly number[];
  type?: number | undefined;
  pageSize?: number | undefined;
}

/** The selection flags given, as typed (`--server-id`), for messages. */
export function selectionFlagsGiven(flags: SelectionFlags): string[] {
  const given: string[] = [];
  if (flags.all) given.push("--all");
  if (flags.serverId !== undefined) given.push("--server-id");
  if (flags.name !== undefined) given.push("--name");
  if (flags.status.length > 0) given.push("--status");
  if (flags.type !== undefined) given.push("--type");
  return given;
}

/** `off (status 8)`, `status 9`, or `no status` for a phone the listing gave none. */
export function describeStatus(code: number | undefined): string {
  if (code === undefined) return "no status";
  const word = phoneStatusWord(code);
  return word.startsWith("status ") ? word : `${word} (status ${code})`;
}

/** `running`, or `running or frozen`: the words of an exportable set. */
export function describeStatuses(codes: readonly number[]): string {
  return [...new Set(codes.map((code) => phoneStatusWord(code)))].join(" or ");
}

/** The reason a listed phone is not sent: `phone is off (status 8), not running: not exported`. */
export function notExportableMessage(code: number | undefined, exportable: readonly number[]): string {
  const state =
    code === undefined
      ? "has no status in the listing"
      : phoneStatusWord(code).startsWith("status ")
        ? `has status ${code}`
        : `is ${describeStatus(code)}`;
  return `phone ${state}, not ${describeStatuses(exportable)}: not exported`;
}

/**
 * The ListCloudPhones walks for these flags: one per status code (the API filters by one), or one
 * without a status filter.
 */
export function phoneFilters(flags: Omit<SelectionFlags, "all">): PhoneFilter[] {
  const base: PhoneFilter = {};
  if (flags.serverId !== undefined) base.serverId = flags.serverId;
  if (flags.name !== undefined) base.phoneName = flags.name;
  if (flags.type !== undefined) base.type = flags.type;
  if (flags.pageSize !== undefined) base.pageSize = flags.pageSize;
  if (flags.status.length === 0) return [base];
  return flags.status.map((status) => ({ ...base, status }));
}

/** Every phone of the filters, each once (a phone that changes status between walks is listed once). */
export async function* listSelected(
  client: Pick<CphClient, "listPhones">,
  filters: readonly PhoneFilter[],
  signal: AbortSignal | undefined,
): AsyncGenerator<Phone> {
  const seen = new Set<string>();
  for (const filter of filters) {
    for await (const phone of client.listPhones(filter, { signal })) {
      if (phone.phone_id) {
        if (seen.has(phone.phone_id)) continue;
        seen.add(phone.phone_id);
      }
      yield phone;
    }
  }
}

/** One phone of a selection, and whether the run sends it. */
export interface SelectedPhone {
  phoneId: string;
  name: string | undefined;
  code: number | undefined;
  /** Why it is not sent; absent when its status is exportable. */
  skip?: string | undefined;
}

export interface Selection {
  phones: SelectedPhone[];
  /** Listed phones without a phone_id, which nothing can export. */
  withoutId: number;
}

/** Lists the selection once (the run reads it twice: to validate, then to send). */
export async function selectPhones(
  client: Pick<CphClient, "listPhones">,
  flags: SelectionFlags,
  exportable: readonly number[],
  signal: AbortSignal | undefined,
): Promise<Selection> {
  const wanted = exportable.length > 0 ? exportable : DEFAULT_EXPORTABLE_STATUSES;
  const phones: SelectedPhone[] = [];
  let withoutId = 0;
  for await (const phone of listSelected(client, phoneFilters(flags), signal)) {
    if (!phone.phone_id) {
      withoutId++;
      continue;
    }
    const code = phone.status;
    const selected: SelectedPhone = {
      phoneId: phone.phone_id,
      name: phone.phone_name ?? undefined,
      code,
    };
    if (code === undefined || !wanted.includes(code)) selected.skip = notExportableMessage(code, wanted);
    phones.push(selected);
  }
  return { phones, withoutId };
}

/** `34 to send, 6 skipped (4 off, 2 frozen)`. */
export function describeSelection(phones: readonly SelectedPhone[]): string {
  const skipped = phones.filter((phone) => phone.skip !== undefined);
  const byStatus = new Map<string, number>();
  for (const phone of skipped) {
    const word = phone.code === undefined ? "no status" : phoneStatusWord(phone.code);
    byStatus.set(word, (byStatus.get(word) ?? 0) + 1);
  }
  const detail = [...byStatus].map(([word, count]) => `${count} ${word}`).join(", ");
  const send = phones.length - skipped.length;
  return skipped.length === 0 ? `${send} to send` : `${send} to send, ${skipped.length} skipped (${detail})`;
}

/**
 * The selection as the source of a run, as `--input` would be: one record `{ phone_id }` per phone
 * in listing order, the ones not to send marked with their reason.
 */
export function selectionSource(name: string, selection: Selection, notExportableCode: string): PhoneSource {
  const { phones } = selection;
  return {
    name,
    kind: "api",
    records: async function* () {
      for (const [index, phone] of phones.entries()) {
        const record: SourceRecord = { line: index + 1, value: { phone_id: phone.phoneId } };
        if (phone.skip !== undefined)
          record.skip = { errorCode: notExportableCode, errorMessage: phone.skip };
        yield record;
      }
    },
    where: (line) => {
      const phone = phones[line - 1];
      if (!phone) return `phone ${line} of the selection`;
      return `phone ${phone.phoneId}${phone.name ? ` (${phone.name})` : ""}`;
    },
    close: async () => {},
  };
}
