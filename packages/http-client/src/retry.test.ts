import { CphApiError, CphAuthError, CphNetworkError } from "@cph-export/core";
import { fc, test } from "@fast-check/vitest";
import { errors } from "undici";
import { describe, expect, it } from "vitest";
import { defaultShouldRetry, mayRetryAtAll, retryDelay } from "./retry.js";
import { toNetworkError } from "./transport.js";

const api = (status: number, errorCode: string) => new CphApiError({ status, errorCode, errorMessage: "x" });
const request = { method: "POST", url: "https://cph.test/v1/p/cloud-phone/phones/batch-storage?x=1" };

describe("retryDelay", () => {
  test.prop([
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: 0, max: 60_000 }),
    fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  ])(
    "is full jitter under the capped exponential ceiling, and never shorter than Retry-After",
    (attempt, base, cap, retryAfter, random) => {
      const delay = retryDelay(
        { maxAttempts: 5, baseDelayMs: base, maxDelayMs: cap, random: () => random },
        attempt,
        retryAfter,
      );
      const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
      expect(delay).toBeGreaterThanOrEqual(retryAfter ?? 0);
      expect(delay).toBeLessThanOrEqual(Math.max(ceiling, retryAfter ?? 0));
      if (retryAfter === undefined) expect(delay).toBe(Math.floor(random * ceiling));
    },
  );
});

describe("the safe retry policy", () => {
  it.each([
    [api(429, "APIGW.0308"), "POST", true],
    [api(429, "APIG.0308"), "POST", true],
    [api(502, "APIGW.0201"), "POST", true],
    [api(503, "APIGW.0201"), "POST", true],
    [api(504, "APIGW.0201"), "POST", false],
    [api(500, "CPS.9999"), "POST", false],
    [api(400, "CPS.0003"), "POST", true],
    [api(500, "CPS.0003"), "POST", false],
    [api(500, "CPS.9999"), "GET", true],
    [api(400, "CPS.0004"), "GET", false],
    [new CphAuthError({ status: 401, errorCode: "APIGW.0301", errorMessage: "x" }), "GET", false],
    [new CphNetworkError("x", { phase: "connect" }), "POST", true],
    [new CphNetworkError("x", { phase: "send" }), "POST", false],
    [new CphNetworkError("x", { phase: "response" }), "POST", false],
    [new CphNetworkError("x", { phase: "response" }), "GET", true],
    [new Error("bug"), "GET", false],
  ])("%s for %s: %s", (error, method, expected) => {
    expect(defaultShouldRetry(error, { method, attempt: 1 })).toBe(expected);
  });

  it("does not retry a certificate failure, which no retry can fix", () => {
    const error = toNetworkError(
      Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      request,
    );
    expect(error.phase).toBe("connect");
    expect(defaultShouldRetry(error, { method: "GET", attempt: 1 })).toBe(false);
  });

  it("keeps a floor under any injected policy: a POST of unknown outcome is never resent", () => {
    expect(mayRetryAtAll(new CphNetworkError("x", { phase: "send" }), "POST")).toBe(false);
    expect(
      mayRetryAtAll(new CphAuthError({ status: 401, errorCode: "APIGW.0301", errorMessage: "x" }), "GET"),
    ).toBe(false);
    expect(mayRetryAtAll(new CphNetworkError("x", { phase: "send" }), "GET")).toBe(true);
    expect(mayRetryAtAll(api(500, "CPS.9999"), "POST")).toBe(false);
    expect(mayRetryAtAll(api(500, "CPS.0003"), "POST")).toBe(false);
    expect(mayRetryAtAll(api(504, "APIGW.0201"), "POST")).toBe(false);
    expect(mayRetryAtAll(api(503, "APIGW.0201"), "POST")).toBe(true);
    expect(mayRetryAtAll(api(409, "CPS.0010"), "POST")).toBe(true);
  });
});

describe("toNetworkError", () => {
  it.each([
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "connect"],
    [Object.assign(new Error("getaddrinfo ENOTFOUND cph.nowhere"), { code: "ENOTFOUND" }), "connect"],
    [new errors.ConnectTimeoutError(), "connect"],
    [
      Object.assign(
        new AggregateError([Object.assign(new Error("a"), { code: "ECONNREFUSED" })], "all failed"),
        {},
      ),
      "connect",
    ],
    [new errors.SocketError("other side closed"), "send"],
    [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "send"],
    [new errors.HeadersTimeoutError(), "response"],
    [new errors.BodyTimeoutError(), "response"],
  ])("%s is %s-phase", (cause, phase) => {
    const error = toNetworkError(cause, request);
    expect(error.phase).toBe(phase);
    expect(error.code).toBe("ERR_CPH_NETWORK");
    expect(error.cause).toBe(cause);
    expect(error.message).toContain("POST https://cph.test/v1/p/cloud-phone/phones/batch-storage");
    expect(error.message).not.toContain("x=1");
  });

  it("puts any failure after the headers in the response phase", () => {
    expect(
      toNetworkError(Object.assign(new Error("reset"), { code: "ECONNREFUSED" }), request, true).phase,
    ).toBe("response");
  });
});
