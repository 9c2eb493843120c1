import { readFileSync } from "node:fs";

let cached: string | undefined;

/** The CLI's version, from its package.json (read once, synchronously: it is tiny). */
export function cliVersion(): string {
  if (cached === undefined) {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    cached = (JSON.parse(text) as { version: string }).version;
  }
  return cached;
}
