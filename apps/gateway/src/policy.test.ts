import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "./auth.js";
import { createJsonLogger } from "./logger.js";
import { compileBucketPattern } from "./policy.js";

const bucketChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789.-");
const bucketText = (min: number, max: number) =>
  fc.string({ unit: bucketChar, minLength: min, maxLength: max });

describe("bucket patterns", () => {
  test.prop([bucketText(3, 40), bucketText(3, 40)])(
    "an exact name matches only itself",
    (pattern, bucket) => {
      expect(compileBucketPattern(pattern)(bucket)).toBe(pattern === bucket);
    },
  );

  test.prop([bucketText(0, 20), bucketText(0, 20), bucketText(0, 20)])(
    "prefix-* matches every bucket that starts with the prefix, and no other",
    (prefix, suffix, other) => {
      const matches = compileBucketPattern(`${prefix}*`);
      expect(matches(prefix + suffix)).toBe(true);
      expect(matches(other)).toBe(other.startsWith(prefix));
    },
  );

  test.prop([bucketText(1, 10), bucketText(1, 10)])(
    "? stands for exactly one character, and . is literal",
    (left, right) => {
      const matches = compileBucketPattern(`${left}?${right}`);
      expect(matches(`${left}x${right}`)).toBe(true);
      expect(matches(`${left}${right}`)).toBe(false);
      expect(compileBucketPattern("team.a-*")("teamxa-1")).toBe(false);
    },
  );
});

describe("API key hashes and log redaction", () => {
  it("hashes an API key as sha256:<hex> (the same as sha256sum)", () => {
    expect(hashApiKey("abc")).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test.prop([fc.string({ minLength: 4, maxLength: 40 }), fc.string({ maxLength: 40 })])(
    "the logger never writes a listed secret, even inside other text, and keeps the line JSON",
    (secret, around) => {
      // A secret inside the marker itself cannot be told apart from the marker.
      fc.pre(!"[REDACTED]".includes(secret));
      const lines: string[] = [];
      const logger = createJsonLogger({ write: (line) => lines.push(line), secrets: [secret] });
      logger.error("failed", { error: `${around}${secret}${around}`, nested: { value: secret } });
      const entry = JSON.parse(lines.join(""));
      expect(entry).toMatchObject({ level: "error", msg: "failed", nested: { value: "[REDACTED]" } });
      expect(entry.error).not.toContain(secret);
    },
  );
});
