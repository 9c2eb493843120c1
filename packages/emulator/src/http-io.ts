import type { IncomingMessage } from "node:http";
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

// What every route of the emulator shares: its context, the error bodies of CPH and IAM, reading a
// raw body within a limit, and the request as received (what the client signed).

export type EmulatorEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { requestId: string; errorCode: string | undefined; dropped: boolean };
};
export type EmulatorContext = Context<EmulatorEnv>;

/** Marks an answer whose connection is cut instead (the `dropRate` fault). */
export const DROP = Symbol("drop");
export type Answer = Response | typeof DROP;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function cphTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function errorBody(
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
export function iamError(c: EmulatorContext, status: 400 | 401 | 413, message: string): Response {
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
export async function readBody(c: EmulatorContext, limit: number): Promise<Uint8Array | undefined> {
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
export function receivedUrl(c: EmulatorContext): string {
  const raw = c.env?.incoming?.url;
  if (raw) return raw;
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

export function headerRecord(c: EmulatorContext): Record<string, string> {
  const out: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

export function parseWholeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
}
