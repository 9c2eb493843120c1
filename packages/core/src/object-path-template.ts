// Object path templates (`backups/{date}/{phone_id}.tar`): the CLI's `--object-path` and the
// gateway's campaigns expand them with the same rule.

/** The placeholders an object path template understands. */
export const OBJECT_PATH_PLACEHOLDERS = ["phone_id", "date", "index"] as const;

export interface TemplateValues {
  phoneId: string;
  /** The run's start time; `{date}` is its UTC day as YYYYMMDD. */
  date: Date;
  /** Position of the phone in the input, from 0. */
  index: number;
}

type Part = { text: string } | { placeholder: (typeof OBJECT_PATH_PLACEHOLDERS)[number] };

/** A parsed object path template such as `backups/{date}/{phone_id}.tar`. */
export interface ObjectPathTemplate {
  readonly source: string;
  /** True when the template names a phone ({phone_id} or {index}), so phones get distinct objects. */
  readonly distinct: boolean;
  expand(values: TemplateValues): string;
}

/** `20250102` for 2 January 2025 (UTC). */
export function formatUtcDate(date: Date): string {
  const y = String(date.getUTCFullYear()).padStart(4, "0");
  const m = String(date.getUTCMonth() + 1).padStart(2, "0");
  const d = String(date.getUTCDate()).padStart(2, "0");
  return `${y}${m}${d}`;
}

/**
 * Parses a template. A failure names the offending placeholder or brace in `message`, which
 * starts with the template itself in quotes (callers prefix the flag or field).
 */
export function parseObjectPathTemplate(
  source: string,
): { ok: true; value: ObjectPathTemplate } | { ok: false; message: string } {
  const parts: Part[] = [];
  const pattern = /\{([^{}]*)\}/g;
  let last = 0;
  const stray = (text: string) => text.includes("{") || text.includes("}");
  const unmatched = {
    ok: false as const,
    message: `"${source}" has an unmatched brace; placeholders look like {phone_id}.`,
  };
  for (const match of source.matchAll(pattern)) {
    const before = source.slice(last, match.index);
    if (stray(before)) return unmatched;
    if (before) parts.push({ text: before });
    const name = match[1] ?? "";
    if (!(OBJECT_PATH_PLACEHOLDERS as readonly string[]).includes(name)) {
      return {
        ok: false,
        message: `"${source}" has an unknown placeholder {${name}}; use ${OBJECT_PATH_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}.`,
      };
    }
    parts.push({ placeholder: name as (typeof OBJECT_PATH_PLACEHOLDERS)[number] });
    last = match.index + match[0].length;
  }
  const rest = source.slice(last);
  if (stray(rest)) return unmatched;
  if (rest) parts.push({ text: rest });
  const distinct = parts.some((part) => "placeholder" in part && part.placeholder !== "date");
  return {
    ok: true,
    value: {
      source,
      distinct,
      expand(values) {
        let out = "";
        for (const part of parts) {
          if ("text" in part) out += part.text;
          else if (part.placeholder === "phone_id") out += values.phoneId;
          else if (part.placeholder === "date") out += formatUtcDate(values.date);
          else out += String(values.index);
        }
        return out;
      },
    },
  };
}
