import { DEFAULT_ALLOWED_ROOTS, validateDevicePath } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { isLargePhone, listPhoneFiles, readPhoneFile } from "./phones.js";

const phoneId = fc.stringMatching(/^[0-9a-f]{32}$/);

describe("simulated phones", () => {
  test.prop([phoneId], { numRuns: 40 })(
    "a phone's tree is sorted, unique, deterministic, and made of valid device paths",
    (id) => {
      const files = listPhoneFiles(id);
      expect(listPhoneFiles(id)).toEqual(files);
      expect([...files].sort()).toEqual(files);
      expect(new Set(files).size).toBe(files.length);
      for (const file of files) {
        expect(validateDevicePath(file), file).toEqual([]);
        expect(DEFAULT_ALLOWED_ROOTS.some((root) => file.startsWith(`${root}/`))).toBe(true);
      }
      for (const prefix of [
        "/data/app/",
        "/data/data/",
        "/data/media/0/DCIM/",
        "/data/local/tmp/",
        "/cache/",
      ]) {
        expect(
          files.some((file) => file.startsWith(prefix)),
          prefix,
        ).toBe(true);
      }
    },
  );

  test.prop([
    phoneId,
    fc.constantFrom("/data/system/packages.xml", "/data/local/tmp/trace-1.txt", "/cache/recovery/last_log"),
  ])("file contents are deterministic and tell the phone apart", (id, path) => {
    const first = readPhoneFile(id, path);
    expect(readPhoneFile(id, path)).toEqual(first);
    expect(first.content.toString("utf8")).toContain(id);
  });

  it("holds a few dozen to a few hundred files, and a few thousand for the large phones", () => {
    const ids = Array.from({ length: 160 }, (_, index) => index.toString(16).padStart(32, "0"));
    const large = ids.filter(isLargePhone);
    expect(large.length).toBeGreaterThan(2);
    expect(large.length).toBeLessThan(30);
    for (const id of ids) {
      const count = listPhoneFiles(id).length;
      if (isLargePhone(id)) expect(count, id).toBeGreaterThanOrEqual(1500);
      else {
        expect(count, id).toBeGreaterThanOrEqual(30);
        expect(count, id).toBeLessThanOrEqual(400);
      }
    }
  });

  it("binary files start with the magic bytes of their type", () => {
    const id = "0123456789abcdef0123456789abcdef";
    const apk = listPhoneFiles(id).find((file) => file.endsWith("/base.apk"))!;
    expect(readPhoneFile(id, apk).content.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  });
});
