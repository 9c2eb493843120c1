import { formatDuration } from "../duration.js";
import type { Output } from "../io.js";

/** The counts a progress display shows. */
export interface ProgressSnapshot {
  /** Phones with a final state so far. */
  done: number;
  /** All phones, when the input was counted. */
  total?: number | undefined;
  succeeded: number;
  /** Set when jobs are not followed: phones accepted so far (shown instead of succeeded). */
  accepted?: number | undefined;
  failed: number;
  rejected: number;
  running: number;
  unknown: number;
  /** The in-flight limit of the run and its configured maximum; shown while it is held below it. */
  concurrency?: { limit: number; max: number } | undefined;
}

/** `concurrency 2/8` while adaptive concurrency holds a run below its configured limit. */
function reducedConcurrency(snapshot: ProgressSnapshot): string | undefined {
  const concurrency = snapshot.concurrency;
  if (!concurrency || concurrency.limit >= concurrency.max) return undefined;
  return `concurrency ${concurrency.limit}/${concurrency.max}`;
}

/** Erase the line and go back to its start: the redraw sequence of the bar. */
export const REDRAW = "\r\u001b[2K";
const HIDE_CURSOR = "\u001b[?25l";
const SHOW_CURSOR = "\u001b[?25h";

function counts(snapshot: ProgressSnapshot): string {
  const ok = snapshot.accepted !== undefined ? `${snapshot.accepted} accepted` : `${snapshot.succeeded} ok`;
  const parts = [ok, `${snapshot.failed} failed`];
  if (snapshot.rejected > 0) parts.push(`${snapshot.rejected} rejected`);
  parts.push(`${snapshot.running} running`);
  if (snapshot.unknown > 0) parts.push(`${snapshot.unknown} unknown`);
  const reduced = reducedConcurrency(snapshot);
  if (reduced) parts.push(reduced);
  return parts.join(" · ");
}

/**
 * One frame of the bar: `label [█████░░░░░] 23/40 · 20 ok · 1 failed · 2 running · 4.1/s · ETA 5s`,
 * cut to `width` columns.
 */
export function renderBar(
  label: string,
  snapshot: ProgressSnapshot,
  elapsedMs: number,
  width: number,
): string {
  const { done, total } = snapshot;
  // Rejections come back at once while jobs take minutes: counting them would promise too much.
  const rate = elapsedMs > 0 ? ((done - snapshot.rejected) * 1000) / elapsedMs : 0;
  const tail: string[] = [counts(snapshot), `${rate.toFixed(1)}/s`];
  if (total !== undefined && done < total)
    tail.push(rate > 0 ? `ETA ${formatDuration(((total - done) / rate) * 1000)}` : "ETA ?");
  if (total !== undefined && done >= total) tail.push(formatDuration(elapsedMs));
  const position = total !== undefined ? `${done}/${total}` : `${done}`;
  const barWidth = Math.max(10, Math.min(30, width - 80));
  let bar = "";
  if (total !== undefined && total > 0) {
    const filled = Math.min(barWidth, Math.round((done / total) * barWidth));
    bar = `[${"█".repeat(filled)}${"░".repeat(barWidth - filled)}] `;
  }
  const line = `${label} ${bar}${position} · ${tail.join(" · ")}`;
  return line.length > width ? line.slice(0, Math.max(1, width - 1)) : line;
}

/** One plain line per change, for logs: `export: 23/40 done, 20 succeeded, 1 failed, 2 running`. */
export function renderPlain(label: string, snapshot: ProgressSnapshot): string {
  const position = snapshot.total !== undefined ? `${snapshot.done}/${snapshot.total}` : `${snapshot.done}`;
  const ok =
    snapshot.accepted !== undefined ? `${snapshot.accepted} accepted` : `${snapshot.succeeded} succeeded`;
  const parts = [`${position} done`, ok, `${snapshot.failed} failed`];
  if (snapshot.rejected > 0) parts.push(`${snapshot.rejected} rejected`);
  parts.push(`${snapshot.running} running`);
  if (snapshot.unknown > 0) parts.push(`${snapshot.unknown} unknown`);
  const reduced = reducedConcurrency(snapshot);
  if (reduced) parts.push(reduced);
  return `${label}: ${parts.join(", ")}`;
}

export interface ProgressOptions {
  label: string;
  /** A live bar redrawn in place (a terminal), or plain lines. */
  tty: boolean;
  columns?: number | undefined;
  /** Milliseconds clock; injected by tests. */
  now?: () => number;
  /** Redraw period of the bar; default 100 ms. */
  intervalMs?: number;
  /** Plain lines: changes within this period are coalesced into one line; default 1 s. */
  plainIntervalMs?: number;
}

/**
 * Progress on stderr: on a terminal a bar redrawn in place (at most every `intervalMs`, and on a
 * timer so that rate and ETA move while nothing changes); otherwise one plain line per batch of
 * changes (changes within `plainIntervalMs` are coalesced, so a resumed run of 100,000 phones does
 * not print 100,000 lines).
 */
export class ProgressDisplay {
  readonly #out: Output;
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  readonly #start: number;
  #snapshot: ProgressSnapshot | undefined;
  #lastPlain = "";
  #lastPlainAt = Number.NEGATIVE_INFINITY;
  #pendingPlain: ReturnType<typeof setTimeout> | undefined;
  #lastDraw = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #finished = false;

  constructor(out: Output, options: ProgressOptions) {
    this.#out = out;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#start = this.#now();
    if (options.tty) {
      out.write(HIDE_CURSOR);
      this.#timer = setInterval(() => this.#draw(), options.intervalMs ?? 100);
      this.#timer.unref?.();
    }
  }

  update(snapshot: ProgressSnapshot): void {
    if (this.#finished) return;
    this.#snapshot = snapshot;
    if (!this.#options.tty) {
      const wait = this.#lastPlainAt + (this.#options.plainIntervalMs ?? 1000) - this.#now();
      if (wait <= 0) this.#plain();
      else if (!this.#pendingPlain) {
        this.#pendingPlain = setTimeout(() => this.#plain(), wait);
        this.#pendingPlain.unref?.();
      }
      return;
    }
    if (this.#now() - this.#lastDraw >= (this.#options.intervalMs ?? 100)) this.#draw();
  }

  #plain(): void {
    if (this.#pendingPlain) clearTimeout(this.#pendingPlain);
    this.#pendingPlain = undefined;
    if (!this.#snapshot) return;
    const line = renderPlain(this.#options.label, this.#snapshot);
    if (line === this.#lastPlain) return;
    this.#lastPlain = line;
    this.#lastPlainAt = this.#now();
    this.#out.write(`${line}\n`);
  }

  #draw(): void {
    if (!this.#snapshot || this.#finished) return;
    this.#lastDraw = this.#now();
    // A pseudo-terminal may report 0 columns.
    const columns = this.#options.columns;
    const width = columns !== undefined && columns >= 40 ? columns : 80;
    this.#out.write(
      `${REDRAW}${renderBar(this.#options.label, this.#snapshot, this.#lastDraw - this.#start, width)}`,
    );
  }

  /** Draws the last state, ends the line and gives the cursor back. */
  finish(): void {
    if (this.#finished) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#options.tty) {
      this.#draw();
      this.#out.write(`${this.#snapshot ? "\n" : REDRAW}${SHOW_CURSOR}`);
    } else this.#plain();
    this.#finished = true;
  }
}
