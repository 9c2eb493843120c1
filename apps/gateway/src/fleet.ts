// The fleet as a caller may see it: the ListCloudPhones / ListCloudPhoneServers queries, listings
// confined to the servers of a caller's policy, and which phones of an export lie outside them.
import {
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  type CloudPhoneServer,
  CphValidationError,
  type ListCloudPhoneServersQuery,
  type ListCloudPhonesQuery,
  LIMITS,
  type Phone,
  parsePhoneStatus,
} from "@cph-export/core";
import { type ErrorDetail, GatewayError } from "./errors.js";

/** A list query with offset and limit filled in (CPH's defaults: 0 and 100). */
export type PhonesQuery = ListCloudPhonesQuery & { offset: number; limit: number };
export type ServersQuery = ListCloudPhoneServersQuery & { offset: number; limit: number };

/** Core's camelCase issue paths back to the query parameters the caller wrote. */
const QUERY_NAMES: Record<string, string> = {
  offset: "offset",
  limit: "limit",
  phoneName: "phone_name",
  serverId: "server_id",
  serverName: "server_name",
  status: "status",
  type: "type",
};

function integer(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^\s*-?\d{1,15}\s*$/.test(value) ? Number(value) : Number.NaN;
}

/**
 * Checks a query with core's request builder (the one rule for offset, limit and filters) and
 * throws 400 `CPHGW.4006` naming every bad parameter; nothing is sent upstream then.
 */
function checked<T extends { offset?: number | undefined; limit?: number | undefined }>(
  what: string,
  query: T,
  extra: ErrorDetail[],
  build: (query: T) => unknown,
): T & { offset: number; limit: number } {
  const details = [...extra];
  try {
    build(query);
  } catch (error) {
    if (!(error instanceof CphValidationError)) throw error;
    for (const issue of error.issues) {
      details.push({
        code: issue.code,
        path: QUERY_NAMES[issue.path] ?? issue.path,
        message: issue.message.replace(issue.path, QUERY_NAMES[issue.path] ?? issue.path),
      });
    }
  }
  if (details.length > 0) {
    const first = details[0] as ErrorDetail;
    throw new GatewayError(
      "CPHGW.4006",
      `the ${what} query has ${details.length === 1 ? "an issue" : `${details.length} issues`}: ${first.path}: ${first.message}`,
      { details },
    );
  }
  return { ...query, offset: query.offset ?? 0, limit: query.limit ?? LIMITS.listJobsMaxLimit };
}

const TARGET = { endpoint: "http://validate.invalid", projectId: "validate" };

/** The ListCloudPhones query: `status` as CPH's number or one of core's status words. */
export function parseListPhonesQuery(query: Record<string, string>): PhonesQuery {
  const extra: ErrorDetail[] = [];
  let status: number | undefined;
  const rawStatus = query["status"];
  if (rawStatus !== undefined) {
    const parsed = parsePhoneStatus(rawStatus);
    if (!parsed.ok) extra.push({ code: "filter_invalid", path: "status", message: parsed.message });
    else if (parsed.value.length !== 1) {
      extra.push({
        code: "filter_invalid",
        path: "status",
        message: `${rawStatus} stands for the statuses ${parsed.value.join(" and ")}; give one number`,
      });
    } else status = parsed.value[0];
  }
  const parsed: ListCloudPhonesQuery = {
    offset: integer(query["offset"]),
    limit: integer(query["limit"]),
    phoneName: query["phone_name"],
    serverId: query["server_id"],
    status,
    type: integer(query["type"]),
  };
  return checked("ListCloudPhones", parsed, extra, (value) =>
    buildListCloudPhonesRequest({ ...TARGET, ...value }),
  );
}

export function parseListServersQuery(query: Record<string, string>): ServersQuery {
  const parsed: ListCloudPhoneServersQuery = {
    offset: integer(query["offset"]),
    limit: integer(query["limit"]),
    serverName: query["server_name"],
    serverId: query["server_id"],
  };
  return checked("ListCloudPhoneServers", parsed, [], (value) =>
    buildListCloudPhoneServersRequest({ ...TARGET, ...value }),
  );
}

/** The allowed servers a query may reach: all of them, the one it names, or none. */
export function serversInScope(allowed: readonly string[], serverId: string | undefined): readonly string[] {
  if (serverId === undefined) return allowed;
  return allowed.includes(serverId) ? [serverId] : [];
}

/** One page of ListCloudPhones upstream. */
export type FetchPhones = (query: PhonesQuery) => Promise<Phone[]>;

/** How many phones of one server match the query's filters: paged until a short page. */
async function countPhones(fetch: FetchPhones, query: PhonesQuery, serverId: string): Promise<number> {
  const limit = LIMITS.listJobsMaxLimit;
  let count = 0;
  for (let offset = 0; ; offset += limit) {
    const page = await fetch({ ...query, serverId, offset, limit });
    count += page.length;
    if (page.length < limit) return count;
  }
}

/**
 * One page of the phones of `servers` (in that order) as if they were one listing: `offset` and
 * `limit` count over the concatenation of each server's own listing with the query's filters. A
 * server wholly before the offset is counted once (paged); otherwise one upstream call per server
 * the page touches.
 */
export async function listPhonesWithin(
  servers: readonly string[],
  query: PhonesQuery,
  fetch: FetchPhones,
): Promise<Phone[]> {
  const phones: Phone[] = [];
  let skip = query.offset;
  for (const serverId of servers) {
    const need = query.limit - phones.length;
    if (need <= 0) break;
    const page = await fetch({ ...query, serverId, offset: skip, limit: need });
    if (page.length > 0) {
      phones.push(...page.slice(0, need));
      skip = 0;
    } else if (skip > 0) {
      skip -= Math.min(skip, await countPhones(fetch, query, serverId));
    }
  }
  return phones;
}

/** One server as ListCloudPhoneServers answers it for `server_id` (and the name filter). */
export type FetchServer = (serverId: string, query: ServersQuery) => Promise<CloudPhoneServer[]>;

/** One page of the servers among `servers` that match the query, in the policy's order. */
export async function listServersWithin(
  servers: readonly string[],
  query: ServersQuery,
  fetch: FetchServer,
): Promise<CloudPhoneServer[]> {
  const found: CloudPhoneServer[] = [];
  for (const serverId of servers) {
    for (const server of await fetch(serverId, query)) {
      if (server.server_id === serverId) found.push(server);
    }
  }
  return found.slice(query.offset, query.offset + query.limit);
}

/** Every phone id of one server, read with ListCloudPhones (paged). */
export type FetchServerPhones = (serverId: string) => Promise<string[]>;

interface CachedServer {
  phones: ReadonlySet<string>;
  fetchedAt: number;
}

/**
 * Which server each phone is on, for the servers of callers' policies: each server's phone ids are
 * listed upstream once and kept for `ttlMs`. A phone not found is looked for again in servers read
 * more than `refreshAfterMs` ago (a phone created since), so a new phone is not refused for long.
 */
export class ServerPhoneIndex {
  readonly #cache = new Map<string, CachedServer>();
  readonly #ttlMs: number;
  readonly #refreshAfterMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; refreshAfterMs?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#refreshAfterMs = Math.min(options.refreshAfterMs ?? 2000, options.ttlMs);
    this.#now = options.now ?? Date.now;
  }

  /** The indexes of the phones that are on none of `servers`. */
  async outside(
    servers: readonly string[],
    phoneIds: readonly string[],
    fetch: FetchServerPhones,
  ): Promise<number[]> {
    await this.#load(servers, fetch, (entry) => this.#now() - entry.fetchedAt >= this.#ttlMs);
    let missing = this.#missing(servers, phoneIds);
    if (missing.length > 0) {
      await this.#load(servers, fetch, (entry) => this.#now() - entry.fetchedAt >= this.#refreshAfterMs);
      missing = this.#missing(servers, phoneIds);
    }
    return missing;
  }

  #missing(servers: readonly string[], phoneIds: readonly string[]): number[] {
    const sets = servers.map((server) => this.#cache.get(server)?.phones ?? new Set<string>());
    const out: number[] = [];
    phoneIds.forEach((phoneId, index) => {
      if (!sets.some((set) => set.has(phoneId))) out.push(index);
    });
    return out;
  }

  async #load(
    servers: readonly string[],
    fetch: FetchServerPhones,
    stale: (entry: CachedServer) => boolean,
  ): Promise<void> {
    for (const server of servers) {
      const entry = this.#cache.get(server);
      if (entry !== undefined && !stale(entry)) continue;
      const phones = new Set(await fetch(server));
      this.#cache.set(server, { phones, fetchedAt: this.#now() });
    }
  }
}

/** 403 `CPHGW.4035` naming each phone of a batch body (`field`) that is outside the caller's servers. */
export function phonesOutsideError(
  caller: string,
  servers: readonly string[],
  infos: readonly { phone_id: string }[],
  indexes: readonly number[],
  field = "storage_infos",
  verb = "export",
): GatewayError {
  const details = indexes.map((index) => ({
    code: "phone_not_allowed",
    path: `${field}[${index}].phone_id`,
    message: `phone ${infos[index]?.phone_id} is not on one of the caller's servers (${servers.join(", ")})`,
  }));
  const count = indexes.length;
  return new GatewayError(
    "CPHGW.4035",
    `caller ${caller} may not ${verb} ${count === 1 ? "one phone" : `${count} phones`} of the request: not on its servers`,
    { details },
  );
}
