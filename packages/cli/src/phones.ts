import type { CliIo } from "./io.js";
import type { InputFormat, InputRecord } from "./input/records.js";
import { openInput, readRecords } from "./input/source.js";
import { type RowDefaults, type RowIssue, RowPreparer } from "./rows.js";

/** A record of a run's source; `skip` marks a phone reported as rejected with this reason, never sent. */
export interface SourceRecord extends InputRecord {
  skip?: { errorCode: string; errorMessage: string } | undefined;
}

/**
 * Where the phones of a run come from: an input file (or stdin), `--phone-id` flags, or a
 * selection listed from the API (selection.ts).
 */
export interface PhoneSource {
  /** The input as the user named it (`phones.csv`, `stdin`, `--phone-id`, `--all`). */
  name: string;
  kind: "file" | "flags" | "api";
  /** Streams the records; may be called again for a second pass. */
  records(signal?: AbortSignal): AsyncIterable<SourceRecord>;
  /** How an issue's location reads: `line 7`, or `--phone-id "abc"` for flags. */
  where(line: number): string;
  close(): Promise<void>;
}

export async function openPhones(
  options: {
    input?: string | undefined;
    inputFormat?: InputFormat | undefined;
    phoneId?: readonly string[] | undefined;
  },
  io: CliIo,
): Promise<PhoneSource> {
  if (options.input !== undefined) {
    const input = await openInput(options.input, options.inputFormat, io);
    return {
      name: input.name,
      kind: "file",
      records: (signal) => readRecords(input, signal),
      where: (line) => `line ${line}`,
      close: () => input.close(),
    };
  }
  const ids = options.phoneId ?? [];
  return {
    name: "--phone-id",
    kind: "flags",
    records: async function* () {
      for (const [index, id] of ids.entries()) yield { line: index + 1, value: { phone_id: id } };
    },
    where: (line) => `--phone-id ${JSON.stringify(ids[line - 1] ?? "")}`,
    close: async () => {},
  };
}

export interface ScanSummary {
  phones: number;
  /** Phones of the source marked `skip`: counted, not validated, never sent. */
  skipped: number;
  errors: number;
  warnings: number;
}

/** The first pass: reads and validates every phone, reporting each issue, sending nothing. */
export async function scanPhones(
  source: PhoneSource,
  defaults: RowDefaults,
  onIssue: (issue: RowIssue) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<ScanSummary> {
  const preparer = new RowPreparer(defaults);
  let errors = 0;
  let warnings = 0;
  let skipped = 0;
  for await (const record of source.records(signal)) {
    signal?.throwIfAborted();
    const row = preparer.prepare(record);
    // A phone that will not be sent cannot be wrong for the run.
    if (record.skip) {
      if (row.index >= 0) skipped++;
      continue;
    }
    for (const issue of row.issues) {
      if (issue.severity === "error") errors++;
      else warnings++;
      await onIssue(issue);
    }
  }
  return { phones: preparer.count, skipped, errors, warnings };
}

/** `line 7: include_files[1] path_dot_segment: ...`; warnings say so. */
export function formatIssue(issue: RowIssue, source: Pick<PhoneSource, "where">): string {
  const path = issue.path ? `${issue.path} ` : "";
  const severity = issue.severity === "warning" ? "warning: " : "";
  return `${source.where(issue.line)}: ${severity}${path}${issue.code}: ${oneLine(issue.message)}`;
}

// A value quoted in a message may hold a newline or an escape sequence; one issue stays one line.
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (char) => JSON.stringify(char).slice(1, -1));
}
