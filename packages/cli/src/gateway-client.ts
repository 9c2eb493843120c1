// The few calls `cph-export campaign` makes to a cph-gateway: JSON over fetch with the caller's
// bearer API key, and the gateway's error answers as CLI errors with the right exit code.
import { CliError, usageError } from "./errors.js";
import { EXIT } from "./exit-codes.js";

/** The environment variable that holds the caller's gateway API key. */
export const GATEWAY_KEY_ENV = "CPH_GATEWAY_API_KEY";
export const GATEWAY_URL_ENV = "CPH_GATEWAY_URL";

interface GatewayErrorBody {
  error_code?: string;
  error_msg?: string;
  details?: Array<{ path?: string; message?: string }>;
}

export interface GatewayClient {
  readonly url: string;
  request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T>;
}

/** The exit code of a gateway error answer: 2 for a refused request, 3 for auth, 4 for the rest. */
function exitFor(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404 || status === 409) return EXIT.failed;
  if (status >= 400 && status < 500 && status !== 429) return EXIT.usage;
  return EXIT.upstream;
}

export function createGatewayClient(options: {
  url: string | undefined;
  apiKey: string | undefined;
  signal?: AbortSignal | undefined;
  fetch?: typeof fetch | undefined;
}): GatewayClient {
  if (options.url === undefined) {
    throw usageError(
      `campaign: give --gateway URL (or set ${GATEWAY_URL_ENV}), e.g. --gateway http://gateway:8080.`,
    );
  }
  let base: URL;
  try {
    base = new URL(options.url);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error("protocol");
  } catch {
    throw usageError(
      `campaign: --gateway must be an http:// or https:// URL, not ${JSON.stringify(options.url)}.`,
    );
  }
  if (options.apiKey === undefined || options.apiKey === "") {
    throw usageError(
      `campaign: set ${GATEWAY_KEY_ENV} to your gateway API key (the gateway's operators issue it).`,
    );
  }
  const apiKey = options.apiKey;
  const send = options.fetch ?? fetch;
  const root = base.href.replace(/\/+$/, "");
  return {
    url: root,
    async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
      let response: Response;
      try {
        response = await send(`${root}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${apiKey}`,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(
          `cannot reach the gateway at ${root}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
          EXIT.upstream,
          { cause: error },
        );
      }
      const text = await response.text();
      let json: unknown;
      try {
        json = text === "" ? {} : JSON.parse(text);
      } catch {
        throw new CliError(
          `the gateway answered HTTP ${response.status} with a body that is not JSON`,
          EXIT.upstream,
        );
      }
      if (!response.ok) {
        const error = json as GatewayErrorBody;
        const details = (error.details ?? [])
          .slice(0, 20)
          .map((detail) => `\n  - ${detail.path ? `${detail.path}: ` : ""}${detail.message ?? ""}`)
          .join("");
        throw new CliError(
          `the gateway refused: ${error.error_code ?? `HTTP ${response.status}`}: ${error.error_msg ?? text.slice(0, 200)}${details}`,
          exitFor(response.status),
        );
      }
      return json as T;
    },
  };
}
