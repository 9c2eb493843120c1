// A stranger's empty project: the published tarballs installed with plain npm, run with the Node that runs vitest.
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { packPackage, publishedPackages, type WorkspacePackage } from "../../scripts/packages.mjs";

export type PackageInfo = WorkspacePackage;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The packages that are published, read from the workspace. */
export function published(): PackageInfo[] {
  return publishedPackages();
}

/**
 * npm's own entry script for the running Node. Node binaries from the registry (CI's Node 24) come
 * without npm: then the first npm on PATH is used, still run by this Node.
 */
export function npmCli(name: "npm-cli.js" | "npx-cli.js"): string {
  const candidates = [join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", name)];
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const npm = join(dir, "npm");
    if (!dir || !existsSync(npm)) continue;
    const real = realpathSync(npm);
    candidates.push(join(dirname(real), name), join(dir, "..", "lib", "node_modules", "npm", "bin", name));
  }
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`no npm found for ${process.execPath}: looked at ${candidates.join(", ")}`);
  return found;
}

/**
 * The environment of a user's shell: this Node first on PATH (so `#!/usr/bin/env node` bins run on it),
 * and none of the npm_* and pnpm settings that `npm test` passes down to the workspace's scripts.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_)/i.test(key) || key === "NODE_OPTIONS" || key === "INIT_CWD") continue;
    env[key] = value;
  }
  env["PATH"] = [dirname(process.execPath), process.env["PATH"] ?? ""].join(delimiter);
  env["npm_config_update_notifier"] = "false";
  env["NO_COLOR"] = "1";
  return { ...env, ...extra };
}

/** Runs a command to its end, collecting both streams. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? userEnv(),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export interface Consumer {
  dir: string;
  tarballs: Map<string, string>;
  /** Runs `node <args>` in the project with the Node running the tests. */
  node(args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  /** Runs `npx --no -- <args>`: only what is installed in the project, never a download. */
  npx(args: string[], extraEnv?: Record<string, string>): Promise<RunResult>;
  /** Starts an installed bin from node_modules/.bin, as a user's shell would. */
  startBin(name: string, args: string[], extraEnv?: Record<string, string>): ChildProcess;
  write(name: string, text: string): string;
  remove(): void;
}

/**
 * Packs every published package with pnpm and installs all the tarballs, in one `npm install`, into a
 * new empty project outside the workspace. Third-party dependencies come from the npm registry (or
 * npm's cache); the project's own packages only from the tarballs.
 */
export async function createConsumer(packages: PackageInfo[]): Promise<Consumer> {
  const base = mkdtempSync(join(tmpdir(), "cph-packaging-"));
  const packs = join(base, "packs");
  const dir = join(base, "project");
  mkdirSync(packs);
  mkdirSync(dir);
  const remove = () => rmSync(base, { recursive: true, force: true });
  try {
    const tarballs = new Map<string, string>();
    for (const pkg of packages) tarballs.set(pkg.name, await packPackage(pkg, packs));
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify({ name: "stranger", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
    );
    const install = await runCommand(
      process.execPath,
      [
        npmCli("npm-cli.js"),
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...tarballs.values(),
      ],
      { cwd: dir },
    );
    if (install.code !== 0) {
      throw new Error(
        `npm install of the tarballs failed (exit ${install.code}):\n${install.stdout}\n${install.stderr}`,
      );
    }
    return {
      dir,
      tarballs,
      node: (args, extraEnv) => runCommand(process.execPath, args, { cwd: dir, env: userEnv(extraEnv) }),
      npx: (args, extraEnv) =>
        runCommand(process.execPath, [npmCli("npx-cli.js"), "--no", "--", ...args], {
          cwd: dir,
          env: userEnv(extraEnv),
        }),
      startBin: (name, args, extraEnv) =>
        spawn(join(dir, "node_modules", ".bin", name), args, {
          cwd: dir,
          env: userEnv(extraEnv),
          stdio: "pipe",
        }),
      write: (name, text) => {
        const file = join(dir, name);
        writeFileSync(file, text);
        return file;
      },
      remove,
    };
  } catch (error) {
    remove();
    throw error;
  }
}

/** The manifest inside a tarball, read with the system tar. */
export async function packedManifest(tarball: string): Promise<Record<string, unknown>> {
  const result = await runCommand("tar", ["-xzOf", tarball, "package/package.json"], {
    cwd: dirname(tarball),
  });
  if (result.code !== 0) throw new Error(`cannot read package.json from ${tarball}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The first fenced block of the given language in a markdown file. */
export function firstCodeBlock(markdownFile: string, language: string): string {
  const text = readFileSync(markdownFile, "utf8");
  const match = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "m").exec(text);
  if (!match?.[1]) throw new Error(`${markdownFile} has no \`\`\`${language} block`);
  return match[1];
}
