import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GATEWAY_ERRORS } from "./errors.js";

describe("CPHGW codes", () => {
  it("are each documented in the README with their HTTP status", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const [code, { status }] of Object.entries(GATEWAY_ERRORS)) {
      expect(readme).toContain(`| \`${code}\` | ${status} |`);
    }
  });

  it("encode their HTTP status in their first three digits", () => {
    for (const [code, { status }] of Object.entries(GATEWAY_ERRORS)) {
      expect(code.slice("CPHGW.".length, "CPHGW.".length + 3)).toBe(String(status));
    }
  });
});
