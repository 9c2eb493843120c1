import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  formatUtcDate,
  type ObjectPathTemplate,
  parseObjectPathTemplate as parse,
} from "./object-path-template.js";

function parseObjectPathTemplate(source: string): ObjectPathTemplate {
  const parsed = parse(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

const date = new Date("2025-01-02T23:59:59Z");

describe("parseObjectPathTemplate", () => {
  it("expands {phone_id}, {date} (UTC YYYYMMDD) and {index}", () => {
    const template = parseObjectPathTemplate("backups/{date}/{index}-{phone_id}.tar");
    expect(template.expand({ phoneId: "abc123", date, index: 7 })).toBe("backups/20250102/7-abc123.tar");
    expect(template.distinct).toBe(true);
  });

  it("uses the UTC day, not the local one", () => {
    expect(formatUtcDate(new Date("2024-12-31T23:30:00-05:00"))).toBe("20250101");
  });

  it("knows when a template names no phone", () => {
    expect(parseObjectPathTemplate("all/{date}.tar").distinct).toBe(false);
    expect(parseObjectPathTemplate("by-index/{index}.tar").distinct).toBe(true);
  });

  it("refuses an unknown placeholder, naming it and the known ones", () => {
    expect(() => parseObjectPathTemplate("x/{phone}.tar")).toThrowError(
      /unknown placeholder \{phone\}.*\{phone_id\}, \{date\}, \{index\}/,
    );
  });

  it("refuses unmatched braces", () => {
    for (const bad of ["x/{phone_id.tar", "x/phone_id}.tar", "{{phone_id}}"]) {
      expect(() => parseObjectPathTemplate(bad)).toThrowError(/unmatched brace/);
    }
  });

  test.prop([fc.stringMatching(/^[A-Za-z0-9./_+#=-]{0,40}$/)])(
    "text without braces is kept as is",
    (text) => {
      const template = parseObjectPathTemplate(text);
      expect(template.expand({ phoneId: "p", date, index: 0 })).toBe(text);
      expect(template.distinct).toBe(false);
    },
  );

  test.prop([fc.stringMatching(/^[a-z0-9]{1,32}$/), fc.nat()])(
    "{phone_id} and {index} are replaced by the values",
    (phoneId, index) => {
      const out = parseObjectPathTemplate("a/{phone_id}/{index}").expand({ phoneId, date, index });
      expect(out).toBe(`a/${phoneId}/${index}`);
    },
  );
});
