import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { utf8Bytes } from "./bytes.js";
import {
  authorizationHeader,
  canonicalQuery,
  formatSdkDate,
  parseSdkDate,
  signRequest,
  verifySignature,
} from "./signing.js";
import { buildBatchExportRequest } from "./request.js";

interface Vector {
  name: string;
  ak: string;
  sk: string;
  method: string;
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  body: string;
  expectedAuthorization: string;
}

const vectorsFile = fileURLToPath(new URL("./test-support/signing-vectors.json", import.meta.url));
const vectors = JSON.parse(readFileSync(vectorsFile, "utf8")) as {
  vectors: Vector[];
  canonicalQueryVector: { input: Array<[string, string]>; expected: string };
};

describe("official signing vectors", () => {
  it.each(vectors.vectors.map((vector) => [vector.name, vector] as const))("%s", async (_name, vector) => {
    const authorization = await authorizationHeader({
      method: vector.method,
      path: vector.path,
      query: vector.query,
      headers: vector.headers,
      signedHeaders: Object.keys(vector.headers),
      body: vector.body,
      accessKey: vector.ak,
      secretKey: vector.sk,
    });
    expect(authorization).toBe(vector.expectedAuthorization);
  });

  it.each(vectors.vectors.map((vector) => [vector.name, vector] as const))(
    "%s verifies",
    async (_name, vector) => {
      const search = vector.query
        .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
        .join("&");
      const result = await verifySignature({
        method: vector.method,
        url: search ? `${vector.path}?${search}` : vector.path,
        headers: { ...vector.headers, Authorization: vector.expectedAuthorization },
        body: utf8Bytes(vector.body),
        lookup: (accessKey) => (accessKey === vector.ak ? { accessKey, secretKey: vector.sk } : undefined),
        now: parseSdkDate(vector.headers["X-Sdk-Date"]!)!,
      });
      expect(result).toEqual({ ok: true, accessKey: vector.ak, signedHeaders: expect.any(Array) });
    },
  );

  it("reproduces the canonical query vector", () => {
    expect(canonicalQuery(vectors.canonicalQueryVector.input)).toBe(vectors.canonicalQueryVector.expected);
  });
});

describe("SDK dates", () => {
  test.prop([
    fc.date({
      min: new Date("1970-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
  ])("format then parse keeps the second", (date) => {
    expect(parseSdkDate(formatSdkDate(date))?.getTime()).toBe(Math.floor(date.getTime() / 1000) * 1000);
  });
  it("refuses impossible dates", () => {
    expect(parseSdkDate("20230231T000000Z")).toBeUndefined();
    expect(parseSdkDate("2023-02-01T00:00:00Z")).toBeUndefined();
  });
});

const credentials = { accessKey: "AKTESTKEY0000001", secretKey: "secret-key-for-tests-only" };
const now = new Date("2026-01-02T03:04:05Z");
const lookup = (accessKey: string) => (accessKey === credentials.accessKey ? credentials : undefined);

async function signedSample(body: string) {
  const request = buildBatchExportRequest({
    endpoint: "https://cph.cn-north-4.myhuaweicloud.com",
    projectId: "p1",
    storageInfos: [],
  });
  return signRequest({ ...request, body: utf8Bytes(body) }, { ...credentials, date: now, projectId: "p1" });
}

function verifyRequest(
  request: Awaited<ReturnType<typeof signedSample>>,
  overrides: { body?: Uint8Array; url?: string; now?: Date } = {},
) {
  const url = new URL(request.url);
  return verifySignature({
    method: request.method,
    url: overrides.url ?? url.pathname + url.search,
    headers: request.headers,
    body: overrides.body ?? request.body ?? new Uint8Array(),
    lookup,
    now: overrides.now ?? now,
  });
}

describe("sign then verify", () => {
  test.prop([fc.string({ maxLength: 200 })])("a signed request verifies", async (body) => {
    const signed = await signedSample(body);
    expect((await verifyRequest(signed)).ok).toBe(true);
  });

  test.prop([fc.string({ minLength: 1, maxLength: 100 }), fc.nat(), fc.integer({ min: 1, max: 255 })])(
    "changing any byte of the body breaks the signature",
    async (body, position, flip) => {
      const signed = await signedSample(body);
      const bytes = new Uint8Array(signed.body!);
      const index = position % bytes.length;
      bytes[index] = bytes[index]! ^ flip;
      const result = await verifyRequest(signed, { body: bytes });
      expect(result).toMatchObject({ ok: false, errorCode: "APIGW.0301" });
    },
  );

  test.prop([
    fc.constantFrom("host", "x-sdk-date", "x-project-id", "content-type"),
    fc.string({ minLength: 1, maxLength: 10 }),
  ])("changing a signed header value breaks the signature", async (header, suffix) => {
    const signed = await signedSample("{}");
    const name = Object.keys(signed.headers).find((key) => key.toLowerCase() === header)!;
    const headers = { ...signed.headers, [name]: `${signed.headers[name]}${suffix.replace(/\s/g, "x")}` };
    const result = await verifyRequest({ ...signed, headers });
    expect(result.ok).toBe(false);
  });

  it("refuses a date more than 15 minutes off with APIGW.0303", async () => {
    const signed = await signedSample("{}");
    const later = new Date(now.getTime() + 15 * 60 * 1000 + 1000);
    expect(await verifyRequest(signed, { now: later })).toMatchObject({ ok: false, errorCode: "APIGW.0303" });
    const within = new Date(now.getTime() + 14 * 60 * 1000);
    expect((await verifyRequest(signed, { now: within })).ok).toBe(true);
  });

  it("refuses a changed path and an unknown key", async () => {
    const signed = await signedSample("{}");
    expect((await verifyRequest(signed, { url: "/v1/p2/cloud-phone/phones/batch-storage" })).ok).toBe(false);
    const other = await signRequest(signed, { accessKey: "OTHER", secretKey: "x", date: now });
    expect(await verifyRequest(other)).toMatchObject({
      ok: false,
      errorCode: "APIGW.0301",
      reason: "unknown access key",
    });
  });

  it("requires the signed security token of temporary keys", async () => {
    const temporary = { ...credentials, securityToken: "security-token-value" };
    const request = buildBatchExportRequest({
      endpoint: "https://cph.example",
      projectId: "p1",
      storageInfos: [],
    });
    const signed = await signRequest(request, { ...temporary, date: now });
    const check = (headers: Record<string, string>) =>
      verifySignature({
        method: "POST",
        url: new URL(signed.url).pathname,
        headers,
        body: signed.body!,
        lookup: () => temporary,
        now,
      });
    expect((await check(signed.headers)).ok).toBe(true);
    const { "X-Security-Token": _token, ...withoutToken } = signed.headers;
    expect((await check(withoutToken)).ok).toBe(false);
  });
});

describe("re-signing", () => {
  it("replaces an earlier X-Sdk-Date and X-Security-Token in any letter case instead of sending two", async () => {
    const request = buildBatchExportRequest({
      endpoint: "https://cph.example",
      projectId: "p1",
      storageInfos: [],
    });
    const stale = {
      ...request,
      headers: {
        ...request.headers,
        "x-sdk-date": "20200101T000000Z",
        "x-security-token": "old",
        authorization: "x",
      },
    };
    const temporary = { ...credentials, securityToken: "new-token" };
    const signed = await signRequest(stale, { ...temporary, date: now });
    const names = Object.keys(signed.headers).map((name) => name.toLowerCase());
    expect(names.filter((name) => name === "x-sdk-date")).toHaveLength(1);
    expect(names.filter((name) => name === "x-security-token")).toHaveLength(1);
    expect(names.filter((name) => name === "authorization")).toHaveLength(1);
    expect(signed.headers["X-Sdk-Date"]).toBe(formatSdkDate(now));
    expect(signed.headers["X-Security-Token"]).toBe("new-token");
    const result = await verifySignature({
      method: "POST",
      url: new URL(signed.url).pathname,
      headers: signed.headers,
      body: signed.body!,
      lookup: () => temporary,
      now,
    });
    expect(result.ok).toBe(true);
  });

  test.prop([fc.string({ maxLength: 100 }), fc.integer({ min: 1, max: 60 * 60 })])(
    "a request signed again later verifies at the later time, not only at the first",
    async (body, seconds) => {
      const first = await signedSample(body);
      const later = new Date(now.getTime() + seconds * 1000);
      const again = await signRequest(first, { ...credentials, date: later, projectId: "p1" });
      expect((await verifyRequest(again, { now: later })).ok).toBe(true);
    },
  );
});
