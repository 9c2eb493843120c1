import { describe, expect, it } from "vitest";
import { CphValidationError } from "./errors.js";
import { findRegion, GLOBAL_IAM_ENDPOINT, REGIONS, resolveEndpoint, resolveIamEndpoint } from "./regions.js";

/** The regions api/CPH-API.md section 5 lists for CPH. */
const DOCUMENTED = [
  "cn-north-4",
  "cn-north-9",
  "cn-east-2",
  "cn-east-3",
  "cn-east-4",
  "cn-south-1",
  "cn-southwest-2",
  "ap-southeast-1",
  "ap-southeast-3",
  "la-south-2",
  "la-north-2",
  "ru-northwest-2",
  "af-north-1",
];

function validationError(run: () => unknown): CphValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof CphValidationError) return error;
    throw error;
  }
  throw new Error("expected a CphValidationError");
}

describe("regions", () => {
  it("lists exactly the documented regions with their CPH and IAM endpoints", () => {
    expect(REGIONS.map((region) => region.id)).toEqual(DOCUMENTED);
    for (const region of REGIONS) {
      expect(region.endpoint).toBe(`https://cph.${region.id}.myhuaweicloud.com`);
      expect(region.iamEndpoint).toBe(`https://iam.${region.id}.myhuaweicloud.com`);
      expect(region.name.length).toBeGreaterThan(0);
    }
    expect(findRegion("cn-north-4")?.name).toBe("CN North-Beijing4");
    expect(findRegion("us-east-1")).toBeUndefined();
  });

  it("resolves a region to its endpoint, and an explicit endpoint wins", () => {
    expect(resolveEndpoint({ region: "ap-southeast-3" })).toBe(
      "https://cph.ap-southeast-3.myhuaweicloud.com",
    );
    expect(resolveEndpoint({ region: "cn-north-4", endpoint: "http://127.0.0.1:8080/" })).toBe(
      "http://127.0.0.1:8080",
    );
    expect(resolveEndpoint({ endpoint: "https://gateway.internal/cph//" })).toBe(
      "https://gateway.internal/cph",
    );
  });

  it("refuses unknown regions, non-URLs and endpoints with queries or credentials, saying what to give", () => {
    const unknown = validationError(() => resolveEndpoint({ region: "us-east-1" }));
    expect(unknown.issues[0]).toMatchObject({ path: "region" });
    expect(unknown.message).toContain("cn-north-4");
    expect(validationError(() => resolveEndpoint({})).issues[0]?.path).toBe("region");
    expect(
      validationError(() => resolveEndpoint({ endpoint: "cph.cn-north-4.myhuaweicloud.com" })).issues[0]
        ?.path,
    ).toBe("endpoint");
    expect(validationError(() => resolveEndpoint({ endpoint: "ftp://example.com" })).message).toContain(
      "http or https",
    );
    expect(
      validationError(() => resolveEndpoint({ endpoint: "https://u:p@example.com" })).message,
    ).not.toContain("u:p");
    expect(() => resolveEndpoint({ endpoint: "https://example.com/?a=1" })).toThrow(CphValidationError);
  });

  it("resolves IAM: explicit, else the region's, else the global endpoint", () => {
    expect(resolveIamEndpoint({ iamEndpoint: "http://127.0.0.1:9/", region: "cn-north-4" })).toBe(
      "http://127.0.0.1:9",
    );
    expect(resolveIamEndpoint({ region: "cn-east-3" })).toBe("https://iam.cn-east-3.myhuaweicloud.com");
    expect(resolveIamEndpoint({ region: "unknown-1" })).toBe(GLOBAL_IAM_ENDPOINT);
    expect(resolveIamEndpoint({})).toBe("https://iam.myhuaweicloud.com");
  });
});
