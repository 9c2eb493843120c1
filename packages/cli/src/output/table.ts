/** One column of a text table. */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string | undefined;
  /** Longer cells are cut with `…`. */
  maxWidth?: number;
  /** Wraps the padded cell, e.g. in a color; must not change its visible width. */
  style?: (cell: string, row: Row) => string;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function cell(text: string | undefined, maxWidth: number | undefined): string {
  // Control characters from a server message could move the cursor or hide text in a terminal.
  const clean = (text ?? "").replace(CONTROL, " ");
  if (maxWidth !== undefined && clean.length > maxWidth)
    return `${clean.slice(0, Math.max(0, maxWidth - 1))}…`;
  return clean;
}

/**
 * Renders rows as an aligned text table with a header line; empty values show as `-`. The last
 * column is not padded, so lines carry no trailing spaces.
 */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.maxWidth) || "-"));
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...cells.map((line) => (line[index] ?? "").length)),
  );
  const last = columns.length - 1;
  const format = (line: readonly string[], row: Row | undefined) =>
    line
      .map((text, index) => {
        const padded = index === last ? text : text.padEnd(widths[index] ?? 0);
        const style = columns[index]?.style;
        return row !== undefined && style ? style(padded, row) : padded;
      })
      .join("  ")
      .trimEnd();
  const lines = [
    format(
      columns.map((column) => column.header),
      undefined,
    ),
  ];
  cells.forEach((line, index) => {
    lines.push(format(line, rows[index]));
  });
  return `${lines.join("\n")}\n`;
}

const COLORS = { green: 32, red: 31, yellow: 33, cyan: 36, dim: 2 } as const;
export type Color = keyof typeof COLORS;

/** Wraps text in an ANSI color (only call it when color is enabled). */
export function paint(text: string, color: Color): string {
  return `\u001b[${COLORS[color]}m${text}\u001b[0m`;
}
