export {};
//# sourceMappingURL=kill-resume.test.d.ts.map
