/** One column of a text table. */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string | undefined;
  /** Longer cells are cut with `…`. */
  maxWidth?: number;
  /**
   * The column may be narrowed to fit the terminal: `end` cuts the end of long cells, `start`
   * their beginning (for paths, whose end matters most). Shrinkable columns give way last first.
   */
  shrink?: "end" | "start";
  /** Wraps the padded cell, e.g. in a color; must not change its visible width. */
  style?: (cell: string, row: Row) => string;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const MIN_SHRUNK = 12;

function cut(text: string, width: number, from: "end" | "start"): string {
  if (text.length <= width) return text;
  if (width <= 1) return "…".slice(0, width);
  return from === "start" ? `…${text.slice(text.length - width + 1)}` : `${text.slice(0, width - 1)}…`;
}

function cell(text: string | undefined, maxWidth: number | undefined): string {
  // Control characters from a server message could move the cursor or hide text in a terminal.
  const clean = (text ?? "").replace(CONTROL, " ");
  return maxWidth === undefined ? clean : cut(clean, maxWidth, "end");
}

/**
 * Renders rows as an aligned text table with a header line; empty values show as `-`. The last
 * column is not padded, so lines carry no trailing spaces. With `width` (a terminal's), the
 * shrinkable columns are narrowed so that lines fit.
 */
export function renderTable<Row>(
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  options: { width?: number | undefined } = {},
): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.maxWidth) || "-"));
  const widths = columns.map((column) => column.header.length);
  for (const line of cells) {
    line.forEach((text, index) => {
      if (text.length > (widths[index] ?? 0)) widths[index] = text.length;
    });
  }
  const gaps = 2 * (columns.length - 1);
  let excess =
    options.width !== undefined ? widths.reduce((sum, width) => sum + width, gaps) - options.width : 0;
  for (let index = columns.length - 1; index >= 0 && excess > 0; index--) {
    const column = columns[index];
    const width = widths[index] ?? 0;
    if (!column?.shrink) continue;
    const floor = Math.max(column.header.length, MIN_SHRUNK);
    const narrower = Math.max(floor, width - excess);
    excess -= width - narrower;
    widths[index] = narrower;
  }
  const last = columns.length - 1;
  const format = (line: readonly string[], row: Row | undefined) =>
    line
      .map((text, index) => {
        const width = widths[index] ?? 0;
        const fitted = cut(text, width, columns[index]?.shrink ?? "end");
        const padded = index === last ? fitted : fitted.padEnd(width);
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
