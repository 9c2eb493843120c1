// Types for scripts/lint-packages.mjs, whose manifest rules test/packaging tests.
export declare function manifestProblems(manifest: Record<string, unknown>, files: Set<string>): string[];
