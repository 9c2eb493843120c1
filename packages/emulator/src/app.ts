import { redactHeaders } from "@cph-export/core";
import { Hono } from "hono";
import { TokenStore } from "./auth.js";
import { type EmulatorConfig, resolveEmulatorConfig } from "./config.js";
import { mountControlRoutes } from "./control-routes.js";
import { mountCphRoutes } from "./cph-routes.js";
import {
  type Answer,
  DROP,
  type EmulatorContext,
  type EmulatorEnv,
  errorBody,
  headerRecord,
  sleep,
} from "./http-io.js";
import { mountIamRoutes } from "./iam-routes.js";
import { randomId } from "./random.js";
import { mountS3Routes } from "./s3.js";
import { EmulatorState } from "./state.js";

// The emulator's app: one middleware (request id, log line), the fault wrapper every API route
// goes through, and the routes: IAM (iam-routes.ts), CPH (cph-routes.ts), the control routes
// (control-routes.ts) and OBS's S3 subset (s3.ts).

/** Options shared by `createEmulatorApp` and `startEmulator`. */
export interface EmulatorAppOptions {
  /** Where archives are written, as `<dataDir>/<bucket>/<object_path>`. */
  dataDir: string;
  /** Credentials, phones, faults...; validated, defaults from `DEMO_CREDENTIALS`. */
  config?: EmulatorConfig | undefined;
  /** The server's clock (token expiry, the ±15 minute signature window, job times); default now. */
  clock?: (() => Date) | undefined;
  /** Receives one JSON line per request (credentials redacted) and the listening line. */
  log?: ((line: string) => void) | undefined;
}

/** The hono app of the emulator, plus `close()` to stop its pending jobs and finish its writes. */
export type EmulatorApp = Hono<EmulatorEnv> & { close(): Promise<void> };

/** Builds the emulator: the app and its state (used by `startEmulator` and the tests). */
export function createEmulator(options: EmulatorAppOptions): {
  app: Hono<EmulatorEnv>;
  state: EmulatorState;
} {
  const config = resolveEmulatorConfig(options.config);
  const clock = options.clock ?? (() => new Date());
  const log = options.log;
  const state = new EmulatorState({ config, dataDir: options.dataDir, clock, log });
  const tokens = new TokenStore();
  const app = new Hono<EmulatorEnv>();

  app.use("*", async (c, next) => {
    const requestId = randomId();
    c.set("requestId", requestId);
    c.set("errorCode", undefined);
    c.set("dropped", false);
    c.header("X-Request-Id", requestId);
    const started = performance.now();
    await next();
    if (!c.res.headers.has("X-Request-Id")) c.res.headers.set("X-Request-Id", requestId);
    if (!log) return;
    const line: Record<string, unknown> = {
      time: new Date().toISOString(),
      method: c.req.method,
      path: c.req.path,
      status: c.get("dropped") ? "dropped" : c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      request_id: requestId,
    };
    const errorCode = c.get("errorCode");
    if (errorCode) line["error_code"] = errorCode;
    line["headers"] = redactHeaders(headerRecord(c));
    log(JSON.stringify(line));
  });

  /** Counts, throttles and delays one CPH or IAM call; `api` names its throttling bucket. */
  const api =
    (name: string, handler: (c: EmulatorContext) => Promise<Answer>) =>
    async (c: EmulatorContext): Promise<Response> => {
      state.stats.requests++;
      const faults = state.faults;
      let answer: Answer;
      const throttled = faults.throttleRps
        ? state.throttle.take(name, faults.throttleRps, clock().getTime())
        : { ok: true as const };
      if (!throttled.ok) {
        state.stats.throttled++;
        c.header("Retry-After", String(throttled.retryAfterSeconds));
        answer = errorBody(
          c,
          429,
          "APIGW.0308",
          `The throttling threshold has been reached: policy user over ratelimit, limit:${faults.throttleRps}, time:1 second`,
        );
      } else {
        answer = await handler(c);
      }
      if (faults.latencyMs) await sleep(faults.latencyMs);
      if (answer !== DROP) return answer;
      c.set("dropped", true);
      const socket = c.env?.incoming?.socket;
      if (socket) {
        socket.destroy();
        return c.body(null, 200);
      }
      // In-process (app.request) there is no socket to cut; a gateway timeout is the same ambiguity.
      return errorBody(c, 504, "APIGW.0201", "Backend timeout (the emulator dropped this answer)");
    };

  mountIamRoutes(app, { config, tokens, clock, api });
  mountCphRoutes(app, { config, state, tokens, clock, api });
  if (config.controlRoutes) mountControlRoutes(app, state);

  // OBS's S3 API over the data directory (path-style buckets never collide with the routes above).
  mountS3Routes(app, { dataDir: options.dataDir, accessKeys: config.accessKeys, clock });

  app.notFound((c) => {
    if (!c.req.path.startsWith("/__emulator/")) state.stats.requests++;
    return errorBody(
      c,
      404,
      "APIGW.0101",
      `The API does not exist or has not been published: ${c.req.method} ${c.req.path}`,
    );
  });

  app.onError((error, c) => {
    log?.(
      JSON.stringify({
        time: new Date().toISOString(),
        event: "internal_error",
        request_id: c.get("requestId"),
        message: error.message,
      }),
    );
    return errorBody(c, 500, "CPS.0003", "Service internal error; retry later");
  });

  return { app, state };
}

/**
 * The emulator as a hono app, for in-process tests with `app.request()`. Call `close()` at the
 * end to stop pending jobs and wait for archives being written.
 *
 * @example
 * const app = createEmulatorApp({ dataDir });
 * const res = await app.request("/v3/auth/tokens", { method: "POST", body: JSON.stringify(auth) });
 * await app.close();
 */
export function createEmulatorApp(options: EmulatorAppOptions): EmulatorApp {
  const { app, state } = createEmulator(options);
  return Object.assign(app, { close: () => state.close() });
}
