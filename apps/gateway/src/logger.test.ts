import { fc, test } from "@fast-check/vitest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashApiKey } from "./auth.js";
import { createJsonLogger, createLineBuffer } from "./logger.js";

afterEach(() => {
  vi.useRealTimers();
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

describe("createJsonLogger (pino)", () => {
  it("writes one JSON line: level word, ISO time, the fields, msg; no pid or hostname", () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line), now: () => Date.UTC(2026, 11, 6) });
    logger.warn("refused", { caller: "team-a", status: 403 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith("\n")).toBe(true);
    expect(JSON.parse(lines[0] as string)).toEqual({
      level: "warn",
      time: "2026-12-06T00:00:00.000Z",
      caller: "team-a",
      status: 403,
      msg: "refused",
    });
  });

  it("censors credential fields by path, whatever their value", () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line) });
    logger.error("upstream call failed", {
      headers: { authorization: "Bearer abc", "x-auth-token": "tok", accept: "json" },
      upstream: { secretKey: "sk-value", region: "cn-north-4" },
      password: "pw",
    });
    const entry = JSON.parse(lines[0] as string);
    expect(entry.headers).toEqual({
      authorization: "[REDACTED]",
      "x-auth-token": "[REDACTED]",
      accept: "json",
    });
    expect(entry.upstream).toEqual({ secretKey: "[REDACTED]", region: "cn-north-4" });
    expect(entry.password).toBe("[REDACTED]");
  });
});

describe("createJsonLogger's fast path for flat lines", () => {
  const KEYS = [
    "authorization",
    "password",
    "token",
    "apiKey",
    "caller",
    "route",
    "status",
    "access_key",
    "headers",
  ];
  const value = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.record({ authorization: fc.string({ maxLength: 8 }), accept: fc.string({ maxLength: 8 }) }),
  );
  test.prop([fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 6 })])(
    "censors exactly what the redacting logger censors, flat line or not",
    (fields) => {
      const lines: string[] = [];
      createJsonLogger({ write: (line) => lines.push(line) }).info("request", fields);
      const entry = JSON.parse(lines.join(""));
      for (const [key, given] of Object.entries(fields)) {
        if (["authorization", "password", "token", "apiKey"].includes(key))
          expect(entry[key]).toBe("[REDACTED]");
        else if (typeof given === "object" && given !== null)
          expect(entry[key]).toEqual({ ...given, authorization: "[REDACTED]" });
        else expect(entry[key]).toEqual(given);
      }
    },
  );
});

describe("createLineBuffer", () => {
  it("writes the lines of a burst together, after the delay", () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const buffer = createLineBuffer((text) => writes.push(text), { maxDelayMs: 20 });
    buffer.write("a\n");
    buffer.write("b\n");
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(19);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(writes).toEqual(["a\nb\n"]);
    buffer.write("c\n");
    buffer.flush();
    expect(writes).toEqual(["a\nb\n", "c\n"]);
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(2);
  });

  it("writes at once when the pending lines reach the size bound", () => {
    vi.useFakeTimers();
    const writes: string[] = [];
    const buffer = createLineBuffer((text) => writes.push(text), { maxBytes: 10 });
    buffer.write("12345\n");
    expect(writes).toEqual([]);
    buffer.write("67890\n");
    expect(writes).toEqual(["12345\n67890\n"]);
  });
});
