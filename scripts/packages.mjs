// Shared by scripts/lint-packages.mjs and test/packaging: which workspace packages are published, and packing them as npm would.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The condition that points workspace tooling (vitest, tsc) at `src/*.ts`; it is never set by a consumer. */
export const SOURCE_CONDITION = "@cph-export/source";

/**
 * Every workspace package, published or not.
 * @returns {{ dir: string, name: string, version: string, private: boolean, manifest: Record<string, any> }[]}
 */
export function workspacePackages() {
  const found = [];
  for (const group of ["packages", "apps"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base).sort()) {
      const file = join(base, entry, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      found.push({
        dir: join(base, entry),
        name: manifest.name,
        version: manifest.version,
        private: manifest.private === true,
        manifest,
      });
    }
  }
  return found;
}

/** The packages that go to the npm registry: every workspace package not marked `private`. */
export function publishedPackages() {
  return workspacePackages().filter((pkg) => !pkg.private);
}

/** The pnpm pinned by the workspace; `pnpm pack` rewrites `workspace:*` and `catalog:` into real versions. */
export function pnpmCommand() {
  const local = join(root, "node_modules", "pnpm", "bin", "pnpm.cjs");
  if (!existsSync(local)) {
    throw new Error(`pnpm is not installed at ${local}: run 'npm test' or 'node scripts/setup.mjs' first`);
  }
  return [process.execPath, local];
}

/**
 * Runs a command, collecting its output; rejects with both streams when it exits non-zero.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, allowFailure?: boolean }} [options]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      env: options.env ?? { ...process.env, npm_config_update_notifier: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 && !options.allowFailure) {
        const shown = [command, ...args].join(" ");
        reject(new Error(`'${shown}' exited with ${code} in ${options.cwd ?? root}\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Packs one package with pnpm into `destination` and returns the tarball's path.
 * Its `dist/` must be built first: packing does not build.
 * @param {{ dir: string, name: string, version: string }} pkg
 * @param {string} destination
 */
export async function packPackage(pkg, destination) {
  if (!existsSync(join(pkg.dir, "dist"))) {
    throw new Error(`${pkg.name} has no dist/: build it first ('npx turbo run build')`);
  }
  const [command, ...prefix] = pnpmCommand();
  await run(command, [...prefix, "pack", "--pack-destination", destination], { cwd: pkg.dir });
  const tarball = join(destination, `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`);
  if (!existsSync(tarball)) {
    throw new Error(`pnpm pack for ${pkg.name} did not write ${tarball}`);
  }
  return tarball;
}
