// The bin entry: wires the process (streams, signals, exit code) into `run`. `--version` and
// `--help` are answered before anything else is loaded, so that they start about as fast as node.
import { isatty } from "node:tty";
import { cachedHelp, helpRequest } from "./help-cache.js";
import { cliVersion } from "./version.js";

const argv = process.argv.slice(2);
const help = helpRequest(argv);
const helpText = help !== undefined ? cachedHelp(help) : undefined;

if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`${cliVersion()}\n`);
} else if (helpText !== undefined) {
  process.stdout.write(helpText);
} else {
  void main();
}

async function main(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write(`\ncph-export: ${signal} again: exiting now without flushing.\n`);
      process.exit(130);
    }
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // `cph-export ... | head` closes the pipe early: stop quietly, as other Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  // The pinned AWS SDK (verify's OBS reader) runs on Node 20 and would warn on every run that later
  // releases will not; the process's environment is this shell's to set.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
  const { run } = await import("./run.js");
  const code = await run(argv, {
    // A getter: opening stdin is left to the commands that read it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdinIsTTY: isatty(0),
    stdoutIsTTY: isatty(1),
    stderrIsTTY: isatty(2),
    columns: process.stdout.columns || process.stderr.columns,
    signal: controller.signal,
  });
  process.exitCode = code;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  // Nothing should keep the process alive now; if a socket does, do not hang the shell.
  setTimeout(() => process.exit(code), 2000).unref();
}
