import { CphApiError, CphAuthError, CphNetworkError, CphValidationError } from "@cph-export/core";
import { describe, expect, it } from "vitest";
import { CliError, describeError, exitCodeFor } from "./errors.js";
import { EXIT, worstExit } from "./exit-codes.js";

describe("exitCodeFor", () => {
  it("maps each error kind to its documented exit code", () => {
    expect(exitCodeFor(new CliError("bad flag"))).toBe(EXIT.usage);
    expect(
      exitCodeFor(
        new CphValidationError([
          { code: "required", path: "x", message: "x is required", severity: "error" },
        ]),
      ),
    ).toBe(2);
    expect(
      exitCodeFor(new CphAuthError({ status: 401, errorCode: "APIGW.0301", errorMessage: "bad signature" })),
    ).toBe(3);
    expect(exitCodeFor(new CphApiError({ status: 403, errorCode: "APIGW.0302", errorMessage: "no" }))).toBe(
      3,
    );
    expect(
      exitCodeFor(new CphApiError({ status: 400, errorCode: "CPS.0001", errorMessage: "no permission" })),
    ).toBe(3);
    expect(
      exitCodeFor(new CphApiError({ status: 400, errorCode: "CPS.0004", errorMessage: "bad phone" })),
    ).toBe(1);
    expect(
      exitCodeFor(new CphApiError({ status: 503, errorCode: "APIGW.0201", errorMessage: "backend" })),
    ).toBe(4);
    expect(
      exitCodeFor(new CphApiError({ status: 429, errorCode: "APIGW.0308", errorMessage: "slow down" })),
    ).toBe(4);
    expect(exitCodeFor(new CphNetworkError("ECONNREFUSED", { phase: "connect" }))).toBe(4);
    expect(exitCodeFor(new DOMException("aborted", "AbortError"))).toBe(130);
  });

  it("describes an error in one line that says what to do", () => {
    const text = describeError(new CphNetworkError("connect ECONNREFUSED 127.0.0.1:9", { phase: "connect" }));
    expect(text).toMatch(/^network failure: .*check the endpoint/);
    expect(text).not.toContain("\n");
    expect(describeError(new Error("boom"))).toMatch(/--debug/);
  });
});

describe("worstExit", () => {
  it("orders outcomes: interrupted > auth > upstream > usage > failed > ok", () => {
    expect(worstExit(EXIT.failed, EXIT.upstream)).toBe(EXIT.upstream);
    expect(worstExit(EXIT.auth, EXIT.upstream)).toBe(EXIT.auth);
    expect(worstExit(EXIT.interrupted, EXIT.auth)).toBe(EXIT.interrupted);
    expect(worstExit(EXIT.ok, EXIT.failed)).toBe(EXIT.failed);
  });
});
