export {};
//# sourceMappingURL=emulator-process.test.d.ts.map
