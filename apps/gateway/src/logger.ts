import { redactText } from "@cph-export/core";

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

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === "string")
    return secrets.some((secret) => value.includes(secret)) ? redactText(value, secrets) : value;
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactValue(item, secrets, depth + 1);
  return out;
}

/** A logger writing JSON lines (`time`, `level`, `msg`, then the fields), secrets redacted. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const secrets = (options.secrets ?? []).filter((secret) => secret.length >= 4);
  const now = options.now ?? Date.now;
  const log = (level: string, message: string, fields?: LogFields) => {
    const entry = { time: new Date(now()).toISOString(), level, msg: message, ...fields };
    // Strings are redacted before serialising, so that the line stays valid JSON.
    write(`${JSON.stringify(secrets.length > 0 ? redactValue(entry, secrets, 0) : entry)}\n`);
  };
  return {
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
}
