// The gateway's node:http entry. The routes of a bulk export's every request (batch-storage,
// batch-restore, ShowJob) are served here straight from node:http, by the same handlers and the
// same pipeline hono runs them with; every other request goes to the hono app. Going through hono
// and @hono/node-server (a web Request, the router, the middleware chain, a web Response) cost
// about a third of the gateway's CPU per batch request in a profile of the benchmark load.
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { Exchange, GatewayEnv } from "./exchange.js";
import { readIncomingBody } from "./read-body.js";
import { type DirectRoute, EMPTY, type Pipeline, type Reply } from "./route-kit.js";

export type NodeLane = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** A direct route with the pattern of its exact path and the names of its parameters. */
export interface CompiledRoute {
  route: DirectRoute;
  pattern: RegExp;
  names: string[];
}

/**
 * A parameter is one path segment without `%`: a percent-encoded one, a trailing slash or any
 * other spelling hono would also accept goes to hono, which decodes it as it always has.
 */
export function compileDirectRoute(route: DirectRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.route
    .split(/(\{\w+\})/)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return "([^/?#%]+)";
    })
    .join("");
  return { route, pattern: new RegExp(`^${source}(?:\\?|$)`), names };
}

/** The direct route of a request and its parameters, or undefined when hono should serve it. */
export function matchDirectRoute(
  routes: readonly CompiledRoute[],
  method: string | undefined,
  url: string | undefined,
): { route: DirectRoute; params: Record<string, string> } | undefined {
  if ((method !== "POST" && method !== "GET") || url === undefined) return undefined;
  for (const compiled of routes) {
    if (compiled.route.method !== method) continue;
    const match = compiled.pattern.exec(url);
    if (match === null) continue;
    const params: Record<string, string> = {};
    compiled.names.forEach((name, index) => {
      params[name] = match[index + 1] as string;
    });
    return { route: compiled.route, params };
  }
  return undefined;
}

/** The node:http listener: the direct routes here, the rest through `app` (as @hono/node-server serves it). */
export function createNodeLane(
  pipeline: Pipeline,
  routes: readonly DirectRoute[],
  app: Hono<GatewayEnv>,
): NodeLane {
  const compiled = routes.map(compileDirectRoute);
  const viaHono = getRequestListener(app.fetch);
  const lane = (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const direct = matchDirectRoute(compiled, incoming.method, incoming.url);
    if (direct === undefined) {
      void viaHono(incoming, outgoing);
      return;
    }
    void serve(pipeline, direct.route, direct.params, incoming, outgoing);
  };
  return lane;
}

async function serve(
  pipeline: Pipeline,
  route: DirectRoute,
  params: Record<string, string>,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const x: Exchange = pipeline.begin(route.method, incoming.url as string, incoming.rawHeaders);
  x.route = route.route;
  let reply: Reply;
  try {
    const body = route.method === "POST" ? await readIncomingBody(incoming, pipeline.bodyLimitBytes) : EMPTY;
    reply = await route.handle(x, params, body);
  } catch (error) {
    reply = pipeline.errorReply(x, error);
  }
  if (reply.errorCode !== undefined) x.errorCode = reply.errorCode;
  try {
    const headers = pipeline.replyHeaders(x, reply.headers);
    // Given, as @hono/node-server gives it: writeHead fixes the head before `end` sees the body.
    headers["Content-Length"] = String(Buffer.byteLength(reply.body));
    outgoing.writeHead(reply.status, headers);
    outgoing.end(reply.body);
  } catch (error) {
    // Only a header the gateway itself wrote badly gets here; the caller must not wait for it.
    pipeline.errorReply(x, error);
    outgoing.destroy();
  } finally {
    pipeline.finish(x, reply.status);
  }
}
