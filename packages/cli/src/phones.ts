import type { CliIo } from "./io.js";
import type { InputFormat, InputRecord } from "./input/records.js";
import { openInput, readRecords } from "./input/source.js";
import { type RowDefaults, type RowIssue, RowPreparer } from "./rows.js";

/** Where the phones of a run come from: an input file (or stdin), or `--phone-id` flags. */
export interface PhoneSource {
  /** The input as the user named it (`phones.csv`, `stdin`, `--phone-id`). */
  name: string;
  /** Streams the records; may be called again for a second pass. */
  records(signal?: AbortSignal): AsyncIterable<InputRecord>;
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
      records: (signal) => readRecords(input, signal),
      where: (line) => `line ${line}`,
      close: () => input.close(),
    };
  }
  const ids = options.phoneId ?? [];
  return {
    name: "--phone-id",
    records: async function* () {
      for (const [index, id] of ids.entries()) yield { line: index + 1, value: { phone_id: id } };
    },
    where: (line) => `--phone-id ${JSON.stringify(ids[line - 1] ?? "")}`,
    close: async () => {},
  };
}

export interface ScanSummary {
  phones: number;
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
  for await (const record of source.records(signal)) {
    signal?.throwIfAborted();
    const row = preparer.prepare(record);
    for (const issue of row.issues) {
      if (issue.severity === "error") errors++;
      else warnings++;
      await onIssue(issue);
    }
  }
  return { phones: preparer.count, errors, warnings };
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
