import { REDACTED, redactText } from "@cph-export/core";
import { pino } from "pino";

export type LogFields = Record<string, unknown>;

/** Structured log sink; every line is one JSON object. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Receives one line (with its newline); default stdout. */
  write?: (line: string) => void;
  /** Secret values to replace with `[REDACTED]` wherever they appear, as a last line of defence. */
  secrets?: readonly string[];
  now?: () => number;
}

/**
 * Fields that hold credentials wherever they appear in a log line's fields, censored by pino's
 * redaction before serialising (a request's headers, an error's config, a caller's settings).
 */
export const REDACTED_PATHS: readonly string[] = [
  "authorization",
  "password",
  "secretKey",
  "securityToken",
  "token",
  "apiKey",
  "*.authorization",
  "*.password",
  "*.secretKey",
  "*.securityToken",
  "*.token",
  "*.apiKey",
  "headers.authorization",
  'headers["x-auth-token"]',
  'headers["x-security-token"]',
  "*.headers.authorization",
  '*.headers["x-auth-token"]',
  '*.headers["x-security-token"]',
];

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === "string")
    return secrets.some((secret) => value.includes(secret)) ? redactText(value, secrets) : value;
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactValue(item, secrets, depth + 1);
  return out;
}

/**
 * A pino logger writing JSON lines (`level` as a word, `time` as ISO 8601, `msg`, the fields), no
 * pid or hostname. Credentials are censored by path (`REDACTED_PATHS`) and, as a last line of
 * defence, any listed secret value found anywhere in a line is replaced with `[REDACTED]`.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const secrets = (options.secrets ?? []).filter((secret) => secret.length >= 4);
  // Any 4 characters of a secret, as found raw or JSON-escaped in a serialised line.
  const hints = secrets.map((secret) => JSON.stringify(secret.slice(0, 4)).slice(1, -1).slice(0, 4));
  const now = options.now ?? Date.now;
  const settings = (redact: boolean) =>
    ({
      base: null,
      messageKey: "msg",
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      ...(redact ? { redact: { paths: [...REDACTED_PATHS], censor: REDACTED } } : {}),
      hooks: {
        // Escaping can split a secret in the line, so any hint of one redacts the values themselves,
        // and the line is written anew (so that it stays valid JSON).
        streamWrite: (line) =>
          hints.some((hint) => line.includes(hint))
            ? `${JSON.stringify(redactValue(JSON.parse(line), secrets, 0))}\n`
            : line,
      },
    }) satisfies pino.LoggerOptions;
  const logger = pino(settings(true), { write });
  // Path redaction cannot change a line whose fields are flat (no objects) and none of whose keys
  // is a redacted name: such lines (the access log's, one a request) skip its cost. The secret
  // values are still looked for in every line (streamWrite).
  const flat = pino(settings(false), { write });
  const pick = (fields: LogFields | undefined) => (fields && !isFlatAndClear(fields) ? logger : flat);
  return {
    info: (message, fields) => pick(fields).info(fields ?? {}, message),
    warn: (message, fields) => pick(fields).warn(fields ?? {}, message),
    error: (message, fields) => pick(fields).error(fields ?? {}, message),
  };
}

/** Top-level names `REDACTED_PATHS` censors. */
const REDACTED_KEYS = new Set(REDACTED_PATHS.filter((path) => /^[A-Za-z]+$/.test(path)));

/** True when no path of `REDACTED_PATHS` can match in these fields: no object values, no redacted key. */
export function isFlatAndClear(fields: LogFields): boolean {
  for (const key in fields) {
    const value = fields[key];
    if (REDACTED_KEYS.has(key) || (typeof value === "object" && value !== null)) return false;
  }
  return true;
}

/** Collects log lines and hands them on in batches; `flush` writes what is left. */
export interface LineBuffer {
  write(line: string): void;
  flush(): void;
}

/**
 * Batches lines for `sink` (e.g. stdout, whose writes to files and pipes are synchronous): under
 * load one write carries many access-log lines instead of one system call each. Lines wait at most
 * `maxDelayMs` (default 20 ms), or until `maxBytes` (default 64 KiB) are pending.
 */
export function createLineBuffer(
  sink: (text: string) => void,
  options: { maxDelayMs?: number; maxBytes?: number } = {},
): LineBuffer {
  const maxDelayMs = options.maxDelayMs ?? 20;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    bytes = 0;
    sink(text);
  };
  return {
    write(line) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= maxBytes) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, maxDelayMs);
        // Pending lines never keep the process alive: the exit handler writes them.
        timer.unref();
      }
    },
    flush,
  };
}
