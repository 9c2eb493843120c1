import {
  type ObjectPathTemplate,
  OBJECT_PATH_PLACEHOLDERS,
  parseObjectPathTemplate as parse,
} from "@cph-export/core";
import { usageError } from "./errors.js";

export { formatUtcDate } from "@cph-export/core";
export type { ObjectPathTemplate, TemplateValues } from "@cph-export/core";

/** The placeholders `--object-path` understands. */
export const PLACEHOLDERS = OBJECT_PATH_PLACEHOLDERS;

/** Parses a template (core's rule); a usage error names the flag and the offending placeholder or brace. */
export function parseObjectPathTemplate(source: string, flag = "--object-path"): ObjectPathTemplate {
  const parsed = parse(source);
  if (!parsed.ok) throw usageError(`${flag} ${parsed.message}`);
  return parsed.value;
}
