// The manifest rules of scripts/lint-packages.mjs: a good packed manifest passes, each broken one is named.
import { describe, expect, it } from "vitest";
import { manifestProblems } from "../../scripts/lint-packages.mjs";

interface Manifest {
  [field: string]: unknown;
  dependencies: Record<string, string>;
  exports: { [subpath: string]: unknown; ".": Record<string, string> };
  bin: Record<string, string>;
  keywords: string[];
}

const goodManifest = (): Manifest => ({
  name: "@cph-export/example",
  version: "1.2.3",
  type: "module",
  sideEffects: false,
  engines: { node: ">=20.18.1" },
  files: ["dist", "bin", "README.md"],
  keywords: ["cph"],
  repository: { type: "git", url: "git+https://example.invalid/repo.git", directory: "packages/example" },
  publishConfig: { access: "public" },
  exports: {
    ".": { "@cph-export/source": "./src/index.ts", types: "./dist/index.d.ts", default: "./dist/index.js" },
    "./package.json": "./package.json",
  },
  bin: { example: "./bin/example.js" },
  dependencies: { "@cph-export/core": "1.2.3", zod: "4.6.7" },
});
const goodFiles = () =>
  new Set(["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "bin/example.js"]);

describe("manifestProblems", () => {
  it("accepts a complete manifest whose source condition points outside the tarball", () => {
    expect(manifestProblems(goodManifest(), goodFiles())).toEqual([]);
  });

  it.each([
    [
      "workspace: specifiers",
      (m: Manifest) => (m.dependencies["@cph-export/core"] = "workspace:*"),
      /workspace:\*/,
    ],
    ["catalog: specifiers", (m: Manifest) => (m.dependencies.zod = "catalog:"), /catalog:/],
    ["CommonJS type", (m: Manifest) => delete m.type, /'type' must be 'module'/],
    ["no sideEffects", (m: Manifest) => delete m.sideEffects, /sideEffects/],
    ["no engines", (m: Manifest) => delete m.engines, /engines\.node/],
    ["no files", (m: Manifest) => delete m.files, /'files' is missing/],
    ["no repository", (m: Manifest) => delete m.repository, /repository\.url/],
    ["no keywords", (m: Manifest) => (m.keywords = []), /keywords/],
    ["restricted access", (m: Manifest) => delete m.publishConfig, /publishConfig\.access/],
    ["no exports", (m: Manifest) => delete (m as Partial<Manifest>).exports, /'exports' is missing/],
    ["a deep-import pattern", (m: Manifest) => (m.exports["./*"] = "./dist/*.js"), /pattern/],
    [
      "a missing types file",
      (m: Manifest) => (m.exports["."].types = "./dist/main.d.ts"),
      /not in the tarball/,
    ],
    [
      "an unknown condition",
      (m: Manifest) => (m.exports["."].require = "./dist/index.cjs"),
      /unexpected condition 'require'/,
    ],
    ["a missing bin", (m: Manifest) => (m.bin.example = "./bin/other.js"), /bin 'example'/],
  ])("names %s", (_label, breakIt, expected) => {
    const manifest = goodManifest();
    breakIt(manifest);
    const problems = manifestProblems(manifest, goodFiles());
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).toMatch(expected);
  });

  it("names shipped sources, tests and a missing README", () => {
    const files = goodFiles();
    files.delete("README.md");
    files.add("src/index.ts");
    files.add("dist/index.test.js");
    const problems = manifestProblems(goodManifest(), files).join("\n");
    expect(problems).toMatch(/README\.md is not in the tarball/);
    expect(problems).toMatch(/'src\/index\.ts' is in the tarball/);
    expect(problems).toMatch(/'dist\/index\.test\.js' is in the tarball/);
  });
});
