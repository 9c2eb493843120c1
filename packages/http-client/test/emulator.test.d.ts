export {};
//# sourceMappingURL=emulator.test.d.ts.map
