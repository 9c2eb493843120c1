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
  // Any 4 characters of a secret, as found raw or JSON-escaped in a serialised line.
  const hints = secrets.map((secret) => JSON.stringify(secret.slice(0, 4)).slice(1, -1).slice(0, 4));
  const now = options.now ?? Date.now;
  const log = (level: string, message: string, fields?: LogFields) => {
    const entry = { time: new Date(now()).toISOString(), level, msg: message, ...fields };
    let line = JSON.stringify(entry);
    // Escaping can split a secret in the line, so any hint of one redacts the values themselves
    // (before serialising, so that the line stays valid JSON).
    if (hints.some((hint) => line.includes(hint))) line = JSON.stringify(redactValue(entry, secrets, 0));
    write(`${line}\n`);
  };
  return {
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
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
