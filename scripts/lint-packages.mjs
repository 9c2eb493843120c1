// Packs every published package as `pnpm publish` would and checks the tarball: publint, attw (ESM-only) and
// the house rules for a published manifest. Needs the packages built; runs offline. Part of `npm test`.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { pathToFileURL } from "node:url";
import { packPackage, publishedPackages, root, run, SOURCE_CONDITION } from "./packages.mjs";

/** Absolute path of a dependency's bin script, run with this Node rather than through a shell shim. */
function binScript(packageName, binName) {
  // Root devDependencies are linked into the root node_modules (some of them do not export ./package.json).
  const manifestPath = join(root, "node_modules", packageName, "package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const bin = typeof manifest.bin === "string" ? manifest.bin : manifest.bin[binName];
  return join(dirname(manifestPath), bin);
}

const KNOWN_CONDITIONS = new Set(["types", "import", "default", "node", SOURCE_CONDITION]);

/**
 * The house rules for a packed manifest, beyond publint and attw: what a stranger installing the tarball needs.
 * @param {Record<string, any>} manifest the package.json inside the tarball
 * @param {Set<string>} files the tarball's files, relative to its `package/` root
 * @returns {string[]} problems, empty when the package is fine
 */
export function manifestProblems(manifest, files) {
  const problems = [];
  const has = (path) => files.has(posix.normalize(path.replace(/^\.\//, "")));
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|catalog):/.test(String(range))) {
        problems.push(`${field}.${name} is '${range}' in the tarball: pack with pnpm, which rewrites it`);
      }
    }
  }
  if (manifest.type !== "module") problems.push("'type' must be 'module' (the packages are ESM only)");
  if (typeof manifest.sideEffects !== "boolean" && !Array.isArray(manifest.sideEffects)) {
    problems.push("'sideEffects' is missing: bundlers need it to drop unused modules");
  }
  if (!manifest.engines?.node) problems.push("'engines.node' is missing");
  if (!Array.isArray(manifest.files)) problems.push("'files' is missing: the tarball would ship everything");
  if (!manifest.repository?.url) problems.push("'repository.url' is missing");
  if (!Array.isArray(manifest.keywords) || manifest.keywords.length === 0)
    problems.push("'keywords' is missing");
  if (manifest.publishConfig?.access !== "public") {
    problems.push("'publishConfig.access' must be 'public' (scoped packages are private by default)");
  }
  if (!has("README.md")) problems.push("README.md is not in the tarball");

  const exportsMap = manifest.exports;
  if (!exportsMap || typeof exportsMap !== "object") {
    problems.push("'exports' is missing: without it every internal file is importable");
  } else {
    for (const [subpath, target] of Object.entries(exportsMap)) {
      if (subpath.includes("*"))
        problems.push(`exports '${subpath}' is a pattern: it opens deep imports into internals`);
      const targets = typeof target === "string" ? { default: target } : target;
      if (typeof targets.default !== "string") problems.push(`exports '${subpath}' has no 'default' target`);
      for (const [condition, path] of Object.entries(targets)) {
        if (!KNOWN_CONDITIONS.has(condition))
          problems.push(`exports '${subpath}' has an unexpected condition '${condition}'`);
        // The source condition points at src/, deliberately not shipped: no consumer sets it (docs/architecture.md).
        if (condition === SOURCE_CONDITION) continue;
        if (typeof path !== "string" || !has(path)) {
          problems.push(
            `exports '${subpath}' condition '${condition}' points at '${path}', which is not in the tarball`,
          );
        }
      }
    }
  }

  for (const [name, path] of Object.entries(
    typeof manifest.bin === "string" ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {}),
  )) {
    if (!has(path)) problems.push(`bin '${name}' points at '${path}', which is not in the tarball`);
  }

  for (const file of files) {
    if (/(^|\/)src\//.test(file) || /\.test\.[cm]?[jt]s$/.test(file) || /(^|\/)test-support\//.test(file)) {
      problems.push(`'${file}' is in the tarball: sources and tests are not published`);
    }
  }
  return problems;
}

async function tarballFacts(tarball) {
  const listing = await run("tar", ["-tzf", tarball]);
  const files = new Set(
    listing.stdout
      .split("\n")
      .filter((line) => line.startsWith("package/") && !line.endsWith("/"))
      .map((line) => line.slice("package/".length)),
  );
  const manifest = JSON.parse((await run("tar", ["-xzOf", tarball, "package/package.json"])).stdout);
  return { files, manifest };
}

async function lintPackage(pkg, destination) {
  const tarball = await packPackage(pkg, destination);
  const failures = [];
  const { files, manifest } = await tarballFacts(tarball);
  for (const problem of manifestProblems(manifest, files)) failures.push(`manifest: ${problem}`);

  const publint = await run(process.execPath, [binScript("publint", "publint"), "run", tarball, "--strict"], {
    allowFailure: true,
  });
  if (publint.code !== 0) failures.push(`publint:\n${publint.stdout}${publint.stderr}`);

  // ESM only by design (DESIGN.md): the esm-only profile ignores the CommonJS and node10 resolutions.
  // No DefinitelyTyped lookup: the packages ship their own types, and the check must run offline.
  const attw = await run(
    process.execPath,
    [
      binScript("@arethetypeswrong/cli", "attw"),
      tarball,
      "--profile",
      "esm-only",
      "--no-definitely-typed",
      "--no-color",
      "--no-emoji",
      "--format",
      "ascii",
    ],
    { allowFailure: true },
  );
  if (attw.code !== 0) failures.push(`attw:\n${attw.stdout}${attw.stderr}`);
  return { pkg, files: files.size, failures };
}

async function main() {
  const packages = publishedPackages();
  const destination = mkdtempSync(join(tmpdir(), "cph-lint-packages-"));
  try {
    // Two at a time: each check starts a TypeScript program, and CI has two cores.
    const results = [];
    for (let index = 0; index < packages.length; index += 2) {
      results.push(
        ...(await Promise.all(packages.slice(index, index + 2).map((pkg) => lintPackage(pkg, destination)))),
      );
    }
    let failed = 0;
    for (const { pkg, files, failures } of results) {
      if (failures.length === 0) {
        console.log(
          `lint:packages: ${pkg.name}@${pkg.version} ok (${files} files; publint, attw esm-only, manifest)`,
        );
      } else {
        failed++;
        console.error(`lint:packages: ${pkg.name}@${pkg.version} FAILED`);
        for (const failure of failures) console.error(`  ${failure.replaceAll("\n", "\n    ")}`);
      }
    }
    if (failed > 0) {
      console.error(
        `lint:packages: ${failed} of ${results.length} packages failed; fix the package.json or the build`,
      );
      process.exitCode = 1;
    }
  } finally {
    rmSync(destination, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
