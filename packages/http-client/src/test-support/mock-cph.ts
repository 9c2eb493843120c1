// A scripted CPH + IAM on undici's MockAgent, passed to the client as its dispatcher (never global).
import { MockAgent } from "undici";
import { createCphClient } from "../client.js";
import type { CphClient, CphClientOptions, Credentials } from "../types.js";

export const CPH_ORIGIN = "https://cph.test";
export const IAM_ORIGIN = "https://iam.test";
export const PROJECT_ID = "0123456789abcdef0123456789abcdef";

export interface SeenRequest {
  method: string;
  origin: string;
  path: string;
  query: URLSearchParams;
  /** Lowercase names. */
  headers: Record<string, string>;
  body: Uint8Array;
  text: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The answer is held until this settles (the request stays in flight). */
  gate?: Promise<unknown>;
}

/** Returns the answer, or throws an error to make the transport fail with it. */
export type Handler = (request: SeenRequest) => Reply;

function lowerCase(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>))
      out[name.toLowerCase()] = String(value);
  }
  return out;
}

function bytesOf(body: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return new Uint8Array(body);
  throw new Error(`unexpected request body type ${typeof body}`);
}

/** A MockAgent answering every request on the CPH and IAM origins with `handler`. */
export function mockCph(handler: Handler): { agent: MockAgent; requests: SeenRequest[] } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const requests: SeenRequest[] = [];
  for (const origin of [CPH_ORIGIN, IAM_ORIGIN]) {
    agent
      .get(origin)
      .intercept({ path: () => true, method: () => true })
      .reply((options) => {
        const url = new URL(options.path, origin);
        const body = bytesOf(options.body);
        const seen: SeenRequest = {
          method: options.method,
          origin,
          path: url.pathname,
          query: url.searchParams,
          headers: lowerCase(options.headers),
          body,
          text: new TextDecoder().decode(body),
        };
        requests.push(seen);
        const reply = handler(seen);
        const data =
          reply.body === undefined
            ? ""
            : typeof reply.body === "string"
              ? reply.body
              : JSON.stringify(reply.body);
        const gate = reply.gate;
        // undici's mock awaits a data function that returns a promise: the answer is held meanwhile.
        const held = gate ? () => gate.then(() => data) : data;
        return {
          statusCode: reply.status,
          data: held as string,
          responseOptions: { headers: reply.headers ?? {} },
        };
      })
      .persist();
  }
  return { agent, requests };
}

export const TOKEN_CREDENTIALS: Credentials = { type: "token", token: "tok-secret-value-123456" };
export const AKSK_CREDENTIALS: Credentials = {
  type: "aksk",
  accessKey: "AKTESTEXAMPLE000001",
  secretKey: "sk-very-secret-000001",
};
export const PASSWORD_CREDENTIALS: Credentials = {
  type: "password",
  domainName: "demo-account",
  userName: "demo-user",
  password: "pw-very-secret-0001",
  iamEndpoint: IAM_ORIGIN,
};

/** A client on the mock with fast, deterministic retries (random 0 unless given). */
export function mockClient(agent: MockAgent, options: Partial<CphClientOptions> = {}): CphClient {
  return createCphClient({
    endpoint: CPH_ORIGIN,
    projectId: PROJECT_ID,
    credentials: TOKEN_CREDENTIALS,
    dispatcher: agent,
    ...options,
    retry: { baseDelayMs: 10, maxDelayMs: 100, random: () => 0, ...options.retry },
  });
}

export function phone(index: number): string {
  return `phone${String(index).padStart(6, "0")}`;
}

export function storageInfo(phoneId: string) {
  return {
    phone_id: phoneId,
    include_files: ["/data/misc"],
    bucket_name: "backup-bucket",
    object_path: `exports/${phoneId}.tar`,
  };
}

/** The batch-storage path of the mock project. */
export const BATCH_PATH = `/v1/${PROJECT_ID}/cloud-phone/phones/batch-storage`;
export const JOBS_PATH = `/v1/${PROJECT_ID}/cloud-phone/jobs`;

/** A 200 answer accepting every phone of a batch-storage body, with job ids `job-<phone>`. */
export function acceptAll(
  request: SeenRequest,
  requestId = `req-${Math.random().toString(16).slice(2)}`,
): Reply {
  const body = JSON.parse(request.text) as { storage_infos: Array<{ phone_id: string }> };
  return {
    status: 200,
    headers: { "x-request-id": requestId },
    body: {
      request_id: requestId,
      jobs: body.storage_infos.map((info) => ({ phone_id: info.phone_id, job_id: `job-${info.phone_id}` })),
    },
  };
}

export function iamToken(token: string, expiresAt: Date): Reply {
  return {
    status: 201,
    headers: { "x-subject-token": token, "content-type": "application/json" },
    body: { token: { expires_at: expiresAt.toISOString(), issued_at: new Date().toISOString() } },
  };
}

export function cphError(
  status: number,
  errorCode: string,
  errorMessage: string,
  headers: Record<string, string> = {},
): Reply {
  return {
    status,
    headers: { "x-request-id": `err-${errorCode}`, ...headers },
    body: { error_code: errorCode, error_msg: errorMessage, request_id: `err-${errorCode}` },
  };
}

/** Drains an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
