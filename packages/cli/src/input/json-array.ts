import { jsonErrorText } from "./ndjson.js";
import type { InputRecord } from "./records.js";

const WHITESPACE = new Set([32, 9, 10, 13]);
const OPEN = new Set([91, 123]); // [ {
const CLOSE = new Set([93, 125]); // ] }

/**
 * Streams the elements of a top-level JSON array, one record per element with the line where it
 * starts. Only one element is held in memory at a time; each is parsed by `JSON.parse`, so a
 * broken element is reported on its own line and the others are still read.
 */
export async function* readJsonArray(chunks: AsyncIterable<string>): AsyncGenerator<InputRecord> {
  // open: after `[`; next: after `,` (an element must follow); element: inside one; done: after `]`.
  type State = "root" | "open" | "next" | "element" | "done";
  let state = "root" as State;
  let line = 1;
  let parts: string[] = [];
  let elementLine = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let first = true;

  const finish = (): InputRecord => {
    const text = parts.join("").trim();
    parts = [];
    if (text === "") {
      return {
        line: elementLine,
        problems: [
          { code: "input_syntax", message: "empty array element (two commas, or a comma before ])" },
        ],
      };
    }
    try {
      return { line: elementLine, value: JSON.parse(text) };
    } catch (error) {
      return {
        line: elementLine,
        problems: [{ code: "input_syntax", message: `not valid JSON (${jsonErrorText(error)})` }],
      };
    }
  };
  const fatal = (message: string): InputRecord => ({
    line,
    problems: [{ code: "input_shape", message }],
    fatal: true,
  });

  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    let start = state === "element" ? 0 : -1;
    for (let index = 0; index < chunk.length; index++) {
      const code = chunk.charCodeAt(index);
      if (state === "element") {
        if (inString) {
          if (escaped) escaped = false;
          else if (code === 92) escaped = true;
          else if (code === 34) inString = false;
          else if (code === 10) line++;
          continue;
        }
        if (code === 34) inString = true;
        else if (OPEN.has(code)) depth++;
        else if (CLOSE.has(code) && depth > 0) depth--;
        else if (depth === 0 && (code === 44 || code === 93)) {
          parts.push(chunk.slice(start, index));
          yield finish();
          state = code === 44 ? "next" : "done";
          start = -1;
        } else if (code === 10) line++;
        continue;
      }
      if (code === 10) line++;
      if (WHITESPACE.has(code)) continue;
      if (state === "root") {
        if (code !== 91) {
          yield fatal(
            'a JSON input must be an array of phones, e.g. [{"phone_id": ...}]; use NDJSON for one object a line',
          );
          return;
        }
        state = "open";
      } else if (state === "open" || state === "next") {
        if (code === 93) {
          if (state === "next") {
            elementLine = line;
            yield finish();
          }
          state = "done";
          continue;
        }
        state = "element";
        elementLine = line;
        start = index;
        depth = 0;
        index--; // scan this character again as part of the element
      } else if (state === "done") {
        yield fatal("unexpected text after the closing ] of the JSON array");
        return;
      }
    }
    if (state === "element" && start !== -1) parts.push(chunk.slice(start));
  }
  if (state === "root") return; // an empty input has no phones
  if (state !== "done") yield fatal("the JSON array is not closed; the input may be cut short");
}
