import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addCredentials,
  DEMO_CREDENTIALS,
  EmulatorConfigError,
  loadEmulatorConfig,
  parseEmulatorConfig,
  resolveEmulatorConfig,
} from "./config.js";
import { readEnvCredentials } from "./env.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cph-emulator-config-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof EmulatorConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected an EmulatorConfigError");
}

describe("config", () => {
  it("defaults to the demo credentials and the documented settings", () => {
    const config = resolveEmulatorConfig();
    expect(config.projects).toEqual([{ id: DEMO_CREDENTIALS.projectId, name: "cn-north-4" }]);
    expect(config.accessKeys).toEqual([
      { accessKey: "EMULATORDEMOAK0000001", secretKey: "emulator-demo-secret-key-0001" },
    ]);
    expect(config.users).toEqual([
      { domain: "demo-account", name: "demo-user", password: "demo-password-0001" },
    ]);
    expect(config).toMatchObject({
      tokenTtlSeconds: 86_400,
      jobDurationMs: 2000,
      maxPhonesPerRequest: 100,
      controlRoutes: true,
      faults: {},
    });
  });

  it("names every offending field", () => {
    const problems = problemsOf(() =>
      parseEmulatorConfig({
        accessKeys: [{ accessKey: "AK", secretKey: 5 }],
        faults: { errorRate: 1.5 },
        jobDurationMs: -1,
        colour: "blue",
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^accessKeys\[0\]\.secretKey: /),
        expect.stringMatching(/^faults\.errorRate: /),
        expect.stringMatching(/^jobDurationMs: /),
        expect.stringMatching(/colour/),
      ]),
    );
  });

  it("checks the projects that keys and users name, and duplicates", () => {
    const problems = problemsOf(() =>
      parseEmulatorConfig({
        projects: [
          { id: "p1", name: "one" },
          { id: "p1", name: "one" },
        ],
        accessKeys: [
          { accessKey: "AK", secretKey: "s", projects: ["p2"] },
          { accessKey: "AK", secretKey: "t" },
        ],
        users: [{ domain: "d", name: "u", password: "p", projects: ["p3"] }],
      }),
    );
    expect(problems).toEqual([
      "projects[1].id: project p1 is listed twice",
      "projects[1].name: name one is used twice",
      "accessKeys[0].projects[0]: project p2 is not in projects",
      "accessKeys[1].accessKey: access key AK is listed twice",
      "users[0].projects[0]: project p3 is not in projects",
    ]);
  });

  it("loads a JSON file, and says which file is unreadable or not JSON", async () => {
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ jobDurationMs: 10, phones: { missing: ["x"] } }));
    await expect(loadEmulatorConfig(good)).resolves.toEqual({
      jobDurationMs: 10,
      phones: { missing: ["x"] },
    });
    const broken = join(dir, "broken.json");
    await writeFile(broken, "{ nope");
    await expect(loadEmulatorConfig(broken)).rejects.toThrow(/broken\.json.*not JSON/);
    // The parser's own message would quote the text around the error: here, part of a secret.
    const leaky = join(dir, "leaky.json");
    await writeFile(
      leaky,
      '{\n  "accessKeys": [{ "accessKey": "AK", "secretKey": unquoted-secret-value }]\n}',
    );
    const message = await loadEmulatorConfig(leaky).then(
      () => "loaded",
      (caught: unknown) => (caught as Error).message,
    );
    expect(message).toMatch(/leaky\.json.*not JSON/);
    expect(message).not.toMatch(/unquoted|secret-value/);
    const positioned = join(dir, "positioned.json");
    await writeFile(positioned, '{\n  "jobDurationMs": 10,,\n}');
    await expect(loadEmulatorConfig(positioned)).rejects.toThrow(/not JSON \(line 2, column 23\)/);
    await expect(loadEmulatorConfig(join(dir, "absent.json"))).rejects.toThrow(/absent\.json.*ENOENT/);
    const invalid = join(dir, "invalid.json");
    await writeFile(invalid, JSON.stringify({ tokenTtlSeconds: "long" }));
    await expect(loadEmulatorConfig(invalid)).rejects.toThrow(/invalid\.json.*tokenTtlSeconds/);
  });
});

describe("environment credentials", () => {
  const full = {
    CPH_EMULATOR_PROJECT_ID: "11112222333344445555666677778888",
    CPH_EMULATOR_AK: "ENVAK",
    CPH_EMULATOR_SK: "env-secret",
    CPH_EMULATOR_IAM_DOMAIN: "env-account",
    CPH_EMULATOR_IAM_USER: "env-user",
    CPH_EMULATOR_IAM_PASSWORD: "env-password",
  };

  it("reads nothing from an empty environment, so the demo credentials stay", () => {
    expect(readEnvCredentials({})).toEqual({ projectId: undefined, accessKey: undefined, user: undefined });
    expect(resolveEmulatorConfig(addCredentials({}, readEnvCredentials({}))).accessKeys[0]?.accessKey).toBe(
      DEMO_CREDENTIALS.accessKey,
    );
  });

  it("adds one project, key pair and user, replacing the demo ones", () => {
    const config = resolveEmulatorConfig(addCredentials({}, readEnvCredentials(full)));
    expect(config.projects).toEqual([{ id: full.CPH_EMULATOR_PROJECT_ID, name: "cn-north-4" }]);
    expect(config.accessKeys).toEqual([{ accessKey: "ENVAK", secretKey: "env-secret" }]);
    expect(config.users).toEqual([{ domain: "env-account", name: "env-user", password: "env-password" }]);
  });

  it("adds to a config file's credentials", () => {
    const config = resolveEmulatorConfig(
      addCredentials(
        {
          projects: [{ id: "p1", name: "cn-north-4" }],
          accessKeys: [{ accessKey: "FILEAK", secretKey: "s" }],
        },
        readEnvCredentials(full),
      ),
    );
    expect(config.projects.map((project) => project.name)).toEqual(["cn-north-4", "project-11112222"]);
    expect(config.accessKeys.map((key) => key.accessKey)).toEqual(["FILEAK", "ENVAK"]);
  });

  it("names the missing partner of a half-set pair, and never echoes values", () => {
    const problems = problemsOf(() =>
      readEnvCredentials({ CPH_EMULATOR_AK: "ENVAK", CPH_EMULATOR_IAM_PASSWORD: "secret-value" }),
    );
    expect(problems).toEqual([
      "CPH_EMULATOR_AK is set but CPH_EMULATOR_SK is not; set all or none",
      "CPH_EMULATOR_IAM_PASSWORD is set but CPH_EMULATOR_IAM_DOMAIN and CPH_EMULATOR_IAM_USER are not; set all or none",
    ]);
    expect(problems.join(" ")).not.toContain("secret-value");
  });
});
