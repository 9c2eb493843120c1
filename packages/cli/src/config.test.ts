import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configFilePath, requireTarget, resolveConfig } from "./config.js";
import { CliError } from "./errors.js";

let directory: string;
let file: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "cph-export-config-"));
  file = join(directory, "config.json");
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeConfig(value: unknown, mode = 0o600): Promise<void> {
  await writeFile(file, JSON.stringify(value));
  await chmod(file, mode);
}

describe("configFilePath", () => {
  it("prefers CPH_EXPORT_CONFIG, then XDG_CONFIG_HOME, then ~/.config", () => {
    expect(configFilePath({ CPH_EXPORT_CONFIG: "/x/c.json", XDG_CONFIG_HOME: "/xdg" })).toEqual({
      path: "/x/c.json",
      explicit: true,
    });
    expect(configFilePath({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }).path).toBe(
      "/xdg/cph-export/config.json",
    );
    expect(configFilePath({ HOME: "/home/u" }).path).toBe("/home/u/.config/cph-export/config.json");
  });
});

describe("resolveConfig", () => {
  it("takes each setting from the flags, else the environment, else the profile", async () => {
    await writeConfig({
      profiles: {
        default: {
          region: "cn-east-3",
          projectId: "from-profile",
          iamEndpoint: "https://iam.example",
          accessKey: "PAK",
          secretKey: "profile-secret",
        },
      },
    });
    const env = { CPH_EXPORT_CONFIG: file, CPH_PROJECT_ID: "from-env" };
    const fromEnv = await resolveConfig({}, env);
    expect(fromEnv).toMatchObject({
      region: "cn-east-3",
      projectId: "from-env",
      iamEndpoint: "https://iam.example",
      profileName: "default",
    });
    expect(fromEnv.credentials).toEqual({
      type: "aksk",
      accessKey: "PAK",
      secretKey: "profile-secret",
      securityToken: undefined,
    });
    expect(fromEnv.secrets).toContain("profile-secret");
    const fromFlags = await resolveConfig({ projectId: "from-flag", region: "cn-north-4" }, env);
    expect(fromFlags).toMatchObject({ region: "cn-north-4", projectId: "from-flag" });
  });

  it("lets a --region flag beat a CPH_ENDPOINT from the environment, and CPH_ENDPOINT beat the profile", async () => {
    await writeConfig({ profiles: { default: { endpoint: "http://profile.example" } } });
    const env = { CPH_EXPORT_CONFIG: file, CPH_ENDPOINT: "http://env.example" };
    expect(await resolveConfig({ region: "cn-north-4" }, env)).toMatchObject({
      endpoint: undefined,
      region: "cn-north-4",
    });
    expect(await resolveConfig({}, env)).toMatchObject({ endpoint: "http://env.example" });
    expect(await resolveConfig({}, { CPH_EXPORT_CONFIG: file })).toMatchObject({
      endpoint: "http://profile.example",
    });
  });

  it("reads the official SDK names as fallbacks", async () => {
    const config = await resolveConfig(
      {},
      {
        HOME: directory,
        HUAWEICLOUD_SDK_PROJECT_ID: "sdk-project",
        HUAWEICLOUD_SDK_IAM_ENDPOINT: "https://iam.sdk",
        CPH_IAM_USER: "u",
        CPH_IAM_PASSWORD: "pw-secret",
        CPH_IAM_DOMAIN: "acct",
      },
    );
    expect(config.projectId).toBe("sdk-project");
    expect(config.credentials).toEqual({
      type: "password",
      userName: "u",
      password: "pw-secret",
      domainName: "acct",
      iamEndpoint: "https://iam.sdk",
    });
    expect(config.secrets).toContain("pw-secret");
  });

  it("takes credentials as one set, the environment's over the profile's, a token first", async () => {
    await writeConfig({ profiles: { default: { accessKey: "PAK", secretKey: "profile-secret" } } });
    const config = await resolveConfig(
      {},
      {
        CPH_EXPORT_CONFIG: file,
        CPH_AUTH_TOKEN: "env-token-value",
        HUAWEICLOUD_SDK_AK: "EAK",
        HUAWEICLOUD_SDK_SK: "env-secret",
      },
    );
    expect(config.credentials).toEqual({ type: "token", token: "env-token-value" });
    expect(config.credentialSource).toBe("the environment (CPH_AUTH_TOKEN)");
  });

  it("refuses half a credential set, naming what is missing", async () => {
    await expect(resolveConfig({}, { HOME: directory, HUAWEICLOUD_SDK_AK: "EAK" })).rejects.toThrow(
      /HUAWEICLOUD_SDK_SK is missing/,
    );
    await expect(
      resolveConfig({}, { HOME: directory, CPH_IAM_USER: "u", CPH_IAM_PASSWORD: "p" }),
    ).rejects.toThrow(/CPH_IAM_DOMAIN is missing/);
  });

  it("selects --profile, and names the known ones when it does not exist", async () => {
    await writeConfig({
      profiles: { default: { region: "cn-north-4" }, prod: { region: "ap-southeast-3" } },
    });
    expect((await resolveConfig({ profile: "prod" }, { CPH_EXPORT_CONFIG: file })).region).toBe(
      "ap-southeast-3",
    );
    await expect(resolveConfig({ profile: "staging" }, { CPH_EXPORT_CONFIG: file })).rejects.toThrow(
      /no profile "staging".*default, prod/,
    );
  });

  it("warns when a file holding secrets is readable by others, not when it is private", async () => {
    await writeConfig({ profiles: { default: { accessKey: "PAK", secretKey: "profile-secret" } } }, 0o644);
    const open = await resolveConfig({}, { CPH_EXPORT_CONFIG: file }, { platform: "linux" });
    expect(open.warnings).toEqual([
      expect.stringMatching(/holds secrets and is readable by other users \(mode 644\); run: chmod 600/),
    ]);
    await chmod(file, 0o600);
    expect((await resolveConfig({}, { CPH_EXPORT_CONFIG: file }, { platform: "linux" })).warnings).toEqual(
      [],
    );
  });

  it("explains a broken file and a missing explicit one, without echoing its contents", async () => {
    await writeFile(file, '{"profiles": {"default": {"secretKey": "s3cr3t-value", "regoin": "x"}}}');
    const error = await resolveConfig({}, { CPH_EXPORT_CONFIG: file }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(/invalid at profiles\.default/);
    expect((error as Error).message).not.toContain("s3cr3t-value");
    await expect(resolveConfig({}, { CPH_EXPORT_CONFIG: join(directory, "nope.json") })).rejects.toThrow(
      /cannot read the config file/,
    );
    // The default location may be absent.
    expect((await resolveConfig({}, { HOME: directory })).credentials).toBeUndefined();
  });
});

describe("requireTarget", () => {
  it("says what is missing and where to put it", async () => {
    const base = await resolveConfig({}, { HOME: directory });
    expect(() => requireTarget(base, { credentials: false })).toThrow(/no region or endpoint: give --region/);
    expect(() => requireTarget({ ...base, region: "cn-north-4" }, { credentials: false })).toThrow(
      /no project id/,
    );
    expect(() =>
      requireTarget({ ...base, region: "cn-north-4", projectId: "p" }, { credentials: true }),
    ).toThrow(/no credentials/);
  });
});
