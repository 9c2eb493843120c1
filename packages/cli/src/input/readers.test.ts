import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseCsvRows, readCsv } from "./csv.js";
import { readJsonArray } from "./json-array.js";
import { readNdjson } from "./ndjson.js";
import { sniffFormat } from "./source.js";

async function* chunks(text: string, cuts: readonly number[] = []): AsyncGenerator<string> {
  let last = 0;
  for (const cut of [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b)) {
    yield text.slice(last, cut);
    last = cut;
  }
  yield text.slice(last);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const cutsArbitrary = fc.array(fc.nat({ max: 400 }), { maxLength: 12 });

describe("readNdjson", () => {
  it("numbers lines as in the file, skipping blank lines, with CRLF and a BOM", async () => {
    const text = '\uFEFF{"phone_id":"a"}\r\n\r\n{"phone_id":"b"}\n   \n{"phone_id":"c"}';
    const records = await collect(readNdjson(chunks(text)));
    expect(records.map((r) => [r.line, (r.value as { phone_id: string }).phone_id])).toEqual([
      [1, "a"],
      [3, "b"],
      [5, "c"],
    ]);
  });

  it("reports a broken line on its line and keeps reading", async () => {
    const records = await collect(readNdjson(chunks('{"phone_id":"a"}\n{"phone_id": \n{"phone_id":"c"}\n')));
    expect(records[1]).toMatchObject({ line: 2, problems: [{ code: "input_syntax" }] });
    expect(records[2]).toMatchObject({ line: 3, value: { phone_id: "c" } });
  });

  test.prop([
    fc.array(fc.dictionary(fc.constantFrom("phone_id", "bucket_name"), fc.string()), { maxLength: 20 }),
    cutsArbitrary,
  ])("gives the same records however the text is cut into chunks", async (objects, cuts) => {
    const text = objects.map((o) => JSON.stringify(o)).join("\n");
    const whole = await collect(readNdjson(chunks(text)));
    const cut = await collect(readNdjson(chunks(text, cuts)));
    expect(cut).toEqual(whole);
    expect(whole.map((r) => r.value)).toEqual(objects);
    expect(whole.map((r) => r.line)).toEqual(objects.map((_, index) => index + 1));
  });
});

describe("readJsonArray", () => {
  it("gives each element with the line it starts on", async () => {
    const text = `[
  {"phone_id": "a", "include_files": ["/data/[x]", "/data/{y}"]},
  {
    "phone_id": "b,]"
  },

  {"phone_id": "c\\"]"}
]
`;
    const records = await collect(readJsonArray(chunks(text)));
    expect(records.map((r) => [r.line, (r.value as { phone_id: string }).phone_id])).toEqual([
      [2, "a"],
      [3, "b,]"],
      [7, 'c"]'],
    ]);
  });

  it("reports a broken element on its line and reads the others", async () => {
    const records = await collect(
      readJsonArray(chunks('[\n{"phone_id":"a"},\n{"phone_id":},\n{"phone_id":"c"}\n]')),
    );
    expect(records).toHaveLength(3);
    expect(records[1]).toMatchObject({ line: 3, problems: [{ code: "input_syntax" }] });
    expect(records[2]).toMatchObject({ line: 4, value: { phone_id: "c" } });
  });

  it("reports an empty element (a trailing comma)", async () => {
    const records = await collect(readJsonArray(chunks('[{"phone_id":"a"},\n]')));
    expect(records[1]).toMatchObject({
      line: 2,
      problems: [{ message: expect.stringMatching(/empty array element/) }],
    });
  });

  it("refuses a root that is not an array, an unclosed array and trailing text", async () => {
    expect(await collect(readJsonArray(chunks('{"phone_id":"a"}')))).toMatchObject([
      { fatal: true, problems: [{ code: "input_shape" }] },
    ]);
    const unclosed = await collect(readJsonArray(chunks('[{"phone_id":"a"},\n{"phone_id":"b"}')));
    expect(unclosed.at(-1)).toMatchObject({
      fatal: true,
      problems: [{ message: expect.stringMatching(/not closed/) }],
    });
    const trailing = await collect(readJsonArray(chunks('[{"phone_id":"a"}]\n[]')));
    expect(trailing.at(-1)).toMatchObject({ line: 2, fatal: true });
  });

  it("reads [] and an empty input as no phones", async () => {
    expect(await collect(readJsonArray(chunks("[ ]\n")))).toEqual([]);
    expect(await collect(readJsonArray(chunks("")))).toEqual([]);
  });

  const valueArbitrary = fc.jsonValue({ maxDepth: 3 });
  test.prop([fc.array(valueArbitrary, { maxLength: 15 }), fc.boolean(), cutsArbitrary])(
    "streams exactly the elements JSON.parse sees, however the text is cut",
    async (values, pretty, cuts) => {
      const text = JSON.stringify(values, null, pretty ? 2 : undefined);
      const records = await collect(readJsonArray(chunks(text, cuts)));
      expect(records.map((r) => r.value)).toEqual(JSON.parse(text));
      // Each element starts on the line where its text starts.
      const lines = records.map((r) => r.line);
      expect([...lines].sort((a, b) => a - b)).toEqual(lines);
    },
  );
});

describe("CSV", () => {
  it("reads quoted fields with commas, doubled quotes and newlines, numbering rows by their first line", async () => {
    const text =
      'phone_id,include_files,object_path\r\n"a,1","/data/x;/data/y",o/a.tar\r\nb,"/data/""q""\n/data/z",o/b.tar\nc,/cache,o/c.tar\n';
    const rows = await collect(parseCsvRows(chunks(text)));
    expect(rows).toEqual([
      { line: 1, cells: ["phone_id", "include_files", "object_path"] },
      { line: 2, cells: ["a,1", "/data/x;/data/y", "o/a.tar"] },
      { line: 3, cells: ["b", '/data/"q"\n/data/z', "o/b.tar"] },
      { line: 5, cells: ["c", "/cache", "o/c.tar"] },
    ]);
  });

  it("maps columns to fields, splits list cells on ; or |, and leaves empty cells out", async () => {
    const text =
      "phone_id,include_files,exclude_files,bucket_name\np1, /data/a ; /data/b ,/data/a/cache|/data/b/cache,\np2,,,bkt\n";
    const records = await collect(readCsv(chunks(text)));
    expect(records).toEqual([
      {
        line: 2,
        value: {
          phone_id: "p1",
          include_files: ["/data/a", "/data/b"],
          exclude_files: ["/data/a/cache", "/data/b/cache"],
        },
      },
      { line: 3, value: { phone_id: "p2", bucket_name: "bkt" } },
    ]);
  });

  it("reports unknown and repeated columns on line 1, and stops without a phone_id column", async () => {
    const records = await collect(readCsv(chunks("phone_id,bukcet,phone_id\np1,x,y\n")));
    expect(records[0]).toMatchObject({
      line: 1,
      problems: [{ path: "bukcet", code: "input_header" }, { path: "phone_id" }],
    });
    expect(records[1]).toEqual({ line: 2, value: { phone_id: "p1" } });
    const fatal = await collect(readCsv(chunks("id,bucket_name\np1,b\n")));
    expect(fatal).toMatchObject([{ line: 1, fatal: true }]);
  });

  it("reports a row with the wrong number of cells, and an unclosed quote", async () => {
    const records = await collect(readCsv(chunks('phone_id,bucket_name\np1\np2,b,extra\np3,"b\n')));
    expect(records[0]).toMatchObject({ line: 2, problems: [{ code: "input_shape" }] });
    expect(records[1]).toMatchObject({
      line: 3,
      problems: [{ message: expect.stringMatching(/3 cells.*2 columns/) }],
    });
    expect(records[2]).toMatchObject({
      line: 4,
      problems: [{ message: expect.stringMatching(/not closed/) }],
    });
  });

  const cellArbitrary = fc.string({
    unit: fc.constantFrom("a", "b", ",", '"', "\n", "/", " ", "x"),
    maxLength: 8,
  });
  test.prop([
    fc.array(fc.tuple(cellArbitrary, cellArbitrary), { minLength: 1, maxLength: 10 }),
    cutsArbitrary,
  ])("reads back what an RFC 4180 writer wrote, however the text is cut", async (rows, cuts) => {
    const quote = (cell: string) => `"${cell.replaceAll('"', '""')}"`;
    const text = `${rows.map((row) => row.map(quote).join(",")).join("\r\n")}\r\n`;
    const parsed = (await collect(parseCsvRows(chunks(text, cuts)))) as Array<{ cells: string[] }>;
    expect(parsed.map((row) => row.cells)).toEqual(rows);
  });
});

describe("sniffFormat", () => {
  it("tells the format from the first character", () => {
    expect(sniffFormat("\uFEFF  [\n")).toBe("json");
    expect(sniffFormat('{"phone_id"')).toBe("ndjson");
    expect(sniffFormat("phone_id,bucket_name")).toBe("csv");
  });
});

describe("CSV problems", () => {
  it("reads a BOM, CRLF line ends and blank lines, numbering rows by the line they start on", async () => {
    const text = '\uFEFFphone_id,bucket_name\r\n\r\np1,b\r\n\r\np3,"multi\r\nline"\r\np4,"open\r\n';
    const rows = await collect(parseCsvRows(chunks(text)));
    expect(rows).toEqual([
      { line: 1, cells: ["phone_id", "bucket_name"] },
      { line: 3, cells: ["p1", "b"] },
      { line: 5, cells: ["p3", "multi\r\nline"] },
      { line: 7, error: expect.stringMatching(/not closed/) },
    ]);
  });

  it("names the line of the first malformed rows (later rows may be misread until the quotes balance)", async () => {
    const text = 'phone_id,bucket_name\np1,a"b\np2,"x"y\n';
    const rows = await collect(parseCsvRows(chunks(text)));
    expect(rows.slice(0, 3)).toEqual([
      { line: 1, cells: ["phone_id", "bucket_name"] },
      { line: 2, error: expect.stringMatching(/quote in the middle of an unquoted field/) },
      { line: 3, error: expect.stringMatching(/goes on after its closing quote/) },
    ]);
  });

  it("streams: the first rows come out before the input ends", async () => {
    let sent = 0;
    async function* endless() {
      yield "phone_id\n";
      while (sent < 100_000) {
        sent++;
        yield `p${sent}\n`;
      }
    }
    for await (const row of parseCsvRows(endless())) {
      if ("cells" in row && row.cells[0] === "p10") break;
    }
    // csv-parse and the stream buffer some lines ahead (Node 22+ raised the default
    // highWaterMark to 64 KiB, about 11,000 of these lines), never the whole input.
    expect(sent).toBeLessThan(50_000);
  });
});
