import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { buildBatchExportRequest, buildListJobsRequest } from "./request.js";
import {
  authorizationHeader,
  type SigningHasher,
  signRequest,
  verifySignature,
  WEB_CRYPTO_HASHER,
} from "./signing.js";

interface Vector {
  name: string;
  ak: string;
  sk: string;
  method: string;
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  signedHeaders?: string[];
  body: string;
  expectedAuthorization: string;
}

const { vectors } = JSON.parse(
  readFileSync(new URL("./test-support/signing-vectors.json", import.meta.url), "utf8"),
) as { vectors: Vector[] };

const calls: string[] = [];
const nodeHasher: SigningHasher = {
  sha256Hex: (bytes) => {
    calls.push("sha256");
    return createHash("sha256").update(bytes).digest("hex");
  },
  hmacSha256Hex: (key, message) => {
    calls.push("hmac");
    return createHmac("sha256", key).update(message).digest("hex");
  },
};

const target = {
  endpoint: "https://cph.cn-north-4.myhuaweicloud.com",
  projectId: "0123456789abcdef0123456789abcdef",
};
const credentials = { accessKey: "AKEXAMPLE0001", secretKey: "sk-example-0001", securityToken: "sts-0001" };
const date = new Date("2025-06-01T12:00:00Z");

describe("an injected SigningHasher", () => {
  it("signs exactly as the Web Crypto default, and is the one used", async () => {
    const requests = [
      buildBatchExportRequest({
        ...target,
        storageInfos: [
          { phone_id: "p1", include_files: ["/data/a b"], bucket_name: "bucket-1", object_path: "x/ü.tar" },
        ],
      }),
      buildListJobsRequest({ ...target, requestIds: ["r1", "r2"], offset: 100, limit: 50 }),
    ];
    for (const request of requests) {
      calls.length = 0;
      const viaNode = await signRequest(request, {
        ...credentials,
        projectId: target.projectId,
        date,
        hasher: nodeHasher,
      });
      const viaWeb = await signRequest(request, {
        ...credentials,
        projectId: target.projectId,
        date,
        hasher: WEB_CRYPTO_HASHER,
      });
      const byDefault = await signRequest(request, { ...credentials, projectId: target.projectId, date });
      expect(viaNode.headers["Authorization"]).toBe(byDefault.headers["Authorization"]);
      expect(viaWeb.headers["Authorization"]).toBe(byDefault.headers["Authorization"]);
      expect(calls).toEqual(["sha256", "sha256", "hmac"]);
    }
  });

  it("verifies with the injected hasher as well", async () => {
    const request = buildListJobsRequest({ ...target, requestIds: ["r1"] });
    const signed = await signRequest(request, { ...credentials, date });
    calls.length = 0;
    const url = new URL(signed.url);
    const verdict = await verifySignature({
      method: signed.method,
      url: url.pathname + url.search,
      headers: signed.headers,
      body: new Uint8Array(),
      lookup: () => credentials,
      now: date,
      hasher: nodeHasher,
    });
    expect(verdict.ok).toBe(true);
    expect(calls).toContain("hmac");
  });

  it.each(vectors.map((vector) => [vector.name, vector] as const))(
    "reproduces the official vector %s",
    async (_name, vector) => {
      const authorization = await authorizationHeader({
        method: vector.method,
        path: vector.path,
        query: vector.query,
        headers: vector.headers,
        signedHeaders: vector.signedHeaders ?? Object.keys(vector.headers),
        body: vector.body,
        accessKey: vector.ak,
        secretKey: vector.sk,
        hasher: nodeHasher,
      });
      expect(authorization).toBe(vector.expectedAuthorization);
    },
  );
});
