import { Readable } from "node:stream";
import { type Info as CsvInfo, type Parser, parse } from "csv-parse";
import type { InputRecord, RecordProblem } from "./records.js";

/** The columns a CSV input may have; `phone_id` is required. */
export const CSV_COLUMNS = [
  "phone_id",
  "bucket_name",
  "object_path",
  "include_files",
  "exclude_files",
] as const;
const LIST_COLUMNS = new Set(["include_files", "exclude_files"]);

/** Cells of list columns hold several paths separated by `;` or `|` (neither is allowed in a path). */
export const LIST_SEPARATOR = /[;|]/;

interface RawRow {
  line: number;
  cells: string[];
}

type CsvProblem = { line: number; error: string };

/** csv-parse's error codes in the words of this tool; others keep csv-parse's message. */
const CSV_ERRORS: Record<string, string> = {
  INVALID_OPENING_QUOTE:
    "a quote in the middle of an unquoted field (quote the whole field and double inner quotes)",
  CSV_INVALID_CLOSING_QUOTE:
    'a quoted field goes on after its closing quote (double a quote inside a quoted field: "")',
  CSV_QUOTE_NOT_CLOSED: "a quoted field is not closed before the end of the input",
};

/**
 * Parses RFC 4180 CSV with csv-parse (quoted fields may hold commas, quotes as `""` and newlines;
 * a BOM, CRLF or LF line ends, blank lines skipped), numbering each row by the line it starts on.
 * A malformed row is yielded as a problem with its line, and parsing goes on with the next row.
 */
export async function* parseCsvRows(chunks: AsyncIterable<string>): AsyncGenerator<RawRow | CsvProblem> {
  // Rows and problems in the order csv-parse meets them (its callbacks run as it parses).
  const queue: Array<RawRow | CsvProblem> = [];
  // The line after the last row read, and the blank lines skipped by then: where the next row starts.
  let nextLine = 1;
  let emptyLines = 0;
  const startLine = (empty: number) => nextLine + (empty - emptyLines);
  const csv: Parser = parse({
    bom: true,
    record_delimiter: ["\r\n", "\n"],
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_record: (record: string[], context: CsvInfo) => {
      const line = startLine(context.empty_lines);
      queue.push({ line, cells: record });
      // The row's own line ends (csv-parse counts a CRLF inside quotes as two lines).
      let breaks = 0;
      for (const cell of record)
        for (let at = cell.indexOf("\n"); at !== -1; at = cell.indexOf("\n", at + 1)) breaks++;
      nextLine = line + breaks + 1;
      emptyLines = context.empty_lines;
      // Passed on so that the stream paces the reading (one file is never held whole).
      return record;
    },
    on_skip: (error?: Error) => {
      const code = (error as { code?: string } | undefined)?.code ?? "";
      // Named by the line the row begins on, as the rows are.
      const line = startLine(csv.info.empty_lines);
      queue.push({ line, error: CSV_ERRORS[code] ?? error?.message ?? "malformed CSV" });
      // Where a malformed row ends is csv-parse's guess; the rows after it may be misread anyway.
      nextLine = Math.max(line + 1, (error as { lines?: number } | undefined)?.lines ?? 0);
      emptyLines = csv.info.empty_lines;
    },
  });
  // The records themselves go to `queue`; iterating the parser only paces the reading.
  for await (const _ of Readable.from(chunks).pipe(csv)) yield* queue.splice(0);
  yield* queue.splice(0);
}

/**
 * Reads a CSV input with a header row into records: list columns split on `;` or `|`, empty
 * cells left out (so that flags can fill them), unknown columns reported on line 1.
 */
export async function* readCsv(chunks: AsyncIterable<string>): AsyncGenerator<InputRecord> {
  let header: string[] | undefined;
  let usable: boolean[] = [];
  for await (const row of parseCsvRows(chunks)) {
    if ("error" in row) {
      yield { line: row.line, problems: [{ code: "input_syntax", message: row.error }] };
      continue;
    }
    if (!header) {
      header = row.cells.map((cell) => cell.trim());
      const problems: RecordProblem[] = [];
      const seen = new Set<string>();
      usable = header.map((name) => {
        if (!(CSV_COLUMNS as readonly string[]).includes(name)) {
          problems.push({
            code: "input_header",
            path: name,
            message: `unknown column "${name}"; the columns are ${CSV_COLUMNS.join(", ")}`,
          });
          return false;
        }
        if (seen.has(name)) {
          problems.push({ code: "input_header", path: name, message: `column "${name}" appears twice` });
          return false;
        }
        seen.add(name);
        return true;
      });
      if (!seen.has("phone_id")) {
        problems.push({
          code: "input_header",
          message: `the header row has no phone_id column; the first line must name the columns (${CSV_COLUMNS.join(",")})`,
        });
        yield { line: row.line, problems, fatal: true };
        return;
      }
      if (problems.length > 0) yield { line: row.line, problems };
      continue;
    }
    if (row.cells.length !== header.length) {
      yield {
        line: row.line,
        problems: [
          {
            code: "input_shape",
            message: `this row has ${row.cells.length} cells but the header has ${header.length} columns`,
          },
        ],
      };
      continue;
    }
    const value: Record<string, unknown> = {};
    row.cells.forEach((cell, index) => {
      const name = header?.[index];
      if (!name || !usable[index]) return;
      const text = cell.trim();
      if (text === "") return;
      value[name] = LIST_COLUMNS.has(name)
        ? text
            .split(LIST_SEPARATOR)
            .map((item) => item.trim())
            .filter((item) => item !== "")
        : text;
    });
    yield { line: row.line, value };
  }
}
