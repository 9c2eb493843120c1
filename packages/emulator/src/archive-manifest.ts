// What the emulator records in the archives it writes, so that a restore can check them: a pax
// global extended header (typeflag `g`) at the start of the tar. Tar readers apply or skip it;
// it adds no member, so an archive's members stay exactly the exported files.

/** The manifest of an archive written by the emulator's export. */
export interface ArchiveManifest {
  /** The phone exported. */
  phoneId: string;
  /** The Android version (major) of the phone's image when it was exported. */
  androidVersion: number;
  /** The export's selection: a restore replaces the files it matches. */
  include: readonly string[];
  exclude: readonly string[];
}

/** The pax keyword (a vendor namespace, as pax asks for keywords of its own). */
export const MANIFEST_KEYWORD = "CPHEMULATOR.manifest";

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function paxRecord(keyword: string, value: string): Buffer {
  const body = ` ${keyword}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  // The length counts its own digits.
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return Buffer.from(`${length}${body}`, "utf8");
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let index = 0; index < BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : block[index]!;
  return sum;
}

/** The 512-byte blocks of a pax global header carrying this manifest. */
export function encodeManifestHeader(manifest: ArchiveManifest, mtime: Date): Buffer {
  const data = paxRecord(
    MANIFEST_KEYWORD,
    JSON.stringify({
      version: 1,
      phone_id: manifest.phoneId,
      android_version: manifest.androidVersion,
      include_files: manifest.include,
      exclude_files: manifest.exclude,
    }),
  );
  const header = Buffer.alloc(BLOCK);
  header.write("pax_global_header", 0, "ascii");
  header.write(octal(0o644, 8), 100, "ascii");
  header.write(octal(0, 8), 108, "ascii");
  header.write(octal(0, 8), 116, "ascii");
  header.write(octal(data.length, 12), 124, "ascii");
  header.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, "ascii");
  header.write("g", 156, "ascii");
  header.write("ustar\u000000", 257, "ascii");
  header.write(`${checksum(header).toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  const padding = Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK);
  return Buffer.concat([header, data, padding]);
}

/** Whether a 512-byte block is a tar header (its checksum holds), or all zeros (the end marker). */
export function tarBlockKind(block: Buffer): "header" | "zero" | "invalid" {
  if (block.length < BLOCK) return "invalid";
  if (block.every((byte) => byte === 0)) return "zero";
  const stored = Number.parseInt(
    block
      .toString("ascii", 148, 156)
      .replace(/[\0 ]+/g, " ")
      .trim(),
    8,
  );
  return Number.isInteger(stored) && stored === checksum(block) ? "header" : "invalid";
}

function parseManifest(text: string): ArchiveManifest | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { phone_id, android_version, include_files, exclude_files } = value;
    const strings = (list: unknown) =>
      Array.isArray(list) && list.every((item) => typeof item === "string") ? (list as string[]) : undefined;
    const include = strings(include_files);
    const exclude = strings(exclude_files ?? []);
    if (typeof phone_id !== "string" || !Number.isInteger(android_version) || !include || !exclude)
      return undefined;
    return { phoneId: phone_id, androidVersion: android_version as number, include, exclude };
  } catch {
    return undefined;
  }
}

/**
 * The manifest of a tar whose first header is the emulator's pax global header, else undefined
 * (an archive from elsewhere). `head` is the start of the file; the caller checked its first block.
 */
export function readManifest(head: Buffer): ArchiveManifest | undefined {
  if (tarBlockKind(head.subarray(0, BLOCK)) !== "header" || head[156] !== 0x67) return undefined;
  const size = Number.parseInt(head.toString("ascii", 124, 136).replace(/\0/g, "").trim(), 8);
  if (!Number.isInteger(size) || size <= 0 || head.length < BLOCK + size) return undefined;
  const data = head.subarray(BLOCK, BLOCK + size);
  // Records are `<length> <keyword>=<value>\n`, the length in bytes and counting itself.
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) return undefined;
    const length = Number(data.toString("ascii", offset, space));
    if (!Number.isInteger(length) || length <= space - offset + 1) return undefined;
    const record = data.toString("utf8", space + 1, offset + length - 1);
    const equals = record.indexOf("=");
    if (equals > 0 && record.slice(0, equals) === MANIFEST_KEYWORD)
      return parseManifest(record.slice(equals + 1));
    offset += length;
  }
  return undefined;
}
