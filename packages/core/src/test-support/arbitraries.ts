// Arbitraries for valid values, built from the rules in api/CPH-API.md sections 1 and 6 rather
// than from the validator's own regular expressions, so that a property can catch a wrong rule.
import { fc } from "@fast-check/vitest";
import type { StorageInfo } from "../schemas.js";

/** Cloud phone ids: the documented examples are 32 lowercase hex characters; shorter ids appear in tests. */
export const phoneIdArb = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{32}$/),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
);

/** One path segment from the allowed characters `A-Z a-z 0-9 . - _ + # ~ =`, never `.` or `..`. */
export const segmentArb = fc
  .stringMatching(/^[A-Za-z0-9._\-+#~=]{1,24}$/)
  .filter((segment) => segment !== "." && segment !== "..");

export const rootArb = fc.constantFrom("/data", "/cache");

/**
 * A path an export may name: an allowed root, then segments; optionally a trailing `/`, or a
 * trailing `*` after a `/` or inside the last segment.
 */
export const devicePathArb = fc
  .tuple(
    rootArb,
    fc.array(segmentArb, { minLength: 0, maxLength: 6 }),
    fc.constantFrom("", "", "", "/", "*", "/*"),
  )
  .map(([root, segments, ending]) => {
    const base = [root, ...segments].join("/");
    // `/data*` would reach `/data2`: a star straight after the root needs the root's slash.
    if (segments.length === 0 && ending === "*") return `${base}/*`;
    return `${base}${ending}`;
  });

/** Lowercase letters and digits with single inner `-` runs allowed; never ending in `-`. */
const bucketLabelArb = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/);

/** Valid OBS bucket names: labels joined by `.`, 3-63 characters, not shaped like an IPv4 address. */
export const bucketNameArb = fc
  .array(bucketLabelArb, { minLength: 1, maxLength: 4 })
  .map((labels) => labels.join("."))
  .filter((name) => name.length >= 3 && name.length <= 63 && !/^\d+\.\d+\.\d+\.\d+$/.test(name));

const objectSegmentArb = fc
  .stringMatching(/^[A-Za-z0-9._\-+#=]{1,24}$/)
  .filter((segment) => segment !== "." && segment !== "..");

/** Object paths from the allowed characters, ending in `.tar`, so that they draw no warning. */
export const objectPathArb = fc
  .array(objectSegmentArb, { minLength: 0, maxLength: 5 })
  .map((segments) => [...segments, "phone.tar"].join("/"));

export const storageInfoArb: fc.Arbitrary<StorageInfo> = fc.record(
  {
    phone_id: phoneIdArb,
    include_files: fc.array(devicePathArb, { minLength: 1, maxLength: 4 }),
    exclude_files: fc.array(devicePathArb, { minLength: 0, maxLength: 3 }),
    bucket_name: bucketNameArb,
    object_path: objectPathArb,
  },
  { requiredKeys: ["phone_id", "include_files", "bucket_name", "object_path"] },
);

/** Storage infos with distinct phone ids: what one request may carry. */
export function storageInfosArb(constraints: { minLength?: number; maxLength?: number } = {}) {
  return fc.uniqueArray(storageInfoArb, {
    minLength: constraints.minLength ?? 1,
    maxLength: constraints.maxLength ?? 12,
    selector: (info) => info.phone_id,
  });
}

/** A valid batch-storage body. */
export const batchExportRequestArb = storageInfosArb().map((storage_infos) => ({ storage_infos }));

/** Characters no CPH charset admits, ASCII and not (space, quotes, shell and URL specials, non-Latin). */
export const badCharArb = fc.constantFrom(
  " ",
  "!",
  "$",
  "%",
  "&",
  "'",
  '"',
  "(",
  "?",
  "@",
  "\\",
  ":",
  ";",
  ",",
  "\n",
  "\t",
  "\u0000",
  "é",
  "中",
  "😀",
);

/** Multi-byte characters: 2, 3 and 4 UTF-8 bytes. */
export const multiByteCharArb = fc.constantFrom("é", "ß", "中", "€", "😀");
