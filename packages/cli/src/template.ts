import { usageError } from "./errors.js";

/** The placeholders `--object-path` understands. */
export const PLACEHOLDERS = ["phone_id", "date", "index"] as const;

export interface TemplateValues {
  phoneId: string;
  /** The run's start time; `{date}` is its UTC day as YYYYMMDD. */
  date: Date;
  /** Position of the phone in the input, from 0. */
  index: number;
}

type Part = { text: string } | { placeholder: (typeof PLACEHOLDERS)[number] };

/** A parsed `--object-path` template such as `backups/{date}/{phone_id}.tar`. */
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

/** Parses a template; a usage error names the offending placeholder or brace. */
export function parseObjectPathTemplate(source: string, flag = "--object-path"): ObjectPathTemplate {
  const parts: Part[] = [];
  const pattern = /\{([^{}]*)\}/g;
  let last = 0;
  for (const match of source.matchAll(pattern)) {
    const before = source.slice(last, match.index);
    checkStrayBraces(before, source, flag);
    if (before) parts.push({ text: before });
    const name = match[1] ?? "";
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw usageError(
        `${flag} "${source}" has an unknown placeholder {${name}}; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}.`,
      );
    }
    parts.push({ placeholder: name as (typeof PLACEHOLDERS)[number] });
    last = match.index + match[0].length;
  }
  const rest = source.slice(last);
  checkStrayBraces(rest, source, flag);
  if (rest) parts.push({ text: rest });
  const distinct = parts.some((part) => "placeholder" in part && part.placeholder !== "date");
  return {
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
  };
}

function checkStrayBraces(text: string, source: string, flag: string): void {
  if (text.includes("{") || text.includes("}")) {
    throw usageError(`${flag} "${source}" has an unmatched brace; placeholders look like {phone_id}.`);
  }
}
