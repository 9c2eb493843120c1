import { type HttpRequest, redactHeaders, resolveEndpoint, signRequest, utf8Text } from "@cph-export/core";
import type { SkippedPhone } from "@cph-export/http-client";
import { userAgent } from "../client.js";
import type { ResolvedConfig } from "../config.js";
import { EXIT } from "../exit-codes.js";
import type { Context } from "../io.js";
import type { OutputFormat } from "../options.js";
import type { PhoneSource } from "../phones.js";
import type { Meta } from "./batch-run.js";

/** What a dry run prints the requests of: the entries, how they batch, and the request of a batch. */
export interface DryRunSpec<T> {
  operation: "export" | "restore";
  items(meta: Meta[], signal: AbortSignal | undefined): AsyncIterable<T | SkippedPhone>;
  batcher: { add(entry: T): T[] | undefined; flush(): T[] | undefined };
  build(batch: T[]): HttpRequest;
}

/**
 * `--dry-run`: prints each request a real run would send (signed, credentials redacted), the
 * phones skipped, and a summary; sends nothing.
 */
export async function printRequests<T>(
  spec: DryRunSpec<T>,
  config: ResolvedConfig,
  source: PhoneSource,
  total: number,
  format: OutputFormat,
  context: Context,
): Promise<number> {
  const endpoint = resolveEndpoint({ region: config.region, endpoint: config.endpoint });
  const projectId = config.projectId as string;
  const batcher = spec.batcher;
  let requests = 0;
  const emit = async (batch: T[]) => {
    const request = await authenticate(spec.build(batch), config, projectId, context.now());
    requests++;
    const headers = redactHeaders(request.headers) as Record<string, string>;
    const body = request.body ? utf8Text(request.body) : "";
    if (format === "table") {
      const lines = [
        `${request.method} ${request.url}`,
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      await context.out.writeAsync(`${lines.join("\n")}\n\n${body}\n\n`);
    } else {
      const json = JSON.stringify({ method: request.method, url: request.url, headers, body });
      if (format === "ndjson") await context.out.writeAsync(`${json}\n`);
      else await context.out.writeAsync(`${requests === 1 ? "[\n  " : ",\n  "}${json}`);
    }
  };
  const meta: Meta[] = [];
  let index = 0;
  let skipped = 0;
  for await (const item of spec.items(meta, context.io.signal)) {
    const where = source.where(meta[index++]?.line ?? 0);
    // A SkippedPhone (not imported as a value: the client loads only when a run sends).
    if (!("phone_id" in (item as object))) {
      const skip = item as SkippedPhone;
      skipped++;
      context.err.write(`skip ${where}: ${skip.errorMessage}\n`);
      continue;
    }
    if (source.kind === "api") context.err.write(`send ${where}\n`);
    const batch = batcher.add(item as T);
    if (batch) await emit(batch);
  }
  const rest = batcher.flush();
  if (rest) await emit(rest);
  if (format === "json") await context.out.writeAsync(requests === 0 ? "[]\n" : "\n]\n");
  if (config.credentials?.type === "password") {
    context.err.write(
      `dry run: a real run first gets an IAM token for ${config.credentials.userName}; its request is not shown.\n`,
    );
  }
  if (!config.credentials)
    context.err.write(
      "dry run: no credentials are configured, so the requests are shown unsigned; a real run needs them.\n",
    );
  const sent = total - skipped;
  const skippedText =
    skipped > 0 ? `; ${skipped} skipped${spec.operation === "export" ? ", not exportable" : ""}` : "";
  context.err.write(
    `dry run: ${sent} ${sent === 1 ? "phone" : "phones"} in ${requests} ${requests === 1 ? "request" : "requests"} to ${endpoint}${skippedText}; nothing was sent.\n`,
  );
  return EXIT.ok;
}

/**
 * Adds what a real run sends: the credentials (the caller redacts them before printing), then the
 * User-Agent, which the client adds after signing, as the official SDKs leave it unsigned.
 */
async function authenticate(
  request: HttpRequest,
  config: ResolvedConfig,
  projectId: string,
  date: Date,
): Promise<HttpRequest> {
  const credentials = config.credentials;
  let authenticated = request;
  if (credentials?.type === "aksk") {
    authenticated = await signRequest(request, {
      accessKey: credentials.accessKey,
      secretKey: credentials.secretKey,
      securityToken: credentials.securityToken,
      projectId,
      date,
    });
  } else if (credentials) {
    // Token and IAM password both send X-Auth-Token; the value is redacted anyway.
    const token = credentials.type === "token" ? credentials.token : "iam-token";
    authenticated = { ...request, headers: { ...request.headers, "X-Auth-Token": token } };
  }
  return { ...authenticated, headers: { ...authenticated.headers, "User-Agent": userAgent() } };
}
