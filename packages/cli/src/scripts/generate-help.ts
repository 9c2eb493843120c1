// Build step: writes dist/help.json with the `--help` output of every command path, produced by
// the real `run`, for `main.ts` to print without loading commander.
import { writeFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { completionTree } from "../commands/completion.js";
import { run } from "../run.js";

async function helpOf(path: string): Promise<string> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  const argv = [...(path ? path.split(" ") : []), "--help"];
  const code = await run(argv, {
    stdin: new PassThrough(),
    stdout,
    stderr: new PassThrough(),
    env: {},
    cwd: process.cwd(),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
  });
  if (code !== 0) throw new Error(`cph-export ${argv.join(" ")} exited with ${code}`);
  return Buffer.concat(chunks).toString("utf8");
}

const texts: Record<string, string> = {};
for (const node of completionTree()) texts[node.path] = await helpOf(node.path);
writeFileSync(new URL("../help.json", import.meta.url), `${JSON.stringify(texts, null, 2)}\n`);
