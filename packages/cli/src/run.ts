import type { ClientFactory } from "./client.js";
import type { ObsFactory } from "./obs.js";
import { describeError, exitCodeFor, isAbortError } from "./errors.js";
import { EXIT } from "./exit-codes.js";
import { type CliIo, type Context, Output } from "./io.js";
import { buildProgram, type CommandName } from "./program.js";
import { cliVersion } from "./version.js";

/** What `run` may be given instead of the real thing (tests pass a fake client). */
export interface RunDependencies {
  createClient?: ClientFactory | undefined;
  /** The OBS reader of `verify` (tests pass a fake, or point the real one at the emulator). */
  createObsReader?: ObsFactory | undefined;
}

interface CommanderErrorLike {
  code: string;
  exitCode: number;
}

function isCommanderError(error: unknown): error is CommanderErrorLike {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    (error as { code: string }).code.startsWith("commander.") &&
    typeof (error as { exitCode?: unknown }).exitCode === "number"
  );
}

/**
 * Runs `cph-export` with these arguments (without `node` and the script) against this io, and
 * resolves to the exit code. It never calls `process.exit` and never throws.
 *
 * @example const code = await run(["validate", "--input", "phones.csv"], io);
 */
export async function run(
  argv: readonly string[],
  io: CliIo,
  dependencies: RunDependencies = {},
): Promise<number> {
  const context: Context = {
    io,
    out: new Output(io.stdout),
    err: new Output(io.stderr),
    debug: argv.includes("--debug"),
    now: io.now ?? (() => new Date()),
  };
  let exitCode: number = EXIT.ok;
  const program = buildProgram({
    version: cliVersion(),
    writeOut: (text) => context.out.write(text),
    writeErr: (text) => context.err.write(text),
    // Help is always 80 columns wide, as in the cache main.ts prints from.
    dispatch: async (name, options) => {
      context.debug = options["debug"] === true;
      exitCode = await runCommand(name, options, context, dependencies);
      return exitCode;
    },
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (isCommanderError(error)) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return report(error, context);
  }
}

async function runCommand(
  name: CommandName,
  options: Record<string, unknown>,
  context: Context,
  dependencies: RunDependencies,
): Promise<number> {
  try {
    switch (name) {
      case "export":
        return await (await import("./commands/export.js")).exportCommand(options, context, dependencies);
      case "validate":
        return await (await import("./commands/validate.js")).validateCommand(options, context);
      case "verify":
        return await (await import("./commands/verify.js")).verifyCommand(options, context, dependencies);
      case "restore":
        return await (await import("./commands/restore.js")).restoreCommand(options, context, dependencies);
      case "jobs get":
        return await (await import("./commands/jobs.js")).jobsGetCommand(options, context, dependencies);
      case "jobs list":
        return await (await import("./commands/jobs.js")).jobsListCommand(options, context, dependencies);
      case "jobs wait":
        return await (await import("./commands/jobs.js")).jobsWaitCommand(options, context, dependencies);
      case "phones list":
        return await (await import("./commands/phones.js")).phonesListCommand(options, context, dependencies);
      case "servers list":
        return await (await import("./commands/servers.js")).serversListCommand(
          options,
          context,
          dependencies,
        );
      case "campaign start":
        return await (await import("./commands/campaign.js")).campaignStartCommand(options, context);
      case "campaign status":
        return await (await import("./commands/campaign.js")).campaignStatusCommand(options, context);
      case "campaign watch":
        return await (await import("./commands/campaign.js")).campaignWatchCommand(options, context);
      case "campaign cancel":
        return await (await import("./commands/campaign.js")).campaignCancelCommand(options, context);
      case "campaign phones":
        return await (await import("./commands/campaign.js")).campaignPhonesCommand(options, context);
      case "regions":
        return await (await import("./commands/regions.js")).regionsCommand(options, context);
      case "completion":
        return await (await import("./commands/completion.js")).completionCommand(options, context);
    }
  } catch (error) {
    return report(error, context);
  }
}

/** Prints one sentence for an error (a stack trace only with --debug) and returns its exit code. */
function report(error: unknown, context: Context): number {
  if (context.io.signal?.aborted && isAbortError(error)) {
    context.err.write("cph-export: interrupted.\n");
    return EXIT.interrupted;
  }
  context.err.write(`cph-export: ${describeError(error)}\n`);
  if (context.debug && error instanceof Error && error.stack) context.err.write(`${error.stack}\n`);
  return exitCodeFor(error);
}
