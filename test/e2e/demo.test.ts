// The README's first command, `npm run demo`, after its install and build: the demo script runs the
// built emulator and CLI end to end (export, where the archives are, verify, restore) and exits 0.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

it("exports 40 phones, proves 38 archives, restores 3 phones' files byte for byte, exit 0", () => {
  for (const built of ["packages/cli/dist/main.js", "packages/emulator/dist/main.js"])
    if (!existsSync(join(ROOT, built)))
      throw new Error(`build first (npx turbo run build): ${built} is missing`);
  const result = spawnSync(process.execPath, [join(ROOT, "scripts", "demo.mjs")], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", HOME: ROOT, NO_COLOR: "1" },
    timeout: 120_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.status, output).toBe(0);
  expect(output).toMatch(/^export: 40 phones in .*: 38 succeeded, 1 failed, 1 rejected/m);
  expect(output).toMatch(/38 archives under .*demo-backups\//);
  expect(output).toContain("verify: 40 phones: 38 verified, 1 missing, 0 stale, 1 not exported");
  expect(output).toMatch(/^restore: 3 phones in .*: 3 succeeded/m);
  expect(output.match(/identical to before/g)).toHaveLength(6);
  expect(output).not.toContain("NOT restored");
  expect(output).toContain("Stopped the emulator.");
}, 150_000);
