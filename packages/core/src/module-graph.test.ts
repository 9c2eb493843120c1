import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sourceDirectory = fileURLToPath(new URL(".", import.meta.url));

/** Relative modules a source file imports at runtime (`import type` is erased and does not count). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(`${sourceDirectory}${file}`, "utf8");
  const imports: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\sfrom\s+)?"([^"]+)";/gms)) {
    if (!match[1]) imports.push(match[2]!);
  }
  return imports;
}

/** Every module `entry` reaches at runtime, relative ones as file names, packages by name. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith("./")) pending.push(specifier.slice(2).replace(/\.js$/, ".ts"));
      else seen.add(specifier);
    }
  }
  return seen;
}

describe("module graph", () => {
  it("keeps zod out of validation, so that a bundle that only validates stays small", () => {
    const modules = reachable("validate.ts");
    expect(modules).toContain("device-path.ts");
    expect(modules).not.toContain("zod");
    expect(modules).not.toContain("schemas.ts");
  });

  it("has no node: imports anywhere in the sources", () => {
    const modules = reachable("index.ts");
    expect(modules).toContain("signing.ts");
    expect([...modules].filter((name) => name.startsWith("node:"))).toEqual([]);
  });
});
