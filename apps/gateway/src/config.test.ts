import { describe, expect, it } from "vitest";
import { GatewayConfigError, parseGatewayConfig } from "./config.js";
import { readEnvironment } from "./env.js";
import { configInput, PROJECT, TEAM_B_SK, TEAM_B_SK_ENV } from "./test-support/fixtures.js";

const secrets = (name: string): string | undefined => (name === TEAM_B_SK_ENV ? TEAM_B_SK : undefined);

function problemsOf(raw: unknown, lookup = secrets): readonly string[] {
  try {
    parseGatewayConfig(raw, lookup);
  } catch (error) {
    if (error instanceof GatewayConfigError) return error.problems;
    throw error;
  }
  throw new Error("the config was accepted");
}

describe("parseGatewayConfig", () => {
  it("fills in the defaults and resolves the callers' secrets", () => {
    const config = parseGatewayConfig(configInput(), secrets);
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.bodyLimitBytes).toBe(12 * 1024 * 1024);
    expect(config.idempotency.ttlMs).toBe(24 * 60 * 60 * 1000);
    expect(config.upstream.maxAttempts).toBe(1);
    expect(config.callers[1]).toMatchObject({
      name: "team-b",
      secretKey: TEAM_B_SK,
      maxPhonesPerRequest: 100,
      apiKeySha256: [],
    });
    expect(config.callers[0]?.apiKeySha256).toHaveLength(2);
  });

  it("names the path of every bad field", () => {
    const raw = configInput();
    const callers = raw.callers as Array<Record<string, unknown>>;
    callers[0] = { ...callers[0], buckets: ["ok-bucket", "Bad_Bucket"], apiKeySha256: "md5:abc" };
    callers[1] = { ...callers[1], requestsPerMinute: 0, surprise: true };
    const problems = problemsOf({ ...raw, upstream: { projectId: PROJECT } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^upstream: give exactly one of endpoint and region/),
        expect.stringMatching(/^callers\[0\]\.buckets\[1\]: /),
        expect.stringMatching(/^callers\[0\]\.apiKeySha256/),
        expect.stringMatching(/^callers\[1\]\.requestsPerMinute: /),
        expect.stringMatching(/^callers\[1\]: .*surprise/),
      ]),
    );
  });

  it("refuses duplicate names and keys, foreign projects and callers without credentials", () => {
    const raw = configInput();
    const [a, b] = raw.callers as Array<Record<string, unknown>>;
    const problems = problemsOf({
      ...raw,
      callers: [
        a,
        { ...b, name: "team-a", projects: ["ffff"] },
        { ...a, name: "team-c", apiKeySha256: undefined },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^callers\[1\]\.name: "team-a" is already callers\[0\]'s name/),
        expect.stringMatching(/^callers\[1\]\.projects\[0\]: project ffff is not upstream\.projectId/),
        expect.stringMatching(/^callers\[2\]: give apiKeySha256, accessKey/),
      ]),
    );
  });

  it("names a missing or short caller secret by its variable, never by value", () => {
    expect(problemsOf(configInput(), () => undefined)).toEqual([
      `callers[1].secretKeyEnv: the environment variable ${TEAM_B_SK_ENV} is not set`,
    ]);
    expect(problemsOf(configInput(), () => "short")).toEqual([
      `callers[1].secretKeyEnv: the secret in ${TEAM_B_SK_ENV} is shorter than 16 characters`,
    ]);
  });

  it("takes a known region instead of an endpoint", () => {
    expect(
      parseGatewayConfig(
        { ...configInput(), upstream: { region: "cn-north-4", projectId: PROJECT } },
        secrets,
      ).upstream.region,
    ).toBe("cn-north-4");
    expect(problemsOf({ ...configInput(), upstream: { region: "mars-1", projectId: PROJECT } })).toEqual([
      expect.stringMatching(/^upstream\.region: unknown region/),
    ]);
  });
});

describe("readEnvironment", () => {
  it("picks AK/SK, then a token, then IAM password credentials", () => {
    expect(
      readEnvironment({
        CPH_GATEWAY_UPSTREAM_AK: "ak",
        CPH_GATEWAY_UPSTREAM_SK: "sk",
        CPH_GATEWAY_UPSTREAM_TOKEN: "t",
      }).upstreamCredentials,
    ).toEqual({
      type: "aksk",
      accessKey: "ak",
      secretKey: "sk",
      securityToken: undefined,
    });
    expect(readEnvironment({ CPH_GATEWAY_UPSTREAM_TOKEN: "token-value" }).upstreamCredentials).toEqual({
      type: "token",
      token: "token-value",
    });
    expect(
      readEnvironment({
        CPH_GATEWAY_UPSTREAM_IAM_DOMAIN: "d",
        CPH_GATEWAY_UPSTREAM_IAM_USER: "u",
        CPH_GATEWAY_UPSTREAM_IAM_PASSWORD: "p",
      }).upstreamCredentials,
    ).toEqual({ type: "password", domainName: "d", userName: "u", password: "p" });
  });

  it("reports incomplete sets and bad values by name only", () => {
    const half = readEnvironment({ CPH_GATEWAY_UPSTREAM_AK: "ak-only-value" });
    expect(half.upstreamCredentials).toBeUndefined();
    expect(half.problems).toEqual([
      "CPH_GATEWAY_UPSTREAM_AK and CPH_GATEWAY_UPSTREAM_SK must be set together",
    ]);
    const none = readEnvironment({ CPH_GATEWAY_REDIS_URL: "http://not-redis" });
    expect(none.problems.join("\n")).toContain("CPH_GATEWAY_REDIS_URL: must be a redis:// or rediss:// URL");
    expect(none.problems.join("\n")).toContain("no upstream credentials");
    expect(none.problems.join("\n")).not.toContain("not-redis");
  });

  it("lists every secret for redaction, the Redis password and the caller secrets read included", () => {
    const environment = readEnvironment({
      CPH_GATEWAY_UPSTREAM_TOKEN: "upstream-token-value",
      CPH_GATEWAY_REDIS_URL: "redis://:redis-password-1@127.0.0.1:6379",
      MY_CALLER_SK: "caller-secret-value-1",
    });
    expect(environment.secret("MY_CALLER_SK")).toBe("caller-secret-value-1");
    expect(environment.secrets().sort()).toEqual([
      "caller-secret-value-1",
      "redis-password-1",
      "upstream-token-value",
    ]);
  });
});
