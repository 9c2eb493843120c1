// The release flow, proven offline in a throwaway copy of the workspace (never in the checkout itself):
// `changeset version` bumps versions and writes changelogs from the repo's changesets, and `changeset publish`
// against a registry on loopback publishes the five public packages, and never the private gateway.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root, type WorkspacePackage, workspacePackages } from "../../scripts/packages.mjs";
import { type RunResult, runCommand, userEnv } from "./consumer.js";

type Bump = "major" | "minor" | "patch";
const BUMPS: Bump[] = ["patch", "minor", "major"];

interface Changeset {
  file: string;
  releases: Map<string, Bump>;
  summary: string;
}

/** Reads a changeset file: YAML-ish front matter of `"name": bump` lines, then the summary. */
function parseChangeset(file: string): Changeset {
  const text = readFileSync(file, "utf8");
  const match = /^---\n([\s\S]*?)\n?---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`${file} is not a changeset (no front matter)`);
  const releases = new Map<string, Bump>();
  for (const line of (match[1] ?? "").split("\n")) {
    if (!line.trim()) continue;
    const release = /^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/.exec(line);
    if (!release?.[1] || !release[2]) throw new Error(`${file}: cannot read the release line '${line}'`);
    releases.set(release[1], release[2] as Bump);
  }
  return { file, releases, summary: (match[2] ?? "").trim() };
}

function bumpVersion(version: string, bump: Bump): string {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  if (bump === "major") return `${major + 1}.0.0`;
  if (bump === "minor") return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

/** A registry on loopback that has never seen the packages and records every publish. */
async function startRegistry(): Promise<{
  url: string;
  published: Map<string, Record<string, unknown>>;
  server: Server;
}> {
  const published = new Map<string, Record<string, unknown>>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method === "PUT") {
        const document = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          name: string;
          "dist-tags": Record<string, string>;
          versions: Record<string, Record<string, unknown>>;
        };
        const version = document["dist-tags"]["latest"] ?? Object.keys(document.versions)[0] ?? "";
        published.set(document.name, document.versions[version] ?? {});
        response.writeHead(201, { "content-type": "application/json" }).end('{"ok":true}');
        return;
      }
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, published, server };
}

const packages = workspacePackages();
const FIXTURE = "packaging-test-release.md";
let base: string;
let repo: string;
let changesets: Changeset[];
let registry: Awaited<ReturnType<typeof startRegistry>>;
let env: NodeJS.ProcessEnv;

function readChangesets(): Changeset[] {
  return readdirSync(join(repo, ".changeset"))
    .filter((name) => name.endsWith(".md") && name !== "README.md")
    .map((name) => parseChangeset(join(repo, ".changeset", name)));
}

function changeset(args: string[]): Promise<RunResult> {
  return runCommand(process.execPath, [join(root, "node_modules", "@changesets", "cli", "bin.js"), ...args], {
    cwd: repo,
    env,
  });
}

function git(args: string[]): Promise<RunResult> {
  return runCommand("git", args, { cwd: repo, env });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "cph-changesets-"));
  repo = join(base, "repo");
  mkdirSync(repo);
  for (const file of ["package.json", "pnpm-workspace.yaml"]) cpSync(join(root, file), join(repo, file));
  cpSync(join(root, ".changeset"), join(repo, ".changeset"), { recursive: true });
  for (const pkg of packages) {
    const target = join(repo, relative(root, pkg.dir));
    mkdirSync(target, { recursive: true });
    for (const entry of ["package.json", "README.md", "CHANGELOG.md", "bin", "dist"]) {
      if (existsSync(join(pkg.dir, entry)))
        cpSync(join(pkg.dir, entry), join(target, entry), { recursive: true });
    }
  }
  registry = await startRegistry();
  const userConfig = join(base, "npmrc");
  writeFileSync(userConfig, "");
  // The registry is on loopback: in the project's .npmrc, in the environment, and no user config (no real token).
  writeFileSync(
    join(repo, ".npmrc"),
    `registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=test-token\n`,
  );
  env = userEnv({
    npm_config_registry: registry.url,
    npm_config_userconfig: userConfig,
    GIT_AUTHOR_NAME: "Packaging Test",
    GIT_AUTHOR_EMAIL: "packaging-test@example.invalid",
    GIT_COMMITTER_NAME: "Packaging Test",
    GIT_COMMITTER_EMAIL: "packaging-test@example.invalid",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: base,
  });
  // changesets runs `npm` and `pnpm` from PATH: the workspace's pinned pnpm.
  env["PATH"] = [
    dirname(process.execPath),
    join(root, "node_modules", ".bin"),
    process.env["PATH"] ?? "",
  ].join(delimiter);
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["add", "-A"],
    ["commit", "-q", "-m", "workspace copy"],
  ]) {
    const result = await git(args);
    if (result.code !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  }
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => registry?.server.close(resolve));
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("changesets", () => {
  it("keeps the private gateway out of publishing and versions it without a tag", () => {
    const config = JSON.parse(readFileSync(join(root, ".changeset", "config.json"), "utf8")) as {
      access: string;
      baseBranch: string;
      privatePackages?: { version: boolean; tag: boolean };
    };
    expect(config.access).toBe("public");
    expect(config.baseBranch).toBe("main");
    expect(config.privatePackages).toEqual({ version: true, tag: false });
    expect(packages.find((pkg) => pkg.name === "@cph-export/gateway")?.private).toBe(true);
  });

  it("reads every changeset in the repo, each naming only workspace packages", () => {
    const changesets = readChangesets();
    const names = new Set(packages.map((pkg) => pkg.name));
    for (const entry of changesets) {
      expect(entry.summary, entry.file).not.toBe("");
      for (const name of entry.releases.keys()) expect(names, `${entry.file} names ${name}`).toContain(name);
    }
  });

  it("status is clean on main and asks for a changeset on a branch that changes a package without one", async () => {
    const clean = await changeset(["status"]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    // A package no changeset of the repo names, so the check does not depend on which changesets exist.
    await git(["checkout", "-q", "-b", "feature"]);
    try {
      mkdirSync(join(repo, "packages", "newcomer"));
      writeFileSync(
        join(repo, "packages", "newcomer", "package.json"),
        `${JSON.stringify({ name: "@cph-export/newcomer", version: "0.0.0", type: "module" })}\n`,
      );
      await git(["add", "-A"]);
      await git(["commit", "-q", "-m", "add a package"]);
      // --since: only the changesets this branch adds count, as a pull-request check would run it.
      const missing = await changeset(["status", "--since=main"]);
      expect(missing.code, missing.stdout + missing.stderr).toBe(1);
      expect(missing.stdout + missing.stderr).toMatch(/no changesets were found/);
      writeFileSync(
        join(repo, ".changeset", "newcomer.md"),
        '---\n"@cph-export/newcomer": minor\n---\n\nNew.\n',
      );
      await git(["add", "-A"]);
      await git(["commit", "-q", "-m", "changeset for the new package"]);
      const covered = await changeset(["status", "--since=main"]);
      expect(covered.code, covered.stdout + covered.stderr).toBe(0);
      expect(covered.stdout + covered.stderr).toMatch(/@cph-export\/newcomer/);
    } finally {
      await git(["checkout", "-q", "main"]);
    }
    expect(existsSync(join(repo, "packages", "newcomer"))).toBe(false);
  });

  describe("version, then publish", () => {
    let versioned: Map<string, Record<string, unknown>>;

    beforeAll(async () => {
      // One release of every package on top of the repo's own changesets, so that every package is versioned.
      const fixtureLines = packages.map(
        (pkg) => `"${pkg.name}": ${pkg.name === "@cph-export/core" ? "minor" : "patch"}`,
      );
      writeFileSync(
        join(repo, ".changeset", FIXTURE),
        `---\n${fixtureLines.join("\n")}\n---\n\nPackaging test: one release of every package.\n`,
      );
      await git(["add", "-A"]);
      await git(["commit", "-q", "-m", "release everything"]);
      changesets = readChangesets();
      const result = await changeset(["version"]);
      if (result.code !== 0) throw new Error(`changeset version failed:\n${result.stdout}\n${result.stderr}`);
      versioned = new Map(
        packages.map((pkg) => [
          pkg.name,
          JSON.parse(readFileSync(join(repo, relative(root, pkg.dir), "package.json"), "utf8")) as Record<
            string,
            unknown
          >,
        ]),
      );
    }, 60_000);

    const expectedVersion = (pkg: WorkspacePackage): string => {
      const bumps = changesets.flatMap((entry) => {
        const bump = entry.releases.get(pkg.name);
        return bump ? [bump] : [];
      });
      const highest = BUMPS[Math.max(...bumps.map((bump) => BUMPS.indexOf(bump)))] ?? "patch";
      return bumpVersion(pkg.version, highest);
    };

    it("bumps each package by its highest changeset and consumes the changesets", () => {
      for (const pkg of packages)
        expect(versioned.get(pkg.name)?.["version"], pkg.name).toBe(expectedVersion(pkg));
      const left = readdirSync(join(repo, ".changeset")).filter(
        (name) => name.endsWith(".md") && name !== "README.md",
      );
      expect(left).toEqual([]);
    });

    it("keeps workspace:* in the sources: pnpm rewrites it only in the published manifest", () => {
      const cli = versioned.get("@cph-export/cli") as { dependencies: Record<string, string> };
      expect(cli.dependencies["@cph-export/core"]).toBe("workspace:*");
    });

    it("writes a CHANGELOG.md per package with each summary under its version and kind of change", () => {
      for (const pkg of packages) {
        const changelog = readFileSync(join(repo, relative(root, pkg.dir), "CHANGELOG.md"), "utf8");
        expect(changelog.startsWith(`# ${pkg.name}\n`), pkg.name).toBe(true);
        const section = changelog.split(/^## /m)[1] ?? "";
        expect(section.startsWith(`${expectedVersion(pkg)}\n`), `${pkg.name} section ${section}`).toBe(true);
        for (const entry of changesets) {
          const bump = entry.releases.get(pkg.name);
          if (!bump) continue;
          const heading = `### ${bump[0]?.toUpperCase()}${bump.slice(1)} Changes`;
          const underHeading =
            section.split(/^### /m).find((part) => `### ${part}`.startsWith(heading)) ?? "";
          const firstLine = entry.summary.split("\n")[0] ?? "";
          expect(underHeading, `${pkg.name}: ${entry.file}`).toContain(firstLine);
        }
      }
      const cli = readFileSync(join(repo, "packages", "cli", "CHANGELOG.md"), "utf8");
      expect(cli).toMatch(
        new RegExp(
          `Updated dependencies[\\s\\S]*@cph-export/core@${versioned.get("@cph-export/core")?.["version"]}`,
        ),
      );
    });

    it("publishes the five public packages with real dependency versions, and never the gateway", async () => {
      await git(["add", "-A"]);
      await git(["commit", "-q", "-m", "version packages"]);
      // pnpm reads a workspace dependency's version from node_modules when it rewrites workspace:*; link them as install would.
      for (const pkg of packages) {
        const manifest = versioned.get(pkg.name) as Record<string, Record<string, string> | undefined>;
        const dir = join(repo, relative(root, pkg.dir));
        for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
          for (const [name, range] of Object.entries(manifest[field] ?? {})) {
            const dependency = packages.find((candidate) => candidate.name === name);
            if (!range.startsWith("workspace:") || !dependency) continue;
            const link = join(dir, "node_modules", name);
            mkdirSync(dirname(link), { recursive: true });
            if (!existsSync(link)) symlinkSync(join(repo, relative(root, dependency.dir)), link, "dir");
          }
        }
      }
      const result = await changeset(["publish"]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);

      const publicNames = packages.filter((pkg) => !pkg.private).map((pkg) => pkg.name);
      expect([...registry.published.keys()].sort()).toEqual(publicNames.sort());
      expect(registry.published.has("@cph-export/gateway")).toBe(false);
      for (const [name, manifest] of registry.published) {
        expect(manifest["version"], name).toBe(versioned.get(name)?.["version"]);
        for (const [dependency, range] of Object.entries(
          (manifest["dependencies"] ?? {}) as Record<string, string>,
        )) {
          expect(range, `${name} -> ${dependency}`).not.toMatch(/^(workspace|catalog):/);
          const internal = versioned.get(dependency);
          if (internal) expect(range, `${name} -> ${dependency}`).toBe(internal["version"]);
        }
      }
      const tags = (await git(["tag", "--list"])).stdout.trim().split("\n").sort();
      expect(tags).toEqual(publicNames.map((name) => `${name}@${versioned.get(name)?.["version"]}`).sort());
    });
  });
});
