import { defineConfig } from "vitest/config";

export default defineConfig({
  // Workspace packages resolve to their sources in tests, so no test depends on a stale build.
  // No "module" condition: packages such as @aws-sdk/* list it before "node" and point it at ES
  // builds that Node cannot load (extensionless imports); Node's own conditions pick their CJS.
  resolve: { conditions: ["@cph-export/source", "node", "development|production"] },
  ssr: { resolve: { conditions: ["@cph-export/source", "node", "development|production"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/src/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // CI asks for a JSON report beside the usual output to count test files.
    reporters: process.env.CPH_TEST_REPORT ? ["default", "json"] : ["default"],
    ...(process.env.CPH_TEST_REPORT ? { outputFile: { json: process.env.CPH_TEST_REPORT } } : {}),
  },
});
