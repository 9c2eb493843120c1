// Installs the workspace with the pinned pnpm, using only Node and npm: the first step of `npm test` and `npm run demo`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PNPM = "pnpm@10.34.9";
const local = join(root, "node_modules", ".bin", "pnpm");
const command = existsSync(local) ? local : "npx";
const args = existsSync(local) ? [] : ["-y", PNPM];
const install = (reporter) =>
  spawnSync(
    command,
    [...args, "install", "--frozen-lockfile", "--prefer-offline", `--reporter=${reporter}`],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, npm_config_update_notifier: "false" },
    },
  );
let result = install("silent");
// The silent reporter hides why an install failed (an out-of-date lockfile, a missing package): say it.
if (result.status !== 0) result = install("append-only");
if (result.status !== 0) {
  console.error(
    `setup: '${PNPM} install' failed (exit ${result.status ?? result.signal}); see the output above.`,
  );
  process.exit(result.status ?? 1);
}
