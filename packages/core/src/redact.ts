export const REDACTED = "[REDACTED]";

const SECRET_HEADERS = new Set([
  "authorization",
  "x-auth-token",
  "x-subject-token",
  "x-security-token",
  "cookie",
  "set-cookie",
  "proxy-authorization",
]);

/** A copy of the headers with every credential replaced; safe to log or print. */
export function redactHeaders<T extends string | string[] | undefined>(
  headers: Record<string, T>,
): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!SECRET_HEADERS.has(name.toLowerCase()) || value === undefined) out[name] = value;
    else if (name.toLowerCase() === "authorization" && typeof value === "string") {
      const scheme = value.split(/\s+/, 1)[0] ?? "";
      const access = /Access=([^,\s]+)/.exec(value)?.[1];
      out[name] = access ? `${scheme} Access=${access}, ${REDACTED}` : `${scheme} ${REDACTED}`.trim();
    } else out[name] = REDACTED;
  }
  return out;
}

/** Replaces every occurrence of the given secrets in a text (secrets shorter than 4 characters are left). */
export function redactText(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}
