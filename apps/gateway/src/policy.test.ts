import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
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
