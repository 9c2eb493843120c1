import type { Output } from "../io.js";
import type { OutputFormat } from "../options.js";
import { type Color, type Column, paint, renderTable } from "./table.js";

/**
 * Writes result rows as a table (collected, then aligned), a JSON array (streamed element by
 * element) or NDJSON (one line each, as they come).
 */
export class ResultWriter<Row extends object> {
  readonly #out: Output;
  readonly #format: OutputFormat;
  readonly #columns: readonly Column<Row>[];
  readonly #sortKey: ((row: Row) => number) | undefined;
  readonly #width: number | undefined;
  readonly #rows: Row[] = [];
  #count = 0;

  /** `width`: the terminal's, to fit a table; `sortKey`: the order of table rows. */
  constructor(
    out: Output,
    format: OutputFormat,
    columns: readonly Column<Row>[],
    options: { sortKey?: ((row: Row) => number) | undefined; width?: number | undefined } = {},
  ) {
    this.#out = out;
    this.#format = format;
    this.#columns = columns;
    this.#sortKey = options.sortKey;
    this.#width = options.width;
  }

  get count(): number {
    return this.#count;
  }

  async add(row: Row): Promise<void> {
    this.#count++;
    if (this.#format === "table") this.#rows.push(row);
    else if (this.#format === "ndjson") await this.#out.writeAsync(`${JSON.stringify(row)}\n`);
    else await this.#out.writeAsync(`${this.#count === 1 ? "[\n  " : ",\n  "}${JSON.stringify(row)}`);
  }

  async end(): Promise<void> {
    if (this.#format === "json") await this.#out.writeAsync(this.#count === 0 ? "[]\n" : "\n]\n");
    if (this.#format !== "table" || this.#rows.length === 0) return;
    const key = this.#sortKey;
    const rows = key ? [...this.#rows].sort((a, b) => key(a) - key(b)) : this.#rows;
    await this.#out.writeAsync(renderTable(this.#columns, rows, { width: this.#width }));
  }
}

/** One row of `export` output: one phone. Keys follow the API's snake_case. */
export interface PhoneRow {
  phone_id: string;
  state: string;
  job_id?: string | undefined;
  request_id?: string | undefined;
  error_code?: string | undefined;
  error_msg?: string | undefined;
  bucket_name?: string | undefined;
  object_path?: string | undefined;
  /** Line of the phone in the input file. */
  line?: number | undefined;
  /** The state was read from the journal of an earlier run. */
  from_journal?: boolean | undefined;
}

const STATE_COLORS: Record<string, Color> = {
  succeeded: "green",
  accepted: "green",
  failed: "red",
  rejected: "red",
  unknown: "yellow",
  running: "cyan",
};

function stateStyle<Row extends { state: string }>(color: boolean) {
  if (!color) return undefined;
  return (cell: string, row: Row) => {
    const tone = STATE_COLORS[row.state];
    return tone ? paint(cell, tone) : cell;
  };
}

export function phoneColumns(color: boolean): Column<PhoneRow>[] {
  const style = stateStyle<PhoneRow>(color);
  return [
    { header: "PHONE", value: (row) => row.phone_id },
    {
      header: "STATE",
      value: (row) => (row.from_journal ? `${row.state}*` : row.state),
      ...(style ? { style } : {}),
    },
    { header: "JOB", value: (row) => row.job_id },
    {
      header: "OBJECT",
      value: (row) =>
        row.bucket_name && row.object_path ? `${row.bucket_name}/${row.object_path}` : row.object_path,
      shrink: "start",
    },
    {
      header: "ERROR",
      value: (row) => (row.error_code ? `${row.error_code} ${row.error_msg ?? ""}`.trim() : row.error_msg),
      maxWidth: 60,
      shrink: "end",
    },
  ];
}

/** One row of `jobs` output: one job. */
export interface JobRow {
  job_id: string;
  phone_id?: string | undefined;
  request_id?: string | undefined;
  state: string;
  status?: number | string | undefined;
  begin_time?: string | undefined;
  end_time?: string | undefined;
  error_code?: string | undefined;
  error_msg?: string | undefined;
}

export function jobColumns(color: boolean): Column<JobRow>[] {
  const style = stateStyle<JobRow>(color);
  return [
    { header: "JOB", value: (row) => row.job_id },
    { header: "PHONE", value: (row) => row.phone_id },
    { header: "STATE", value: (row) => row.state, ...(style ? { style } : {}) },
    { header: "BEGIN", value: (row) => row.begin_time },
    { header: "END", value: (row) => row.end_time },
    {
      header: "ERROR",
      value: (row) => (row.error_code ? `${row.error_code} ${row.error_msg ?? ""}`.trim() : row.error_msg),
      maxWidth: 60,
      shrink: "end",
    },
  ];
}
