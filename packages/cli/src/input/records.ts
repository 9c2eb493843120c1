/** Input formats `--input` reads. */
export const INPUT_FORMATS = ["json", "ndjson", "csv"] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** A problem that made a record (or the whole input) unreadable. */
export interface RecordProblem {
  code: "input_syntax" | "input_shape" | "input_header";
  message: string;
  /** Field path inside the record, when the problem is about one field (a CSV column). */
  path?: string;
}

/** One phone read from the input: its parsed value, or why it could not be read. */
export interface InputRecord {
  /** 1-based line where the record starts (CSV: the physical line, header = 1). */
  line: number;
  value?: unknown;
  problems?: RecordProblem[];
  /** True when nothing after this record can be read (broken JSON structure, bad CSV header). */
  fatal?: boolean;
}

/** Splits text chunks into lines with their 1-based numbers; `\r\n` and `\n` both end a line. */
export async function* splitLines(
  chunks: AsyncIterable<string>,
): AsyncGenerator<{ line: number; text: string }> {
  let pending = "";
  let line = 0;
  let first = true;
  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    pending += chunk;
    let start = 0;
    for (let newline = pending.indexOf("\n", start); newline !== -1; newline = pending.indexOf("\n", start)) {
      const end = newline > start && pending.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      yield { line: ++line, text: pending.slice(start, end) };
      start = newline + 1;
    }
    pending = pending.slice(start);
  }
  if (pending.length > 0)
    yield { line: ++line, text: pending.endsWith("\r") ? pending.slice(0, -1) : pending };
}
