import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
import { utf8Bytes } from "./bytes.js";
import type { StorageInfo } from "./schemas.js";
import {
  serializeBatchExportBody,
  serializeStorageInfo,
  storageInfoJsonBytes,
  storageInfoJsonBytesBound,
  validStorageInfoJsonBytes,
} from "./serialize.js";
import { storageInfoArb } from "./test-support/arbitraries.js";

/** Any text: escapes, controls, lone surrogates, 2-, 3- and 4-byte characters. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("\uD800", "a\uDFFFb", '"\\', "\u0000\u001f\u007f", "é中😀", ""),
);
const anyInfoArb: fc.Arbitrary<StorageInfo> = fc.record(
  {
    phone_id: anyText,
    include_files: fc.array(anyText, { maxLength: 4 }),
    exclude_files: fc.array(anyText, { maxLength: 4 }),
    bucket_name: anyText,
    object_path: anyText,
  },
  { requiredKeys: ["phone_id", "include_files", "bucket_name", "object_path"] },
);

const bytesOf = (text: string) => utf8Bytes(text).byteLength;

describe("body sizes without serialising", () => {
  test.prop([anyInfoArb])(
    "storageInfoJsonBytes is the UTF-8 size of the serialised info, for any text",
    (info) => {
      expect(storageInfoJsonBytes(info)).toBe(bytesOf(serializeStorageInfo(info)));
    },
  );

  test.prop([anyInfoArb])("storageInfoJsonBytesBound never undercuts the real size", (info) => {
    expect(storageInfoJsonBytesBound(info)).toBeGreaterThanOrEqual(bytesOf(serializeStorageInfo(info)));
  });

  test.prop([storageInfoArb])("a valid info's size needs no scan of its characters", (info) => {
    expect(validStorageInfoJsonBytes(info)).toBe(bytesOf(serializeStorageInfo(info)));
  });

  test.prop([fc.array(anyInfoArb, { maxLength: 5 })])(
    "the body is the infos joined inside the envelope",
    (infos) => {
      expect(serializeBatchExportBody(infos)).toBe(
        `{"storage_infos":[${infos.map(serializeStorageInfo).join(",")}]}`,
      );
    },
  );

  test.prop([anyInfoArb, fc.constantFrom(null, 1, { a: 1 })])(
    "infos without the documented types are measured as they would be sent",
    (info, odd) => {
      const strange = { ...info, include_files: [odd] } as unknown as StorageInfo;
      expect(storageInfoJsonBytes(strange)).toBe(bytesOf(serializeStorageInfo(strange)));
      expect(storageInfoJsonBytesBound(strange)).toBeGreaterThanOrEqual(
        bytesOf(serializeStorageInfo(strange)),
      );
    },
  );
});
