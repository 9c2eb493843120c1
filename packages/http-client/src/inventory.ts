import {
  buildListCloudPhoneServersRequest,
  buildListCloudPhonesRequest,
  type CloudPhoneServer,
  CphError,
  CphValidationError,
  type HttpRequest,
  type HttpResponseData,
  LIMITS,
  type Phone,
  parseListCloudPhoneServersResponse,
  parseListCloudPhonesResponse,
} from "@cph-export/core";

/** Which phones `listPhones` walks; every field narrows (AND), as CPH applies them. */
export interface PhoneFilter {
  /** Fuzzy (substring) match on the phone name, done by CPH. */
  phoneName?: string | undefined;
  serverId?: string | undefined;
  /** One CPH status code (core's `parsePhoneStatus` turns `running`, `off`... into codes). */
  status?: number | undefined;
  /** 0 ordinary, 1 trial. */
  type?: number | undefined;
  /** Phones per ListCloudPhones call, 1-100; default 100 (the most CPH gives). */
  pageSize?: number | undefined;
}

/** Which servers `listServers` walks. */
export interface ServerFilter {
  /** Fuzzy match on the server name, done by CPH. */
  serverName?: string | undefined;
  serverId?: string | undefined;
  /** Servers per ListCloudPhoneServers call, 1-100; default 100. */
  pageSize?: number | undefined;
}

/** Sends one GET built by core; the client's own `#send`, with credentials and safe retries. */
export type SendGet = (request: HttpRequest, signal: AbortSignal | undefined) => Promise<HttpResponseData>;

/**
 * The most pages one walk reads: 10 million items at the largest page, far beyond any fleet. A
 * service that ignores `offset` and keeps answering full pages is caught much sooner (below); this
 * only bounds a walk that would otherwise never end.
 */
const MAX_PAGES = 100_000;

interface Walk<Item> {
  build(offset: number, limit: number): HttpRequest;
  parse(answer: HttpResponseData): Item[];
  /** The item's id, for the de-duplication; an item without one is passed on as it came. */
  id(item: Item): string | null | undefined;
  what: string;
}

/**
 * Pages through a CPH list by `offset`, `limit` at a time, until a page is shorter than `limit`
 * (the official models have no total). An item seen on an earlier page is not yielded again: a
 * phone created or deleted while the walk runs shifts the pages under it, which can show one
 * twice; a shift the other way can hide one, which nothing but a second walk can notice. A full
 * page with nothing new means the service is not moving through the list: that is an error, not
 * an endless walk.
 */
async function* walk<Item>(
  send: SendGet,
  spec: Walk<Item>,
  pageSize: number | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<Item, void, undefined> {
  const limit = pageSize ?? LIMITS.listJobsMaxLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit) {
    throw new CphValidationError([
      {
        code: "limit_invalid",
        path: "pageSize",
        message: `pageSize must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}, not ${String(pageSize)}`,
        severity: "error",
      },
    ]);
  }
  // Built (and so validated) before the first request: a bad filter throws without sending.
  spec.build(0, limit);
  const seen = new Set<string>();
  for (let page = 0, offset = 0; page < MAX_PAGES; page++) {
    signal?.throwIfAborted();
    const items = spec.parse(await send(spec.build(offset, limit), signal));
    let fresh = 0;
    for (const item of items) {
      const id = spec.id(item);
      if (id) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      fresh++;
      yield item;
    }
    if (items.length < limit) return;
    if (fresh === 0) {
      throw new CphError(
        "ERR_CPH_API",
        `listing ${spec.what}: the page at offset ${offset} holds only ${spec.what} already listed; the service does not page by offset, stopped after ${seen.size}`,
      );
    }
    offset += items.length;
  }
  throw new CphError(
    "ERR_CPH_API",
    `listing ${spec.what}: still full pages after ${MAX_PAGES} requests (${seen.size} ${spec.what}); stopped`,
  );
}

interface Target {
  endpoint: string;
  projectId: string;
}

export function listPhones(
  target: Target,
  send: SendGet,
  filter: PhoneFilter = {},
  signal?: AbortSignal,
): AsyncGenerator<Phone, void, undefined> {
  const { pageSize, ...query } = filter;
  return walk(
    send,
    {
      build: (offset, limit) => buildListCloudPhonesRequest({ ...target, ...query, offset, limit }),
      parse: (answer) => parseListCloudPhonesResponse(answer).phones ?? [],
      id: (phone) => phone.phone_id,
      what: "phones",
    },
    pageSize,
    signal,
  );
}

export function listServers(
  target: Target,
  send: SendGet,
  filter: ServerFilter = {},
  signal?: AbortSignal,
): AsyncGenerator<CloudPhoneServer, void, undefined> {
  const { pageSize, ...query } = filter;
  return walk(
    send,
    {
      build: (offset, limit) => buildListCloudPhoneServersRequest({ ...target, ...query, offset, limit }),
      parse: (answer) => parseListCloudPhoneServersResponse(answer).servers ?? [],
      id: (server) => server.server_id,
      what: "servers",
    },
    pageSize,
    signal,
  );
}
