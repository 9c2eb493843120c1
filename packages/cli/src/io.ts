import type { Readable, Writable } from "node:stream";

/** Everything a command may touch of the outside world; `main.ts` wires the process into it. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Width of the terminal, for the progress bar and tables; default 80. */
  columns?: number | undefined;
  /** Aborted on SIGINT: commands stop, flush what they hold and return 130. */
  signal?: AbortSignal | undefined;
  /** The clock; injected by tests. */
  now?: (() => Date) | undefined;
}

/**
 * A text sink on one stream: awaits `drain` so that 100,000 result lines do not pile up in
 * memory, and replaces every known secret before it is written (a last line of defence).
 */
export class Output {
  readonly #stream: Writable;
  readonly #secrets: string[] = [];

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  /** Values that must never be printed (secret keys, tokens, passwords). */
  addSecrets(values: ReadonlyArray<string | undefined>): void {
    for (const value of values) if (value && value.length >= 4) this.#secrets.push(value);
  }

  /** Writes at once, ignoring back-pressure (for short messages and progress redraws). */
  write(text: string): void {
    this.#stream.write(this.redact(text));
  }

  /** Writes and waits for the stream to drain when its buffer is full. */
  async writeAsync(text: string): Promise<void> {
    if (this.#stream.write(this.redact(text))) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#stream.off("drain", done);
        this.#stream.off("error", done);
        this.#stream.off("close", done);
        resolve();
      };
      this.#stream.on("drain", done);
      this.#stream.on("error", done);
      this.#stream.on("close", done);
    });
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join("[REDACTED]");
    return out;
  }
}

/** What commands get: the io, the two outputs, and the global flags that shape messages. */
export interface Context {
  io: CliIo;
  out: Output;
  err: Output;
  /** Set from `--debug` once the options are parsed: stack traces and request logs. */
  debug: boolean;
  now: () => Date;
}

/** The terminal's width when it is known and usable (a pseudo-terminal may report 0). */
export function terminalWidth(io: Pick<CliIo, "columns">): number | undefined {
  return io.columns !== undefined && io.columns >= 40 ? io.columns : undefined;
}
