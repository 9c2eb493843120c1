import { CphValidationError, type ValidationIssue } from "@cph-export/core";

/**
 * Headers the client sets itself: credentials and signing, the body's framing and type, and the
 * User-Agent (a client option). A caller's extra headers may not carry any of them.
 */
const RESERVED = new Set([
  "authorization",
  "x-auth-token",
  "x-sdk-date",
  "x-security-token",
  "x-project-id",
  "host",
  "content-type",
  "content-length",
  "transfer-encoding",
  "connection",
  "user-agent",
]);

// RFC 9110 token; values without control characters (CR and LF above all) and within Latin-1.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

// `invalid_type`: the code the client uses for every malformed option.
function issue(path: string, message: string): ValidationIssue {
  return { code: "invalid_type", path, message, severity: "error" };
}

/**
 * Checks a call's extra request headers and returns a copy (so a later change by the caller cannot
 * alter a request being retried); undefined when there are none. Throws a `CphValidationError`
 * naming every bad header: a name that is not an HTTP token, one the client sets itself (in any
 * letter case), one given twice in different cases, or a value with a control character.
 */
export function extraHeaders(
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  return checkedHeaders(headers, RESERVED, "headers");
}

/** What a request given to `send` may not carry: what the client sets, except the body's type. */
const RESERVED_IN_REQUEST = new Set([...RESERVED].filter((name) => name !== "content-type"));

/**
 * `extraHeaders` for the headers of a request given to `send`, which may also carry the body's
 * `Content-Type` (core's builders set it).
 */
export function requestHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return checkedHeaders(headers, RESERVED_IN_REQUEST, "request.headers") as Record<string, string>;
}

function checkedHeaders(
  headers: Readonly<Record<string, string>> | undefined,
  reserved: ReadonlySet<string>,
  where: string,
): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const copy: Record<string, string> = {};
  const seen = new Set<string>();
  const problems: ValidationIssue[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    const path = `${where}.${name.slice(0, 64)}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) {
      problems.push(issue(path, "a header name is letters, digits and !#$%&'*+-.^_`|~ only"));
    } else if (reserved.has(lower)) {
      problems.push(
        issue(
          path,
          `${name} is set by the client itself (credentials, body or userAgent); drop it from ${where}`,
        ),
      );
    } else if (seen.has(lower)) {
      problems.push(issue(path, `${name} is given twice (header names ignore letter case); give it once`));
    } else if (typeof value !== "string" || !HEADER_VALUE.test(value)) {
      problems.push(issue(path, "a header value is a string without control characters (CR, LF, NUL...)"));
    }
    seen.add(lower);
    if (typeof value === "string") copy[name] = value;
  }
  if (problems.length > 0) throw new CphValidationError(problems);
  return copy;
}
