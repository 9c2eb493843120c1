import type { CphClient } from "@cph-export/http-client";
import { type ClientFactory, openClient } from "./client.js";
import { requireTarget, resolveConfig } from "./config.js";
import type { Context } from "./io.js";

/** The global flags a command that talks to CPH takes. */
export interface GlobalFlags {
  region?: string | undefined;
  endpoint?: string | undefined;
  projectId?: string | undefined;
  profile?: string | undefined;
  retries?: number | undefined;
}

/**
 * A client for a read command (`jobs`, `phones`, `servers`): the configuration resolved, its
 * secrets kept out of every output, its warnings printed, credentials required.
 */
export async function connect(
  options: GlobalFlags,
  context: Context,
  factory: ClientFactory | undefined,
): Promise<CphClient> {
  const config = await resolveConfig(options, context.io.env);
  context.out.addSecrets(config.secrets);
  context.err.addSecrets(config.secrets);
  for (const warning of config.warnings) context.err.write(`warning: ${warning}\n`);
  requireTarget(config, { credentials: true });
  return openClient(config, context, { retries: options.retries, factory });
}
