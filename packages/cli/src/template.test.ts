import { describe, expect, it } from "vitest";
import { CliError } from "./errors.js";
import { parseObjectPathTemplate } from "./template.js";

describe("parseObjectPathTemplate (the CLI's flag)", () => {
  it("is core's rule, refused as a usage error that names the flag", () => {
    expect(
      parseObjectPathTemplate("b/{phone_id}.tar").expand({ phoneId: "p1", date: new Date(0), index: 0 }),
    ).toBe("b/p1.tar");
    expect(() => parseObjectPathTemplate("x/{phone}.tar", "--object-path")).toThrow(CliError);
    expect(() => parseObjectPathTemplate("x/{phone}.tar", "--object-path")).toThrowError(
      /^--object-path "x\/\{phone\}\.tar" has an unknown placeholder \{phone\}/,
    );
  });
});
