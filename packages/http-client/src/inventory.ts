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
 *
 * An iterator written out rather than an async generator: a generator's `yield` costs several
 * promise turns per item, which for 10,000 phones was a fifth of the time of the GETs themselves.
 * Nothing is sent before the first `next()`; a bad filter rejects that first `next()`.
 */
function walk<Item>(
  send: SendGet,
  spec: Walk<Item>,
  pageSize: number | undefined,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<Item> {
  const limit = pageSize ?? LIMITS.listJobsMaxLimit;
  const seen = new Set<string>();
  let items: Item[] = [];
  let position = 0;
  let offset = 0;
  let pages = 0;
  /** New items of the page being handed out; a full page with none is the service not paging. */
  let fresh = 0;
  let lastPage = false;
  let finished = false;
  let started = false;

  const done = (): IteratorResult<Item> => ({ value: undefined, done: true });

  const fetchPage = async (): Promise<void> => {
    if (!started) {
      started = true;
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
    } else if (fresh === 0) {
      throw new CphError(
        "ERR_CPH_API",
        `listing ${spec.what}: the page at offset ${offset - items.length} holds only ${spec.what} already listed; the service does not page by offset, stopped after ${seen.size}`,
      );
    }
    if (pages >= MAX_PAGES) {
      throw new CphError(
        "ERR_CPH_API",
        `listing ${spec.what}: still full pages after ${MAX_PAGES} requests (${seen.size} ${spec.what}); stopped`,
      );
    }
    signal?.throwIfAborted();
    const request = spec.build(offset, limit);
    const page = spec.parse(await send(request, signal));
    pages++;
    items = page;
    position = 0;
    fresh = 0;
    offset += page.length;
    lastPage = page.length < limit;
  };

  const next = (): Promise<IteratorResult<Item>> => {
    while (!finished && position < items.length) {
      const item = items[position++]!;
      const id = spec.id(item);
      if (id) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      fresh++;
      return Promise.resolve({ value: item, done: false });
    }
    if (finished || (started && lastPage)) {
      finished = true;
      return Promise.resolve(done());
    }
    return fetchPage().then(next, (error: unknown) => {
      finished = true;
      throw error;
    });
  };

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next,
    return(): Promise<IteratorResult<Item>> {
      finished = true;
      items = [];
      return Promise.resolve(done());
    },
  };
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
): AsyncIterableIterator<Phone> {
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
): AsyncIterableIterator<CloudPhoneServer> {
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
