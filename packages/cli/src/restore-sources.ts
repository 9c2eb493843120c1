import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "csv-parse/sync";
import { usageError } from "./errors.js";
import type { PhoneSource, SourceRecord } from "./phones.js";

// Where the phones of a restore come from, beside --input and --phone-id: the journal of the
// export that wrote their archives (--from-journal), and a map onto other phones (--to-phone-map).

/** One line of a phone map: restore the archive of `from` onto `to`. */
export interface PhoneMapping {
  from: string;
  to: string;
  /** Where it is in the map file (`line 4`, `key "abc"`). */
  where: string;
}

/** A --to-phone-map file: source phone -> target phone, with where each mapping is. */
export type PhoneMap = Map<string, PhoneMapping>;

/**
 * Reads a phone map: a JSON object `{ "from": "to", ... }`, or CSV with the header
 * `from_phone_id,to_phone_id`. Every problem is listed with its line (or key), and a map with any
 * is refused: a source phone twice, a target phone twice (two archives onto one phone), an empty id.
 */
export async function readPhoneMap(path: string, cwd: string): Promise<PhoneMap> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, path), "utf8");
  } catch (cause) {
    throw usageError(`--to-phone-map ${path}: cannot read it (${(cause as Error).message})`);
  }
  const entries: Array<{ from: unknown; to: unknown; where: string }> = [];
  const problems: string[] = [];
  if (text.trimStart().startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw usageError(`--to-phone-map ${path}: not valid JSON (${(cause as Error).message})`);
    }
    for (const [from, to] of Object.entries(parsed as Record<string, unknown>))
      entries.push({ from, to, where: `key ${JSON.stringify(from)}` });
  } else {
    let rows: Array<{ record: Record<string, string>; info: { lines: number } }>;
    try {
      rows = parse(text, { columns: true, info: true, skip_empty_lines: true, trim: true, bom: true });
    } catch (cause) {
      throw usageError(`--to-phone-map ${path}: ${(cause as Error).message}`);
    }
    const header = text.split(/\r?\n/, 1)[0]?.replace(/^\uFEFF/, "") ?? "";
    if (
      header
        .split(",")
        .map((name) => name.trim())
        .join(",") !== "from_phone_id,to_phone_id"
    ) {
      throw usageError(
        `--to-phone-map ${path}: line 1 must be the header "from_phone_id,to_phone_id" (or give a JSON object {"from": "to"}), not "${header}"`,
      );
    }
    for (const { record, info } of rows)
      entries.push({ from: record["from_phone_id"], to: record["to_phone_id"], where: `line ${info.lines}` });
  }
  const map: PhoneMap = new Map();
  const targets = new Map<string, string>();
  for (const { from, to, where } of entries) {
    if (typeof from !== "string" || from === "") {
      problems.push(`${where}: from_phone_id is empty`);
      continue;
    }
    if (typeof to !== "string" || to === "") {
      problems.push(`${where}: to_phone_id of ${from} is empty or not a string`);
      continue;
    }
    const earlier = map.get(from);
    if (earlier) {
      problems.push(`${where}: phone ${from} is already mapped at ${earlier.where}`);
      continue;
    }
    const target = targets.get(to);
    if (target) {
      problems.push(
        `${where}: phone ${to} is already the target at ${target}; two archives cannot go onto one phone`,
      );
      continue;
    }
    map.set(from, { from, to, where });
    targets.set(to, where);
  }
  if (problems.length > 0) {
    throw usageError(
      `--to-phone-map ${path} has ${problems.length} ${problems.length === 1 ? "problem" : "problems"}; nothing was sent:\n  ${problems.join("\n  ")}`,
    );
  }
  if (map.size === 0) throw usageError(`--to-phone-map ${path} maps no phone; nothing to restore.`);
  return map;
}

/** The export journal's view of one phone (the part a restore needs). */
export interface ExportedPhone {
  phoneId: string;
  state: string;
  bucketName?: string | undefined;
  objectPath?: string | undefined;
  /** The phone's last verification in OBS, if `verify` looked. */
  verification?: string | undefined;
}

/**
 * A phone has an archive to restore from when its export succeeded, or when it was left accepted or
 * unknown and `verify` then found its archive; never when `verify` last found it missing or stale
 * (an older object at the key), nor when its job failed.
 */
function restorable(phone: ExportedPhone): boolean {
  if (!phone.bucketName || !phone.objectPath) return false;
  if (phone.verification === "missing" || phone.verification === "stale") return false;
  if (phone.state === "succeeded") return true;
  return phone.verification === "verified" && ["accepted", "unknown", "sent"].includes(phone.state);
}

function notExported(phone: ExportedPhone): string {
  if (phone.verification === "missing" || phone.verification === "stale")
    return `verify last found the archive of phone ${phone.phoneId} ${phone.verification}: it is not restored from it`;
  const head = `the export journal holds phone ${phone.phoneId} as ${phone.state}`;
  if (phone.state === "succeeded")
    return `${head} without its archive's location (a journal older than restore): restore it with --input`;
  if (phone.state === "accepted" || phone.state === "unknown" || phone.state === "sent")
    return `${head}: its export was not seen to succeed, so no archive is known; rerun the export with --wait (or "cph-export verify --journal") first`;
  return `${head}: there is no archive to restore from`;
}

/**
 * The phones of an export journal as a restore's source: each phone whose export succeeded (or
 * whose archive `verify` found),
 * restored from the archive it wrote (onto its map target when a map is given); the others are
 * reported and never sent (`not_exported`: no archive to restore from; `not_in_map`: the map does
 * not name it).
 */
export function journalSource(
  path: string,
  phones: readonly ExportedPhone[],
  map: PhoneMap | undefined,
): PhoneSource {
  const targets = map ? new Set([...map.values()].map((mapping) => mapping.to)) : undefined;
  return {
    name: path,
    kind: "file",
    records: async function* (): AsyncGenerator<SourceRecord> {
      for (const [index, phone] of phones.entries()) {
        const line = index + 1;
        const mapping = map?.get(phone.phoneId);
        // A phone the map leaves out but restores another phone's archive onto is reported once,
        // as that restore.
        if (map && !mapping && targets?.has(phone.phoneId)) continue;
        if (map && !mapping) {
          yield {
            line,
            value: { phone_id: phone.phoneId },
            skip: {
              errorCode: "not_in_map",
              errorMessage: `--to-phone-map does not name phone ${phone.phoneId}: not restored`,
            },
          };
          continue;
        }
        const target = mapping?.to ?? phone.phoneId;
        if (!restorable(phone)) {
          yield {
            line,
            value: { phone_id: target },
            skip: {
              errorCode: "not_exported",
              errorMessage: notExported(phone),
            },
          };
          continue;
        }
        yield {
          line,
          value: { phone_id: target, bucket_name: phone.bucketName, object_path: phone.objectPath },
        };
      }
    },
    where: (line) => {
      const phone = phones[line - 1];
      const mapping = phone ? map?.get(phone.phoneId) : undefined;
      const onto = mapping ? ` onto ${mapping.to} (--to-phone-map ${mapping.where})` : "";
      return `${path}: phone ${phone?.phoneId ?? "?"}${onto}`;
    },
    close: async () => {},
  };
}

/**
 * --to-phone-map over --input / --phone-id rows: each row's phone becomes its target, and the
 * others are not restored. `objectPathOf` names a row's archive before its phone changes (an
 * `--object-path` template's `{phone_id}` is the phone the archive was made of).
 */
export function mappedSource(
  source: PhoneSource,
  map: PhoneMap,
  objectPathOf: ((phoneId: string, index: number) => string) | undefined,
): PhoneSource {
  const targets = new Set([...map.values()].map((mapping) => mapping.to));
  let passes = 0;
  return {
    ...source,
    records: async function* (signal?: AbortSignal): AsyncGenerator<SourceRecord> {
      const first = passes++ === 0;
      const seen = new Set<string>();
      let index = -1;
      for await (const record of source.records(signal)) {
        if (record.value !== undefined) index++;
        const value = record.value as Record<string, unknown> | undefined;
        const phoneId = typeof value?.["phone_id"] === "string" ? (value["phone_id"] as string) : undefined;
        if (!value || typeof value !== "object" || phoneId === undefined) {
          yield record;
          continue;
        }
        seen.add(phoneId);
        const mapping = map.get(phoneId);
        if (!mapping && targets.has(phoneId)) continue;
        if (!mapping) {
          yield {
            ...record,
            skip: {
              errorCode: "not_in_map",
              errorMessage: `--to-phone-map does not name phone ${phoneId}: not restored`,
            },
          };
          continue;
        }
        const named =
          value["object_path"] === undefined && objectPathOf
            ? { object_path: objectPathOf(phoneId, index) }
            : {};
        yield { ...record, value: { ...value, ...named, phone_id: mapping.to } };
      }
      // The first pass validates, before anything is sent: a mapping of a phone the input does
      // not hold would restore nothing, which the user did not mean.
      const unused = first ? [...map.values()].filter((mapping) => !seen.has(mapping.from)) : [];
      if (unused.length > 0) {
        throw usageError(
          `--to-phone-map names ${unused.length === 1 ? "a phone" : `${unused.length} phones`} the input does not hold; nothing was sent:\n  ${unused
            .slice(0, 50)
            .map((mapping) => `${mapping.where}: phone ${mapping.from} is not in the input`)
            .join("\n  ")}`,
        );
      }
    },
  };
}
