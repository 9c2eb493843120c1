import { type InputRecord, splitLines } from "./records.js";

/** Reads NDJSON (one JSON object a line; blank lines skipped), one record per line. */
export async function* readNdjson(chunks: AsyncIterable<string>): AsyncGenerator<InputRecord> {
  for await (const { line, text } of splitLines(chunks)) {
    if (text.trim() === "") continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch (error) {
      yield {
        line,
        problems: [{ code: "input_syntax", message: `not valid JSON (${jsonErrorText(error)})` }],
      };
    }
  }
}

export function jsonErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // V8 appends the whole input to some messages; keep the reason only.
  return message
    .replace(/, "[\s\S]*$/, "")
    .replace(/\s+/g, " ")
    .slice(0, 160);
}
