import type { IncomingMessage } from "node:http";
import { GatewayError } from "./errors.js";

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    "CPHGW.4131",
    `the request body is over ${limit} bytes; send fewer phones per request`,
  );
}

function fromNodeStream(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: unknown) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", done);
      if (error === undefined)
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      // The rest is left unread: @hono/node-server drains it once the 413 is sent.
      if (size > limit) done(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", done);
  });
}

async function fromWebStream(request: Request, limit: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The raw request body, at most `limit` bytes (else `CPHGW.4131`, 413): refused up front by its
 * Content-Length, or as soon as more arrives. Under @hono/node-server it reads the Node stream
 * itself: building a web `Request` and `ReadableStream` per request (what `hono/body-limit` and
 * `arrayBuffer()` do there) took about a tenth of the gateway's CPU time in a profile of the
 * benchmark load.
 */
export function readBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number,
): Promise<Uint8Array> {
  if (incoming !== undefined && typeof incoming.on === "function" && !incoming.readableEnded) {
    return readIncomingBody(incoming, limit);
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit)
    return Promise.reject(tooLarge(limit));
  return fromWebStream(request, limit);
}

/** `readBody` of a request node:http parsed (the node:http lane, and hono's under @hono/node-server). */
export function readIncomingBody(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = incoming.headers["content-length"];
  if (typeof declared === "string" && /^\d+$/.test(declared) && Number(declared) > limit)
    return Promise.reject(tooLarge(limit));
  return fromNodeStream(incoming, limit);
}
