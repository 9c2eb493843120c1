import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Output } from "../io.js";
import { ProgressDisplay, REDRAW, renderBar, renderPlain } from "./progress.js";
import { type PhoneRow, phoneColumns, ResultWriter } from "./results.js";
import { renderTable } from "./table.js";

function sink(): { output: Output; text: () => string } {
  const stream = new PassThrough();
  const parts: string[] = [];
  stream.on("data", (chunk: Buffer) => parts.push(chunk.toString("utf8")));
  return { output: new Output(stream), text: () => parts.join("") };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("renderTable", () => {
  it("aligns columns, shows - for empty cells and leaves no trailing spaces", () => {
    const text = renderTable(
      [
        { header: "PHONE", value: (row: { id: string; state?: string }) => row.id },
        { header: "STATE", value: (row) => row.state },
      ],
      [{ id: "p-1", state: "succeeded" }, { id: "phone-22" }],
    );
    expect(text).toBe("PHONE     STATE\np-1       succeeded\nphone-22  -\n");
  });

  it("narrows shrinkable columns, last first, to fit a terminal; paths keep their end", () => {
    const columns = [
      { header: "ID", value: (row: string[]) => row[0] },
      { header: "PATH", value: (row: string[]) => row[1], shrink: "start" as const },
      { header: "ERROR", value: (row: string[]) => row[2], shrink: "end" as const },
    ];
    const rows = [
      ["phone-1", "bucket/very/long/path/to/phone-1.tar", "CPS.0005 The cloud phone does not exist"],
    ];
    const wide = renderTable(columns, rows);
    expect(wide.split("\n")[1]).toBe(
      "phone-1  bucket/very/long/path/to/phone-1.tar  CPS.0005 The cloud phone does not exist",
    );
    const narrow = renderTable(columns, rows, { width: 60 });
    for (const line of narrow.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(60);
    expect(narrow.split("\n")[1]).toBe("phone-1  bucket/very/long/path/to/phone-1.tar  CPS.0005 The…");
    const narrower = renderTable(columns, rows, { width: 40 }).split("\n")[1] ?? "";
    expect(narrower).toBe("phone-1  …h/to/phone-1.tar  CPS.0005 Th…");
  });

  it("cuts long cells and blanks control characters from server messages", () => {
    const text = renderTable(
      [{ header: "ERROR", value: (row: string) => row, maxWidth: 10 }],
      ["abc\u001b[2Jdef", "x".repeat(30)],
    );
    expect(text).not.toContain("\u001b");
    expect(text.split("\n")[1]).toBe("abc [2Jdef");
    expect(text.split("\n")[2]).toBe(`${"x".repeat(9)}…`);
  });
});

describe("ResultWriter", () => {
  const rows: PhoneRow[] = [
    { phone_id: "b", state: "failed", error_code: "CPS.0010", error_msg: "disk", line: 2 },
    { phone_id: "a", state: "succeeded", job_id: "j1", bucket_name: "bkt", object_path: "a.tar", line: 1 },
  ];

  it("streams a JSON array that parses back to the rows", async () => {
    const { output, text } = sink();
    const writer = new ResultWriter(output, "json", phoneColumns(false));
    for (const row of rows) await writer.add(row);
    await writer.end();
    await flush();
    expect(JSON.parse(text())).toEqual(rows);
  });

  it("writes an empty JSON array when there is nothing", async () => {
    const { output, text } = sink();
    const writer = new ResultWriter(output, "json", phoneColumns(false));
    await writer.end();
    await flush();
    expect(text()).toBe("[]\n");
  });

  it("writes NDJSON one line a row, and a table sorted by input line", async () => {
    const ndjson = sink();
    const lines = new ResultWriter(ndjson.output, "ndjson", phoneColumns(false));
    for (const row of rows) await lines.add(row);
    await lines.end();
    const table = sink();
    const aligned = new ResultWriter(table.output, "table", phoneColumns(false), {
      sortKey: (row) => row.line ?? 0,
    });
    for (const row of rows) await aligned.add(row);
    await aligned.end();
    await flush();
    expect(
      ndjson
        .text()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual(rows);
    expect(table.text()).toBe(
      [
        "PHONE  STATE      JOB  OBJECT     ERROR",
        "a      succeeded  j1   bkt/a.tar  -",
        "b      failed     -    -          CPS.0010 disk",
        "",
      ].join("\n"),
    );
  });
});

describe("progress", () => {
  const snapshot = { done: 20, total: 40, succeeded: 18, failed: 1, rejected: 1, running: 15, unknown: 0 };

  it("renders the bar with done/total, counts, rate and ETA", () => {
    const line = renderBar("export", snapshot, 10_000, 120);
    expect(line).toMatch(
      /^export \[█+░+\] 20\/40 · 18 ok · 1 failed · 1 rejected · 15 running · 1\.9\/s · ETA 11s$/,
    );
    expect(renderBar("export", { ...snapshot, done: 40, running: 0 }, 8_000, 120)).toMatch(/40\/40 .* 8s$/);
    expect(renderBar("export", snapshot, 10_000, 30)).toHaveLength(29);
  });

  it("renders plain lines for logs", () => {
    expect(renderPlain("export", snapshot)).toBe(
      "export: 20/40 done, 18 succeeded, 1 failed, 1 rejected, 15 running",
    );
    expect(renderPlain("export", { ...snapshot, accepted: 19, succeeded: 0 })).toMatch(/19 accepted/);
  });

  it("shows the concurrency limit only while it is held below the configured one", () => {
    expect(renderPlain("export", { ...snapshot, concurrency: { limit: 2, max: 8 } })).toBe(
      "export: 20/40 done, 18 succeeded, 1 failed, 1 rejected, 15 running, concurrency 2/8",
    );
    expect(renderBar("export", { ...snapshot, concurrency: { limit: 2, max: 8 } }, 10_000, 140)).toMatch(
      / · 15 running · concurrency 2\/8 · /,
    );
    expect(renderPlain("export", { ...snapshot, concurrency: { limit: 8, max: 8 } })).not.toMatch(
      /concurrency/,
    );
  });

  describe("ProgressDisplay", () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it("redraws the bar in place on a terminal, hides then restores the cursor", async () => {
      const { output, text } = sink();
      const display = new ProgressDisplay(output, {
        label: "export",
        tty: true,
        columns: 120,
        now: () => Date.now(),
        intervalMs: 100,
      });
      display.update({ ...snapshot, done: 0, succeeded: 0, failed: 0, rejected: 0 });
      vi.advanceTimersByTime(1000);
      display.update(snapshot);
      vi.advanceTimersByTime(150);
      display.update({ ...snapshot, done: 40, succeeded: 38, running: 0 });
      display.finish();
      await flush();
      const out = text();
      expect(out.startsWith("\u001b[?25l")).toBe(true);
      expect(out.endsWith("\n\u001b[?25h")).toBe(true);
      const frames = out.split(REDRAW).slice(1);
      expect(frames.length).toBeGreaterThan(2);
      expect(frames.at(-1)).toMatch(/40\/40 · 38 ok · 1 failed · 1 rejected · 0 running/);
    });

    it("coalesces plain lines within the interval and always prints the last state", async () => {
      const { output, text } = sink();
      const display = new ProgressDisplay(output, {
        label: "export",
        tty: false,
        now: () => Date.now(),
        plainIntervalMs: 1000,
      });
      for (let done = 0; done <= 40; done++) display.update({ ...snapshot, done });
      vi.advanceTimersByTime(1000);
      display.update({ ...snapshot, done: 40, running: 0 });
      display.finish();
      await flush();
      const lines = text().trim().split("\n");
      expect(lines.length).toBeLessThanOrEqual(3);
      expect(lines[0]).toMatch(/^export: 0\/40 done/);
      expect(lines.at(-1)).toMatch(/^export: 40\/40 done, .* 0 running$/);
      expect(text()).not.toContain("\u001b");
    });
  });
});

describe("Output", () => {
  it("never writes a registered secret", async () => {
    const { output, text } = sink();
    output.addSecrets(["super-secret-key", undefined, "abc"]);
    output.write("key=super-secret-key and abc\n");
    await output.writeAsync("again super-secret-key\n");
    await flush();
    expect(text()).toBe("key=[REDACTED] and abc\nagain [REDACTED]\n");
  });
});
