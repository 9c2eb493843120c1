import { readFileSync } from "node:fs";

// `--help` of a command path is answered from dist/help.json, written at build time by running
// the real program, so that printing help loads neither commander nor anything else.

/** The command path a plain help request names (`""`, `export`, `jobs wait`), or undefined. */
export function helpRequest(argv: readonly string[]): string | undefined {
  const last = argv[argv.length - 1];
  if (last !== "--help" && last !== "-h") return undefined;
  const path = argv.slice(0, -1);
  if (path.some((word) => word.startsWith("-"))) return undefined;
  return path.join(" ");
}

/** The cached help text of a command path; undefined when there is no cache or no such path. */
export function cachedHelp(
  path: string,
  file: URL = new URL("./help.json", import.meta.url),
): string | undefined {
  try {
    const texts = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const text = texts[path];
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}
