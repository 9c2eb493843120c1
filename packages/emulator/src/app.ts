import type { IncomingMessage } from "node:http";
import {
  iamTokenRequestSchema,
  LIMITS,
  redactHeaders,
  utf8Text,
  validateBatchExportRequest,
  validateBatchImportRequest,
  type ValidationResult,
} from "@cph-export/core";
import type { HttpBindings } from "@hono/node-server";
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { authenticate, checkPassword, domainId, projectsOf, TokenStore, userId } from "./auth.js";
import { type EmulatorConfig, faultSettingsSchema, resolveEmulatorConfig } from "./config.js";
import { INVALID_PARAMETER, JOB_NOT_FOUND, validationErrorCode } from "./errors.js";
import { type ListAnswer, listPhonesAnswer, listServersAnswer } from "./list-routes.js";
import { mountPhoneFileRoutes } from "./phone-file-routes.js";
import { randomId } from "./random.js";
import { mountS3Routes } from "./s3.js";
import { EmulatorState, type JobRecord } from "./state.js";

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

type EmulatorEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { requestId: string; errorCode: string | undefined; dropped: boolean };
};
type EmulatorContext = Context<EmulatorEnv>;

/** The hono app of the emulator, plus `close()` to stop its pending jobs and finish its writes. */
export type EmulatorApp = Hono<EmulatorEnv> & { close(): Promise<void> };

/** Marks an answer whose connection is cut instead (the `dropRate` fault). */
const DROP = Symbol("drop");
type Answer = Response | typeof DROP;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function cphTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function jobBody(job: JobRecord) {
  return {
    job_id: job.jobId,
    phone_id: job.phoneId,
    server_id: job.serverId,
    request_id: job.requestId,
    begin_time: cphTime(job.begin),
    end_time: job.end ? cphTime(job.end) : null,
    status: job.status,
    error_code: job.errorCode,
    error_msg: job.errorMsg,
    execute_msg: job.executeMsg,
  };
}

function errorBody(
  c: EmulatorContext,
  status: ContentfulStatusCode,
  errorCode: string,
  message: string,
  extra: object = {},
): Response {
  c.set("errorCode", errorCode);
  return c.json(
    { error_code: errorCode, error_msg: message, request_id: c.get("requestId"), ...extra },
    status,
  );
}

/** IAM answers in the Keystone shape (`{ error: { code, message, title } }`), not the gateway's. */
function iamError(c: EmulatorContext, status: 400 | 401 | 413, message: string): Response {
  const title = status === 401 ? "Unauthorized" : status === 413 ? "Request Entity Too Large" : "Bad Request";
  c.set("errorCode", String(status));
  return c.json({ error: { code: status, message, title } }, status);
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    if (incoming.readableEnded) {
      resolve(new Uint8Array());
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        // Stop here; the adapter drains (bounded) or closes the rest after the 413 is sent.
        cleanup();
        incoming.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the client closed the connection before the body ended"));
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}

/** The raw body, or undefined when it is over `limit` bytes (read no further than that). */
async function readBody(c: EmulatorContext, limit: number): Promise<Uint8Array | undefined> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) return undefined;
  const incoming = c.env?.incoming;
  if (incoming && "socket" in incoming) return readIncoming(incoming as IncomingMessage, limit);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Path and query exactly as received (what the client signed). */
function receivedUrl(c: EmulatorContext): string {
  const raw = c.env?.incoming?.url;
  if (raw) return raw;
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

function headerRecord(c: EmulatorContext): Record<string, string> {
  const out: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

function parseWholeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
}

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

  const tooLarge = (c: EmulatorContext) =>
    errorBody(
      c,
      413,
      "APIGW.0201",
      `Request entity too large: the body is over ${LIMITS.maxBodyBytes} bytes`,
    );

  app.post(
    "/v3/auth/tokens",
    api("iam-tokens", async (c) => {
      const bytes = await readBody(c, LIMITS.maxBodyBytes);
      if (!bytes) return iamError(c, 413, `the body is over ${LIMITS.maxBodyBytes} bytes`);
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(bytes));
      } catch {
        return iamError(c, 400, "The request body is not JSON.");
      }
      const parsed = iamTokenRequestSchema.safeParse(json);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        return iamError(
          c,
          400,
          `Invalid parameter ${first ? first.path.join(".") : "auth"}: ${first?.message ?? "bad request"}`,
        );
      }
      const { user: credentials } = parsed.data.auth.identity.password;
      const user = checkPassword(config, credentials.domain.name, credentials.name, credentials.password);
      if (!user) return iamError(c, 401, "The username or password is wrong.");
      const scope = parsed.data.auth.scope.project;
      const project = projectsOf(config, user.projects).find((candidate) =>
        "id" in scope ? candidate.id === scope.id : candidate.name === scope.name,
      );
      if (!project) {
        const wanted = "id" in scope ? `id ${scope.id}` : `name ${scope.name}`;
        return iamError(c, 401, `The project with ${wanted} does not exist or the user has no access to it.`);
      }
      const issuedAt = clock();
      const expiresAt = new Date(issuedAt.getTime() + config.tokenTtlSeconds * 1000);
      const token = tokens.issue({ project, user, issuedAt, expiresAt });
      const domain = { id: domainId(user.domain), name: user.domain };
      c.header("X-Subject-Token", token);
      return c.json(
        {
          token: {
            expires_at: expiresAt.toISOString(),
            issued_at: issuedAt.toISOString(),
            methods: ["password"],
            project: { id: project.id, name: project.name, domain },
            user: { id: userId(user), name: user.name, domain, password_expires_at: "" },
            roles: [],
            catalog: [],
          },
        },
        201,
      );
    }),
  );

  /** Authenticates a CPH call; undefined when it may go on, else the error answer. */
  const guard = async (c: EmulatorContext, body: Uint8Array): Promise<Response | undefined> => {
    const outcome = await authenticate({
      method: c.req.method,
      url: receivedUrl(c),
      headers: headerRecord(c),
      body,
      projectId: c.req.param("projectId") ?? "",
      config,
      tokens,
      now: clock(),
    });
    return outcome.ok ? undefined : errorBody(c, outcome.status, outcome.errorCode, outcome.message);
  };

  /**
   * batch-storage and batch-restore: the same auth, body limit, faults, validation answer and
   * response shape; only the validator and what accepting a phone does differ.
   */
  const batchRoute = <T>(
    name: string,
    validate: (json: unknown) => ValidationResult<T>,
    infosOf: (body: T) => readonly unknown[],
    accept: (projectId: string, requestId: string, body: T, dropped: boolean) => unknown[],
  ) =>
    api(name, async (c) => {
      const bytes = await readBody(c, LIMITS.maxBodyBytes);
      if (!bytes) return tooLarge(c);
      const denied = await guard(c, bytes);
      if (denied) return denied;
      if (state.chance(state.faults.errorRate)) {
        state.stats.errors++;
        return errorBody(
          c,
          503,
          "APIGW.0201",
          "Backend unavailable (an emulated fault); nothing was processed, retry later",
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(bytes));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return errorBody(c, 400, INVALID_PARAMETER, `the request body is not JSON: ${reason}`);
      }
      const result = validate(json);
      if (!result.ok) {
        const details = result.issues.map(({ code, path, message }) => ({ code, path, message }));
        const first = result.issues[0];
        const more =
          result.issues.length > 1 ? ` (and ${result.issues.length - 1} more issues in details)` : "";
        return errorBody(
          c,
          400,
          validationErrorCode(first?.code),
          `${first?.path || "body"}: ${first?.message ?? "invalid"}${more}`,
          {
            details,
          },
        );
      }
      const dropped = state.chance(state.faults.dropRate);
      const requestId = c.get("requestId");
      const jobs = accept(c.req.param("projectId") ?? "", requestId, result.value, dropped);
      if (dropped) {
        state.stats.drops++;
        state.stats.droppedPhones += infosOf(result.value).length;
        return DROP;
      }
      return c.json({ request_id: requestId, jobs }, 200);
    });

  // Strict phone ids: the emulator's documented choice (CPS.0004), where the client only warns.
  const strict = { maxPhonesPerRequest: config.maxPhonesPerRequest, phoneIdCharset: "error" } as const;
  app.post(
    "/v1/:projectId/cloud-phone/phones/batch-storage",
    batchRoute(
      "batch-storage",
      (json) => validateBatchExportRequest(json, strict),
      (body) => body.storage_infos,
      (projectId, requestId, body, dropped) =>
        state.acceptExport(projectId, requestId, body.storage_infos, dropped),
    ),
  );
  app.post(
    "/v1/:projectId/cloud-phone/phones/batch-restore",
    batchRoute(
      "batch-restore",
      (json) => validateBatchImportRequest(json, strict),
      (body) => body.restore_infos,
      (projectId, requestId, body, dropped) =>
        state.acceptRestore(projectId, requestId, body.restore_infos, dropped),
    ),
  );

  app.get(
    "/v1/:projectId/cloud-phone/jobs/:jobId",
    api("show-job", async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      const job = state.job(c.req.param("projectId") ?? "", c.req.param("jobId") ?? "");
      if (!job)
        return errorBody(c, 404, JOB_NOT_FOUND, `job ${c.req.param("jobId")} does not exist in this project`);
      return c.json(jobBody(job), 200);
    }),
  );

  app.get(
    "/v1/:projectId/cloud-phone/jobs",
    api("list-jobs", async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      const many = c.req.query("request_ids");
      const one = c.req.query("request_id");
      // request_ids wins when both are given, as documented.
      const requestIds = (many ?? one ?? "")
        .split(",")
        .map((id) => id.trim())
        .filter(Boolean);
      if (requestIds.length === 0) {
        return errorBody(
          c,
          400,
          INVALID_PARAMETER,
          "give request_id or request_ids (comma-separated, at most 20)",
        );
      }
      if (requestIds.length > LIMITS.listJobsMaxRequestIds) {
        return errorBody(
          c,
          400,
          INVALID_PARAMETER,
          `${requestIds.length} request ids; at most ${LIMITS.listJobsMaxRequestIds} are allowed`,
        );
      }
      const offset = parseWholeNumber(c.req.query("offset")) ?? 0;
      const limit = parseWholeNumber(c.req.query("limit")) ?? LIMITS.listJobsMaxLimit;
      if (!Number.isInteger(offset) || offset < 0) {
        return errorBody(c, 400, "CPS.0002", "offset must be a whole number of 0 or more");
      }
      if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit) {
        return errorBody(
          c,
          400,
          "CPS.0002",
          `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`,
        );
      }
      const jobs = state.jobsOfRequests(c.req.param("projectId") ?? "", requestIds);
      return c.json(
        {
          request_id: c.get("requestId"),
          count: jobs.length,
          jobs: jobs.slice(offset, offset + limit).map(jobBody),
        },
        200,
      );
    }),
  );

  /** A list route: auth, the `listErrorRate` fault, then the page (or the 400 of a bad query). */
  const listRoute = <T>(
    key: "phones" | "servers",
    answer: (query: (name: string) => string | undefined) => ListAnswer<T>,
  ) => {
    const handler = api(`list-${key}`, async (c) => {
      const denied = await guard(c, new Uint8Array());
      if (denied) return denied;
      if (state.chance(state.faults.listErrorRate)) {
        state.stats.errors++;
        return errorBody(c, 503, "APIGW.0201", "Backend unavailable (an emulated fault); retry later");
      }
      const result = answer((name) => c.req.query(name));
      if (!result.ok) return errorBody(c, 400, result.errorCode, result.message);
      return c.json({ request_id: c.get("requestId"), [key]: result.items }, 200);
    });
    // Every call counts, the throttled and refused ones too: what a client's paging costs.
    return (c: EmulatorContext) => {
      state.stats[key === "phones" ? "listPhones" : "listServers"]++;
      return handler(c);
    };
  };

  app.get(
    "/v1/:projectId/cloud-phone/phones",
    listRoute("phones", (query) => listPhonesAnswer(config.inventory, query)),
  );
  app.get(
    "/v1/:projectId/cloud-phone/servers",
    listRoute("servers", (query) => listServersAnswer(config.inventory, query)),
  );

  if (config.controlRoutes) {
    app.get("/__emulator/ledger", (c) => {
      const phoneId = c.req.query("phone_id");
      const requestId = c.req.query("request_id");
      const entries = state.ledger.filter(
        (entry) =>
          (phoneId === undefined || entry.phone_id === phoneId) &&
          (requestId === undefined || entry.request_id === requestId),
      );
      return c.json({ entries });
    });
    app.get("/__emulator/stats", (c) => c.json(state.stats));
    app.post("/__emulator/reset", (c) => {
      state.reset();
      return c.json({ reset: true });
    });
    app.get("/__emulator/faults", (c) => c.json({ faults: state.faults }));
    app.post("/__emulator/faults", async (c) => {
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(new Uint8Array(await c.req.arrayBuffer())));
      } catch {
        return errorBody(
          c,
          400,
          INVALID_PARAMETER,
          'the faults body is not JSON; send e.g. {"throttleRps": 5} or {}',
        );
      }
      const parsed = faultSettingsSchema.safeParse(json);
      if (!parsed.success) {
        const problems = parsed.error.issues.map(
          (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
        );
        return errorBody(c, 400, INVALID_PARAMETER, `invalid faults: ${problems.join("; ")}`);
      }
      state.setFaults(parsed.data);
      return c.json({ faults: state.faults });
    });
    mountPhoneFileRoutes(app, state);
  }

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
