import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { classifyArchive, DEFAULT_CLOCK_SKEW_MS, describeVerdict } from "./verify.js";

const time = fc.date({
  min: new Date("2020-01-01T00:00:00Z"),
  max: new Date("2030-01-01T00:00:00Z"),
  noInvalidDate: true,
});

describe("classifyArchive", () => {
  it("missing without an object, whatever else is said", () => {
    expect(classifyArchive({ exists: false, size: 10, lastModified: new Date() })).toBe("missing");
  });

  it("an empty object is stale, not proof", () => {
    expect(classifyArchive({ exists: true, size: 0, lastModified: new Date() })).toBe("stale");
    expect(classifyArchive({ exists: true })).toBe("stale");
  });

  it("without notBefore, any non-empty object is verified", () => {
    expect(classifyArchive({ exists: true, size: 1 })).toBe("verified");
  });

  it("an object older than the job (beyond the skew) is stale; within the skew it counts", () => {
    const notBefore = new Date("2026-12-06T12:00:00Z");
    const older = new Date(notBefore.getTime() - DEFAULT_CLOCK_SKEW_MS - 1);
    const withinSkew = new Date(notBefore.getTime() - DEFAULT_CLOCK_SKEW_MS);
    expect(classifyArchive({ exists: true, size: 5, lastModified: older }, { notBefore })).toBe("stale");
    expect(classifyArchive({ exists: true, size: 5, lastModified: withinSkew }, { notBefore })).toBe(
      "verified",
    );
    expect(classifyArchive({ exists: true, size: 5 }, { notBefore })).toBe("stale");
    expect(
      classifyArchive({ exists: true, size: 5, lastModified: older }, { notBefore, clockSkewMs: 0 }),
    ).toBe("stale");
  });

  test.prop([fc.boolean(), fc.nat(), time, time, fc.nat({ max: 3_600_000 })])(
    "verified exactly when the object exists, is non-empty and is not older than notBefore less the skew",
    (exists, size, lastModified, notBefore, clockSkewMs) => {
      const verdict = classifyArchive({ exists, size, lastModified }, { notBefore, clockSkewMs });
      const proof = exists && size > 0 && lastModified.getTime() >= notBefore.getTime() - clockSkewMs;
      expect(verdict === "verified").toBe(proof);
      expect(verdict === "missing").toBe(!exists);
      // A later write never makes a verdict worse.
      if (verdict === "verified") {
        const later = new Date(lastModified.getTime() + 1000);
        expect(classifyArchive({ exists, size, lastModified: later }, { notBefore, clockSkewMs })).toBe(
          "verified",
        );
      }
    },
  );

  it("says why, naming the object", () => {
    const where = { bucket: "b-1", key: "a/p.tar" };
    expect(describeVerdict("missing", where, { exists: false })).toBe("no object at b-1/a/p.tar");
    expect(describeVerdict("stale", where, { exists: true, size: 0 })).toBe("b-1/a/p.tar is empty");
    expect(
      describeVerdict(
        "stale",
        where,
        { exists: true, size: 3, lastModified: new Date("2026-01-01T00:00:00Z") },
        { notBefore: new Date("2026-02-01T00:00:00Z") },
      ),
    ).toContain("before the job began (2026-02-01T00:00:00.000Z)");
  });
});
