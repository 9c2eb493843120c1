export {};
//# sourceMappingURL=cli-exit-codes.test.d.ts.map
