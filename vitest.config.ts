import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@cph-export/source"] },
  ssr: { resolve: { conditions: ["@cph-export/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "apps/*/src/**/*.test.ts", "apps/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
