import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads units, and seconds without one", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("90")).toBe(90_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
  });

  it("refuses anything else", () => {
    for (const text of ["", "ten", "10x", "-5s", "1e3"]) expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it("keeps it short", () => {
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(12_400)).toBe("12s");
    expect(formatDuration(185_000)).toBe("3m05s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
  });
});
