import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { cachedHelp, helpRequest } from "./help-cache.js";

describe("helpRequest", () => {
  it("names the command path of a plain --help or -h", () => {
    expect(helpRequest(["--help"])).toBe("");
    expect(helpRequest(["export", "--help"])).toBe("export");
    expect(helpRequest(["jobs", "wait", "-h"])).toBe("jobs wait");
  });

  it("leaves anything else to commander", () => {
    expect(helpRequest([])).toBeUndefined();
    expect(helpRequest(["export"])).toBeUndefined();
    expect(helpRequest(["export", "--debug", "--help"])).toBeUndefined();
    expect(helpRequest(["--help", "export"])).toBeUndefined();
  });
});

describe("cachedHelp", () => {
  it("reads a path's text, and gives undefined without a cache or for an unknown path", async () => {
    const directory = await mkdtemp(join(tmpdir(), "cph-export-help-"));
    try {
      const file = pathToFileURL(join(directory, "help.json"));
      expect(cachedHelp("export", file)).toBeUndefined();
      await writeFile(file, JSON.stringify({ "": "usage\n", export: "export usage\n" }));
      expect(cachedHelp("export", file)).toBe("export usage\n");
      expect(cachedHelp("exprot", file)).toBeUndefined();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
