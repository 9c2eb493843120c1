// The cost of core in a browser or edge bundle that only validates: esbuild bundles an entry that
// imports validateBatchExportRequest from the built @cph-export/core (minified, tree-shaken, ESM,
// platform neutral), and the gzipped size is printed as a ratio to the 15 KB target.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const TARGET_KB = 15;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "cph-core-bundle-"));
try {
  const entry = join(work, "entry.mjs");
  writeFileSync(
    entry,
    'import { validateBatchExportRequest } from "@cph-export/core";\nglobalThis.validate = validateBatchExportRequest;\n',
  );
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    treeShaking: true,
    format: "esm",
    platform: "neutral",
    // Resolve @cph-export/core from the repository root, to its built dist (the "default" condition).
    nodePaths: [join(root, "node_modules")],
    mainFields: ["module", "main"],
    write: false,
    metafile: true,
    logLevel: "error",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error("esbuild produced no output");
  // Modules that left bytes in the output (the metafile's inputs also list what was shaken off).
  const kept = Object.entries(Object.values(result.metafile.outputs)[0]?.inputs ?? {})
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
  const fromCore = kept.filter((path) => path.includes("packages/core/dist/"));
  if (fromCore.length === 0)
    throw new Error(`the bundle does not contain the built core: ${kept.join(", ")}`);
  const zod = kept.filter((path) => path.includes("node_modules/zod/") || path.includes("/zod@"));
  const gzipKb = gzipSync(output.contents, { level: 9 }).byteLength / 1024;
  console.log(
    `minified ${(output.contents.byteLength / 1024).toFixed(1)} KB from core's ${fromCore.map((path) => path.split("/").pop()).join(", ")}; zod modules kept: ${zod.length}`,
  );
  console.log(
    `core bundle (validateBatchExportRequest): ${gzipKb.toFixed(1)} KB gz = ${(gzipKb / TARGET_KB).toFixed(2)}x of ${TARGET_KB} KB target`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
