import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { usageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { readJsonArray } from "./json-array.js";
import { readNdjson } from "./ndjson.js";
import type { InputFormat, InputRecord } from "./records.js";

const EXTENSIONS: Record<string, InputFormat> = {
  ".json": "json",
  ".ndjson": "ndjson",
  ".jsonl": "ndjson",
  ".csv": "csv",
};

/** An input file ready to be read (as often as needed): stdin is first copied to a private temp file. */
export interface InputSource {
  path: string;
  /** How messages name it: the path as given, or `stdin`. */
  name: string;
  format: InputFormat;
  close(): Promise<void>;
}

/** The format from `--input-format`, else the file extension, else the first character. */
export function formatFromName(name: string): InputFormat | undefined {
  return EXTENSIONS[extname(name).toLowerCase()];
}

/** `[` is a JSON array, `{` NDJSON, anything else CSV. */
export function sniffFormat(head: string): InputFormat {
  const text = head.replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("[")) return "json";
  if (text.startsWith("{")) return "ndjson";
  return "csv";
}

/**
 * Opens `--input FILE|-`. Standard input is spooled to a temp file (mode 600) so that the whole
 * input can be validated before anything is sent, and then read again to send it.
 */
export async function openInput(
  spec: string,
  explicit: InputFormat | undefined,
  io: CliIo,
): Promise<InputSource> {
  let path: string;
  let name: string;
  let cleanup = async () => {};
  if (spec === "-") {
    if (io.stdinIsTTY) io.stderr.write("reading phones from stdin; end with Ctrl-D\n");
    const directory = await mkdtemp(join(tmpdir(), "cph-export-"));
    path = join(directory, "stdin");
    cleanup = () => rm(directory, { recursive: true, force: true });
    try {
      await pipeline(io.stdin, createWriteStream(path, { mode: 0o600 }), {
        signal: io.signal ?? new AbortController().signal,
      });
    } catch (error) {
      await cleanup();
      throw error;
    }
    name = "stdin";
  } else {
    path = resolve(io.cwd, spec);
    name = spec;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      throw usageError(`cannot read --input ${spec}: no such file; check the path (relative to ${io.cwd}).`);
    }
    if (!info.isFile()) throw usageError(`cannot read --input ${spec}: it is not a file.`);
  }
  const format =
    explicit ?? (spec === "-" ? undefined : formatFromName(spec)) ?? sniffFormat(await readHead(path));
  return { path, name, format, close: cleanup };
}

async function readHead(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** Streams the records of an input file, one at a time. */
export function readRecords(
  source: Pick<InputSource, "path" | "format">,
  signal?: AbortSignal,
): AsyncGenerator<InputRecord> {
  const stream = createReadStream(source.path, {
    encoding: "utf8",
    highWaterMark: 64 * 1024,
    ...(signal ? { signal } : {}),
  });
  return recordsFromChunks(stream as AsyncIterable<string>, source.format);
}

/** The reader for one format over text chunks. */
export function recordsFromChunks(
  chunks: AsyncIterable<string>,
  format: InputFormat,
): AsyncGenerator<InputRecord> {
  switch (format) {
    case "json":
      return readJsonArray(chunks);
    case "ndjson":
      return readNdjson(chunks);
    case "csv":
      return readCsvLazily(chunks);
  }
}

/** csv-parse is loaded only when a CSV input is read (the CLI's startup budget). */
async function* readCsvLazily(chunks: AsyncIterable<string>): AsyncGenerator<InputRecord> {
  const { readCsv } = await import("./csv.js");
  yield* readCsv(chunks);
}
