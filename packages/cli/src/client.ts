import type { ClientEvent, CphClient, CphClientOptions } from "@cph-export/http-client";
import type { ResolvedConfig } from "./config.js";
import { CliError } from "./errors.js";
import { EXIT } from "./exit-codes.js";
import type { Context } from "./io.js";
import { cliVersion } from "./version.js";

/** Makes the client; the default loads `@cph-export/http-client` (and undici) only when needed. */
export type ClientFactory = (options: CphClientOptions) => CphClient | Promise<CphClient>;

async function defaultFactory(options: CphClientOptions): Promise<CphClient> {
  const module = (await import("@cph-export/http-client")) as {
    createCphClient?: (o: CphClientOptions) => CphClient;
  };
  if (typeof module.createCphClient !== "function") {
    throw new CliError(
      "@cph-export/http-client does not export createCphClient; reinstall cph-export.",
      EXIT.upstream,
    );
  }
  return module.createCphClient(options);
}

/** The User-Agent every request carries. */
export function userAgent(): string {
  return `cph-export/${cliVersion()}`;
}

/** A client for the resolved configuration; with `--debug` its (redacted) events go to stderr. */
export async function openClient(
  config: ResolvedConfig,
  context: Context,
  options: {
    retries?: number | undefined;
    factory?: ClientFactory | undefined;
    /** `--batch-size`: the client must let a request carry that many phones (CPH's limit is undocumented). */
    phonesPerRequest?: number | undefined;
  },
): Promise<CphClient> {
  if (!config.projectId || !config.credentials)
    throw new CliError("internal: openClient without a target", EXIT.usage);
  const clientOptions: CphClientOptions = {
    region: config.region,
    endpoint: config.endpoint,
    projectId: config.projectId,
    credentials: config.credentials,
    userAgent: userAgent(),
    onEvent: context.debug ? (event) => context.err.write(`debug: ${describeEvent(event)}\n`) : undefined,
  };
  if (options.retries !== undefined) clientOptions.retry = { maxAttempts: options.retries + 1 };
  if (options.phonesPerRequest !== undefined)
    clientOptions.validation = { maxPhonesPerRequest: options.phonesPerRequest };
  return (options.factory ?? defaultFactory)(clientOptions);
}

function describeEvent(event: ClientEvent): string {
  const parts: string[] = [event.type];
  if (event.method) parts.push(event.method);
  if (event.url) parts.push(event.url);
  if (event.status !== undefined) parts.push(String(event.status));
  if (event.attempt !== undefined) parts.push(`attempt ${event.attempt}`);
  if (event.delayMs !== undefined) parts.push(`in ${event.delayMs}ms`);
  if (event.durationMs !== undefined) parts.push(`${event.durationMs}ms`);
  if (event.requestId) parts.push(`request ${event.requestId}`);
  if (event.message) parts.push(event.message);
  return parts.join(" ");
}
