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

/** A logger writing JSON lines (`time`, `level`, `msg`, then the fields), secrets redacted. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  // A secret with quotes or backslashes appears escaped inside a JSON line: redact both spellings.
  const secrets = [
    ...new Set((options.secrets ?? []).flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)])),
  ].filter((secret) => secret.length >= 4);
  const now = options.now ?? Date.now;
  const log = (level: string, message: string, fields?: LogFields) => {
    let line = JSON.stringify({ time: new Date(now()).toISOString(), level, msg: message, ...fields });
    if (secrets.length > 0) line = redactText(line, secrets);
    write(`${line}\n`);
  };
  return {
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
}
