import {
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  CphApiError,
  LIMITS,
  parseListCloudPhoneServersResponse,
  parseListCloudPhonesResponse,
} from "@cph-export/core";
import type { Hono } from "hono";
import { type Answer, JSON_HEADERS, traced, upstreamErrorAnswer } from "./answers.js";
import { GatewayError } from "./errors.js";
import {
  listPhonesWithin,
  listServersWithin,
  type PhonesQuery,
  parseListPhonesQuery,
  parseListServersQuery,
  phonesOutsideError,
  ServerPhoneIndex,
  type ServersQuery,
  serversInScope,
} from "./fleet.js";
import type { Exchange, GatewayEnv } from "./exchange.js";
import type { BatchEntry, BatchOperation, CallerPolicy } from "./policy.js";
import { EMPTY, ROUTES, type RouteKit } from "./route-kit.js";

/** Refuses (403 CPHGW.4035) a batch naming phones off the servers of a confined caller. */
export type ServerCheck = (
  x: Exchange,
  policy: CallerPolicy,
  storageInfos: readonly BatchEntry[],
  batch: { field: string; operation: BatchOperation },
) => Promise<void>;

/**
 * ListCloudPhones and ListCloudPhoneServers: forwarded for a caller that sees the whole project,
 * put together from its servers' own listings for a caller confined to servers. Returns the check
 * the batch routes make of such a caller's phones.
 */
export function mountFleetRoutes(app: Hono<GatewayEnv>, kit: RouteKit): ServerCheck {
  const { config, upstream, policies, admit, send, forward, withDeadline } = kit;
  const phoneIndex = new ServerPhoneIndex({ ttlMs: config.policyCacheMs, now: kit.now });

  /** One ListCloudPhones page upstream, under the deadline, read with core's tolerant schema. */
  async function fetchPhones(x: Exchange, query: PhonesQuery) {
    const request = buildListCloudPhonesRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...query,
    });
    const answer = await withDeadline(x, "list_phones", (signal) =>
      upstream.send(request, { signal, headers: traced(x.requestId) }),
    );
    return parseListCloudPhonesResponse(answer).phones ?? [];
  }

  async function fetchServer(x: Exchange, serverId: string, query: ServersQuery) {
    const request = buildListCloudPhoneServersRequest({
      endpoint: upstream.endpoint,
      projectId: upstream.projectId,
      ...(query.serverName === undefined ? {} : { serverName: query.serverName }),
      serverId,
    });
    const answer = await withDeadline(x, "list_servers", (signal) =>
      upstream.send(request, { signal, headers: traced(x.requestId) }),
    );
    return parseListCloudPhoneServersResponse(answer).servers ?? [];
  }

  /** Every phone id on one server, for the export check of a caller confined to servers. */
  async function serverPhoneIds(x: Exchange, serverId: string): Promise<string[]> {
    const ids: string[] = [];
    const limit = LIMITS.listJobsMaxLimit;
    for (let offset = 0; ; offset += limit) {
      const page = await fetchPhones(x, { serverId, offset, limit });
      for (const phone of page) if (phone.phone_id) ids.push(phone.phone_id);
      if (page.length < limit) return ids;
    }
  }

  /** A listing the gateway put together from several upstream calls, as CPH would answer it. */
  async function assembled(x: Exchange, list: () => Promise<Record<string, unknown>>): Promise<Answer> {
    try {
      const body = { request_id: x.requestId, ...(await list()) };
      return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(body), storable: true };
    } catch (error) {
      return upstreamErrorAnswer(error, x.requestId);
    }
  }

  /** Refuses (403 CPHGW.4035) an export naming phones off the servers of a confined caller. */
  const checkServers: ServerCheck = async function checkServers(
    x: Exchange,
    policy: CallerPolicy,
    storageInfos: readonly BatchEntry[],
    batch: { field: string; operation: BatchOperation },
  ) {
    const servers = policy.servers;
    if (servers === undefined) return;
    let outside: number[];
    try {
      outside = await phoneIndex.outside(
        servers,
        storageInfos.map((info) => info.phone_id),
        (serverId) => serverPhoneIds(x, serverId),
      );
    } catch (error) {
      if (error instanceof CphApiError) throw error;
      throw new GatewayError(
        "CPHGW.5024",
        "the phones of the caller's servers could not be listed to check the request; nothing was sent, a retry is safe",
      );
    }
    if (outside.length > 0) {
      throw phonesOutsideError(
        policy.caller.name,
        servers,
        storageInfos,
        outside,
        batch.field,
        batch.operation,
      );
    }
  };

  app.get("/v1/:project_id/cloud-phone/phones", async (c) => {
    const x = c.var.exchange;
    x.route = ROUTES.listPhones;
    const caller = await admit(x, EMPTY, c.req.param("project_id"));
    const query = parseListPhonesQuery(c.req.query());
    const servers = (policies.get(caller.name) as CallerPolicy).servers;
    if (servers === undefined) {
      const request = buildListCloudPhonesRequest({
        endpoint: upstream.endpoint,
        projectId: upstream.projectId,
        ...query,
      });
      return send(x, await forward(x, "list_phones", request));
    }
    const scope = serversInScope(servers, query.serverId);
    return send(
      x,
      await assembled(x, async () => ({
        phones: await listPhonesWithin(scope, query, (page) => fetchPhones(x, page)),
      })),
    );
  });

  app.get("/v1/:project_id/cloud-phone/servers", async (c) => {
    const x = c.var.exchange;
    x.route = ROUTES.listServers;
    const caller = await admit(x, EMPTY, c.req.param("project_id"));
    const query = parseListServersQuery(c.req.query());
    const servers = (policies.get(caller.name) as CallerPolicy).servers;
    if (servers === undefined) {
      const request = buildListCloudPhoneServersRequest({
        endpoint: upstream.endpoint,
        projectId: upstream.projectId,
        ...query,
      });
      return send(x, await forward(x, "list_servers", request));
    }
    const scope = serversInScope(servers, query.serverId);
    return send(
      x,
      await assembled(x, async () => ({
        servers: await listServersWithin(scope, query, (serverId, page) => fetchServer(x, serverId, page)),
      })),
    );
  });

  return checkServers;
}
