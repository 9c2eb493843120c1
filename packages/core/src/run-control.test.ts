import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  formatMaxErrors,
  formatRate,
  type MaxErrors,
  maxErrorsExceeded,
  parseMaxErrors,
  parseRate,
} from "./run-control.js";

const limits: fc.Arbitrary<MaxErrors> = fc.oneof(
  fc.integer({ min: 0, max: 999_999_999 }).map((count) => ({ count })),
  fc.integer({ min: 1, max: 100_000 }).map((thousandths) => ({ percent: thousandths / 1000 })),
);

describe("parseMaxErrors", () => {
  it.each([
    ["5", { count: 5 }],
    ["0", { count: 0 }],
    [" 12 ", { count: 12 }],
    ["10%", { percent: 10 }],
    ["100%", { percent: 100 }],
    ["2.5%", { percent: 2.5 }],
  ])("reads %j", (input, value) => {
    expect(parseMaxErrors(input)).toEqual({ ok: true, value });
  });

  it.each(["", "-1", "5.5", "abc", "101%", "0%", "%", "5 %", "1e3", "-5%"])("refuses %j", (input) => {
    const result = parseMaxErrors(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(JSON.stringify(input));
  });

  test.prop([limits])("a formatted limit reads back as itself", (limit) => {
    expect(parseMaxErrors(formatMaxErrors(limit))).toEqual({ ok: true, value: limit });
  });

  test.prop([fc.stringMatching(/^-\d{1,4}%?$|^\d{1,4}\.\d{1,3}$/)])(
    "negative numbers and fractional counts are refused",
    (input) => {
      expect(parseMaxErrors(input).ok).toBe(false);
    },
  );
});

describe("parseRate", () => {
  it.each([
    ["10", 10],
    ["10/s", 10],
    ["0.5/s", 0.5],
    ["600/min", 10],
    ["1/min", 1 / 60],
  ])("reads %j as %d requests per second", (input, value) => {
    expect(parseRate(input)).toEqual({ ok: true, value });
  });

  it.each(["", "0", "0/s", "0.0/min", "-1", "fast", "10/h", "10/", "/s", "1e3", "Infinity"])(
    "refuses %j",
    (input) => {
      const result = parseRate(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toContain(JSON.stringify(input));
    },
  );

  test.prop([fc.double({ min: 1e-6, max: 999_999_999, noNaN: true })])(
    "a formatted rate reads back as itself",
    (rate) => {
      const formatted = formatRate(rate);
      // Only the decimal forms are part of the syntax; doubles printed with an exponent are not.
      fc.pre(!/e/i.test(formatted) && (formatted.split(".")[1]?.length ?? 0) <= 9);
      expect(parseRate(formatted)).toEqual({ ok: true, value: rate });
    },
  );

  test.prop([fc.integer({ min: 1, max: 1_000_000 })])("per minute is a sixtieth of per second", (amount) => {
    const perMinute = parseRate(`${amount}/min`);
    const perSecond = parseRate(`${amount}/s`);
    expect(perMinute.ok && perSecond.ok).toBe(true);
    if (perMinute.ok && perSecond.ok) expect(perMinute.value * 60).toBeCloseTo(perSecond.value, 6);
  });
});

describe("maxErrorsExceeded", () => {
  it("a count is exceeded above it; 0 stops at the first error", () => {
    expect(maxErrorsExceeded({ count: 5 }, { errors: 5, done: 10 })).toBe(false);
    expect(maxErrorsExceeded({ count: 5 }, { errors: 6, done: 10 })).toBe(true);
    expect(maxErrorsExceeded({ count: 0 }, { errors: 0, done: 10 })).toBe(false);
    expect(maxErrorsExceeded({ count: 0 }, { errors: 1, done: 1 })).toBe(true);
  });

  it("a percentage is of the phones done, and never exceeded with none done", () => {
    expect(maxErrorsExceeded({ percent: 10 }, { errors: 1, done: 10 })).toBe(false);
    expect(maxErrorsExceeded({ percent: 10 }, { errors: 2, done: 10 })).toBe(true);
    expect(maxErrorsExceeded({ percent: 100 }, { errors: 10, done: 10 })).toBe(false);
    expect(maxErrorsExceeded({ percent: 1 }, { errors: 0, done: 0 })).toBe(false);
  });

  test.prop([limits, fc.nat({ max: 100_000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 1000 })])(
    "more errors never un-exceed a limit (monotone in errors)",
    (limit, done, errors, more) => {
      const total = Math.max(done, errors + more);
      if (maxErrorsExceeded(limit, { errors, done: total }))
        expect(maxErrorsExceeded(limit, { errors: errors + more, done: total })).toBe(true);
    },
  );

  test.prop([limits, fc.nat({ max: 100_000 }), fc.nat({ max: 100_000 })])(
    "matches the rule: count errors > count; percent errors*100 > percent*done with done > 0",
    (limit, a, b) => {
      const errors = Math.min(a, b);
      const done = Math.max(a, b);
      const expected =
        "count" in limit ? errors > limit.count : done > 0 && errors * 100 > limit.percent * done;
      expect(maxErrorsExceeded(limit, { errors, done })).toBe(expected);
    },
  );

  test.prop([fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 10_000 })])(
    "every error of every phone exceeds any percentage below 100, never 100 itself",
    (percent, done) => {
      expect(maxErrorsExceeded({ percent }, { errors: done, done })).toBe(percent < 100);
    },
  );
});
