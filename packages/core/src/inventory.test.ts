import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { CphValidationError } from "./errors.js";
import {
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  DEFAULT_EXPORTABLE_STATUSES,
  PHONE_STATUS_WORDS,
  parsePhoneStatus,
  phoneStatusWord,
} from "./inventory.js";
import { parseListCloudPhonesResponse } from "./responses.js";

const target = { endpoint: "https://cph.cn-east-3.myhuaweicloud.com/", projectId: "p1" };

function issuesOf(build: () => unknown): Array<{ code: string; path: string }> {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(CphValidationError);
    return (error as CphValidationError).issues.map(({ code, path }) => ({ code, path }));
  }
  throw new Error("expected a CphValidationError");
}

describe("phone status words", () => {
  test.prop([fc.constantFrom(...PHONE_STATUS_WORDS)])("every word parses to its codes and back", (entry) => {
    expect(parsePhoneStatus(entry.word)).toEqual({ ok: true, value: [...entry.codes] });
    expect(parsePhoneStatus(` ${entry.word.toUpperCase().replaceAll("-", "_")} `)).toEqual({
      ok: true,
      value: [...entry.codes],
    });
    for (const code of entry.codes) expect(phoneStatusWord(code)).toBe(entry.word);
  });

  test.prop([fc.integer({ min: -999_999, max: 999_999 })])("any integer is its own status", (code) => {
    expect(parsePhoneStatus(String(code))).toEqual({ ok: true, value: [code] });
    const known = PHONE_STATUS_WORDS.some((entry) => entry.codes.includes(code));
    expect(phoneStatusWord(code) === `status ${code}`).toBe(!known);
  });

  it("refuses an unknown word and lists the accepted ones", () => {
    const result = parsePhoneStatus("sleeping");
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toContain('"sleeping"');
      for (const entry of PHONE_STATUS_WORDS) expect(result.message).toContain(entry.word);
    }
  });

  it("no code belongs to two words, and running is the default exportable status", () => {
    const codes = PHONE_STATUS_WORDS.flatMap((entry) => entry.codes);
    expect(new Set(codes).size).toBe(codes.length);
    expect(DEFAULT_EXPORTABLE_STATUSES).toEqual([2]);
  });
});

describe("list requests", () => {
  it("builds ListCloudPhones with its filters in the form URL keeps", () => {
    const request = buildListCloudPhonesRequest({
      ...target,
      offset: 200,
      limit: 50,
      phoneName: "team a's",
      serverId: "srv-1",
      status: 2,
      type: 0,
    });
    expect(request.method).toBe("GET");
    expect(request.url).toBe(
      "https://cph.cn-east-3.myhuaweicloud.com/v1/p1/cloud-phone/phones?offset=200&limit=50&phone_name=team%20a%27s&server_id=srv-1&status=2&type=0",
    );
    expect(new URL(request.url).href).toBe(request.url);
  });

  it("defaults to offset 0 and limit 100", () => {
    expect(buildListCloudPhoneServersRequest(target).url).toBe(
      "https://cph.cn-east-3.myhuaweicloud.com/v1/p1/cloud-phone/servers?offset=0&limit=100",
    );
  });

  test.prop([fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.double({ noInteger: true }))])(
    "every limit outside 1-100 is refused with its field",
    (limit) => {
      expect(issuesOf(() => buildListCloudPhonesRequest({ ...target, limit }))).toEqual([
        { code: "limit_invalid", path: "limit" },
      ]);
    },
  );

  it("reports every problem of a query at once", () => {
    expect(
      issuesOf(() =>
        buildListCloudPhoneServersRequest({ ...target, projectId: "", offset: -1, limit: 0, serverName: "" }),
      ),
    ).toEqual([
      { code: "required", path: "projectId" },
      { code: "offset_invalid", path: "offset" },
      { code: "limit_invalid", path: "limit" },
      { code: "filter_invalid", path: "serverName" },
    ]);
  });

  test.prop([
    fc.string({ minLength: 1 }).filter((text) => !/\p{Cs}/u.test(text)),
    fc.nat(),
    fc.integer({ min: 1, max: 100 }),
  ])("built URLs parse back to the same query", (phoneName, offset, limit) => {
    const url = new URL(buildListCloudPhonesRequest({ ...target, phoneName, offset, limit }).url);
    expect(url.searchParams.get("phone_name")).toBe(phoneName);
    expect(url.searchParams.get("offset")).toBe(String(offset));
    expect(url.searchParams.get("limit")).toBe(String(limit));
    expect(url.href).toBe(buildListCloudPhonesRequest({ ...target, phoneName, offset, limit }).url);
  });
});

describe("ListCloudPhones answers", () => {
  it("keeps the documented fields and tolerates a numeric string status and unknown fields", () => {
    const body = JSON.stringify({
      request_id: "r1",
      phones: [
        {
          phone_name: "phone-1",
          server_id: "s1",
          phone_id: "a".repeat(32),
          image_id: "img",
          vnc_enable: "false",
          status: "2",
          type: 0,
          metadata: { order_id: "o", product_id: "p" },
          create_time: "2026-12-01T00:00:00Z",
          extra: { anything: true },
        },
      ],
    });
    const parsed = parseListCloudPhonesResponse({ status: 200, headers: {}, bodyText: body });
    expect(parsed.request_id).toBe("r1");
    expect(parsed.phones?.[0]).toMatchObject({
      phone_id: "a".repeat(32),
      status: 2,
      type: 0,
      server_id: "s1",
    });
    expect(parsed.phones?.[0]).not.toHaveProperty("extra");
  });
});

describe("a listed status or type", () => {
  const parse = (status: unknown) => {
    const body = JSON.stringify({ phones: [{ phone_id: "p", status, type: status }] });
    const phone = parseListCloudPhonesResponse({ status: 200, headers: {}, bodyText: body }).phones?.[0];
    return { status: phone?.status, type: phone?.type };
  };

  test.prop([fc.integer({ min: -1_000_000, max: 1_000_000 })])(
    "is the same number as an integer or as its digits",
    (code) => {
      expect(parse(code)).toEqual({ status: code, type: code });
      expect(parse(String(code))).toEqual({ status: code, type: code });
      expect(parse(` ${code} `)).toEqual({ status: code, type: code });
    },
  );

  it("is no status when it is not an integer", () => {
    for (const value of [null, "", "abc", "2.5", 2.5, "2x"]) {
      expect(parse(value)).toEqual({ status: undefined, type: undefined });
    }
  });
});
