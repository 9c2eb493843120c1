import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { REDACTED, redactHeaders, redactText } from "./redact.js";
import { signRequest } from "./signing.js";

/** Secrets from an alphabet that shares no character with the marker, so a match cannot straddle it. */
const secretArb = fc.stringMatching(/^[a-z0-9+/=_-]{8,64}$/);

describe("redactHeaders", () => {
  it("replaces tokens and cookies in any letter case and leaves other headers alone", () => {
    expect(
      redactHeaders({
        "X-Auth-Token": "MIIEtoken",
        "x-subject-token": "MIIEsubject",
        "X-Security-Token": "sts-token",
        Cookie: "session=1",
        "Proxy-Authorization": "Basic dXNlcjpwYXNz",
        "Content-Type": "application/json",
        "X-Sdk-Date": "20260102T030405Z",
        "Set-Cookie": ["a=1", "b=2"],
      }),
    ).toEqual({
      "X-Auth-Token": REDACTED,
      "x-subject-token": REDACTED,
      "X-Security-Token": REDACTED,
      Cookie: REDACTED,
      "Proxy-Authorization": REDACTED,
      "Content-Type": "application/json",
      "X-Sdk-Date": "20260102T030405Z",
      "Set-Cookie": REDACTED,
    });
  });

  it("keeps the scheme and the access key of an SDK-HMAC-SHA256 Authorization, not the signature", async () => {
    const signed = await signRequest(
      { method: "GET", url: "https://cph.cn-north-4.myhuaweicloud.com/v1/p/cloud-phone/jobs/j", headers: {} },
      { accessKey: "AKEXAMPLE0001", secretKey: "sk-example", date: new Date("2026-01-02T03:04:05Z") },
    );
    const signature = /Signature=([0-9a-f]{64})/.exec(signed.headers["Authorization"]!)?.[1];
    expect(signature).toBeDefined();
    const redacted = redactHeaders(signed.headers);
    expect(redacted["Authorization"]).toBe(`SDK-HMAC-SHA256 Access=AKEXAMPLE0001, ${REDACTED}`);
    expect(JSON.stringify(redacted)).not.toContain(signature);
    expect(redactHeaders({ authorization: "Bearer abc.def" })).toEqual({
      authorization: `Bearer ${REDACTED}`,
    });
  });

  test.prop([
    secretArb,
    fc.constantFrom("Authorization", "X-Auth-Token", "x-security-token", "X-SUBJECT-TOKEN"),
  ])("no secret survives in a credential header", (secret, name) => {
    const value =
      name === "Authorization"
        ? `SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=${secret}`
        : secret;
    expect(JSON.stringify(redactHeaders({ [name]: value, Accept: "*/*" }))).not.toContain(secret);
  });
});

describe("redactText", () => {
  test.prop([secretArb, fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 5 })])(
    "every occurrence of a secret is replaced, whatever surrounds it",
    (secret, pieces) => {
      const text = pieces.join(secret);
      const redacted = redactText(text, [undefined, secret]);
      expect(redacted).not.toContain(secret);
      expect(redacted.split(REDACTED).length - 1).toBeGreaterThanOrEqual(pieces.length - 1);
    },
  );

  it("leaves text alone for missing or very short secrets", () => {
    expect(redactText("password=abc", ["abc", undefined, ""])).toBe("password=abc");
    expect(redactText("token MIIEtoken used", ["MIIEtoken"])).toBe(`token ${REDACTED} used`);
  });
});
