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

/** Parses RFC 4180 CSV (quoted fields may hold commas, quotes as `""` and newlines) row by row. */
export async function* parseCsvRows(
  chunks: AsyncIterable<string>,
): AsyncGenerator<RawRow | { line: number; error: string }> {
  let line = 1;
  let rowLine = 1;
  let cells: string[] = [];
  let field = "";
  let inQuotes = false;
  let quoteLine = 0;
  let afterQuote = false; // just closed a quoted field, or saw a quote that may be `""`
  let rowStarted = false;
  let first = true;

  const endRow = (): RawRow | undefined => {
    cells.push(field);
    field = "";
    const row = { line: rowLine, cells };
    cells = [];
    const blank = row.cells.length === 1 && row.cells[0] === "" && !rowStarted;
    rowStarted = false;
    return blank ? undefined : row;
  };

  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    for (let index = 0; index < chunk.length; index++) {
      const char = chunk[index] as string;
      if (inQuotes) {
        if (afterQuote) {
          afterQuote = false;
          if (char === '"') {
            field += '"';
            continue;
          }
          inQuotes = false; // the quote closed the field; handle this character below
        } else if (char === '"') {
          afterQuote = true;
          continue;
        } else {
          if (char === "\n") line++;
          field += char;
          continue;
        }
      }
      if (char === '"') {
        if (field.length === 0) {
          inQuotes = true;
          quoteLine = line;
          rowStarted = true;
          continue;
        }
        yield {
          line,
          error: `a quote in the middle of an unquoted field (quote the whole field and double inner quotes)`,
        };
        field += char;
        continue;
      }
      if (char === ",") {
        cells.push(field);
        field = "";
        rowStarted = true;
        continue;
      }
      // Outside quotes a \r only ever precedes the \n of a CRLF line end.
      if (char === "\r") continue;
      if (char === "\n") {
        const row = endRow();
        line++;
        rowLine = line;
        if (row) yield row;
        continue;
      }
      field += char;
      rowStarted = true;
    }
  }
  if (inQuotes && !afterQuote) {
    yield { line: quoteLine, error: "a quoted field is not closed before the end of the input" };
    return;
  }
  const row = endRow();
  if (row) yield row;
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
