import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { PhoneFileStore } from "./phone-files.js";
import { listPhoneFiles, type PhoneFile, readPhoneFile } from "./phones.js";

const PHONE = "0123456789abcdef0123456789abcdef";

function snapshot(store: PhoneFileStore, phoneId: string): Map<string, PhoneFile> {
  return new Map(store.list(phoneId).map((path) => [path, store.read(phoneId, path)!]));
}

const change = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    name: fc.stringMatching(/^[a-z0-9]{1,8}$/),
    text: fc.string(),
  }),
  fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
);

describe("PhoneFileStore", () => {
  it("starts as the generated tree and says which files exist", () => {
    const store = new PhoneFileStore();
    const generated = listPhoneFiles(PHONE);
    expect(store.list(PHONE)).toEqual(generated);
    expect(store.has(PHONE, generated[0]!)).toBe(true);
    expect(store.has(PHONE, "/data/none")).toBe(false);
    expect(
      store.read(PHONE, generated[0]!)?.content.equals(readPhoneFile(PHONE, generated[0]!).content),
    ).toBe(true);
    expect(store.remove(PHONE, "/data/none")).toBe(false);
  });

  test.prop([fc.array(change, { maxLength: 20 })], { numRuns: 30 })(
    "replacing every file with a snapshot gives the snapshot back, whatever changed in between",
    (changes) => {
      const store = new PhoneFileStore();
      store.write(PHONE, "/data/local/tmp/first.txt", Buffer.from("first"));
      const saved = snapshot(store, PHONE);
      for (const step of changes) {
        if (step.kind === "write") store.write(PHONE, `/data/local/tmp/${step.name}`, Buffer.from(step.text));
        else {
          const files = store.list(PHONE);
          store.remove(PHONE, files[step.pick % files.length]!);
        }
      }
      store.replace(PHONE, store.list(PHONE), saved);
      const restored = snapshot(store, PHONE);
      expect([...restored.keys()]).toEqual([...saved.keys()]);
      for (const [path, file] of saved)
        expect(restored.get(path)?.content.equals(file.content), path).toBe(true);
    },
  );

  it("keeps nothing for a phone restored to its generated files", () => {
    const store = new PhoneFileStore();
    const generated = snapshot(store, PHONE);
    store.remove(PHONE, [...generated.keys()][0]!);
    store.replace(PHONE, store.list(PHONE), generated);
    expect(store.changedPhones).toBe(0);
    expect(store.list(PHONE)).toEqual(listPhoneFiles(PHONE));
    store.write(PHONE, "/cache/x", Buffer.from("x"));
    expect(store.changedPhones).toBe(1);
    store.reset();
    expect(store.list(PHONE)).toEqual(listPhoneFiles(PHONE));
  });
});
