// Campaigns in Redis. Every change of a phone's state is one Lua script, atomic across every
// gateway replica sharing the Redis: a phone is claimed (pending -> sent) only while its campaign
// runs, so a cancel or a max-errors stop and a send can never both take it.
//
// Keys (under the gateway's key prefix), for campaign {id}:
//   camp:{id}          hash: status, counters (c:<state>), errors, settings, spec (JSON)
//   camp:{id}:ph       hash: phone id -> its record (JSON)
//   camp:{id}:order    list: the phone ids in campaign order (batch n = items n*size .. n*size+size-1)
//   camp:{id}:st:<s>   sorted set: the phones in state s, scored by index (paging by state)
//   camps              sorted set: campaign ids by creation time
// A finished campaign's keys expire after the store's retention; a resume keeps them again.
import type { Redis } from "ioredis";
import {
  CAMPAIGN_PHONE_STATES,
  type CampaignPhoneState,
  type CampaignPhoneView,
  type CampaignSpec,
  type CampaignStatus,
  type CampaignView,
} from "./campaign-model.js";
import { formatMaxErrors, formatRate } from "@cph-export/core";

/** A phone's record in Redis (short keys: thousands of them per campaign). */
export interface PhoneRecord {
  /** Index in the campaign. */
  i: number;
  s: CampaignPhoneState;
  /** Object path (the bucket is the campaign's). */
  o: string;
  j?: string;
  r?: string;
  c?: string;
  m?: string;
  /** The attempt (a worker's run of a batch) that claimed it. */
  a?: string;
  /** Sent at, updated at (ms since the epoch). */
  t?: number;
  u?: number;
}

/** A change a worker makes to one phone, applied only from the states in `from` (and its attempt). */
export interface PhoneUpdate {
  id: string;
  from: CampaignPhoneState[];
  to: CampaignPhoneState;
  j?: string | undefined;
  r?: string | undefined;
  c?: string | undefined;
  m?: string | undefined;
  /** When set, the phone must have been claimed by this attempt. */
  a?: string | undefined;
  /** Counts the phone as answered by CPH (the denominator of a max_errors percentage). */
  answered?: boolean;
  /** Counts the phone as an error against max_errors. */
  error?: boolean;
}

export interface Claim {
  stopped: boolean;
  /** Phones this attempt now owns in `sent`: to POST. */
  claimed: Array<{ id: string; record: PhoneRecord }>;
  /** Phones already accepted (an earlier attempt was interrupted while following their jobs). */
  accepted: Array<{ id: string; record: PhoneRecord }>;
  /** Phones an interrupted attempt had sent without a recorded answer: now unknown, never resent. */
  interrupted: string[];
}

const STOP_PENDING = `
local STATES = {'pending', 'sent', 'accepted', 'succeeded', 'failed', 'rejected', 'unknown'}
local function campaignKeys(meta)
  local keys = {meta, meta .. ':ph', meta .. ':order'}
  for _, s in ipairs(STATES) do table.insert(keys, meta .. ':st:' .. s) end
  return keys
end
local function finishIfDone(meta, now)
  local active = 0
  for _, s in ipairs({'pending', 'sent', 'accepted'}) do
    active = active + tonumber(redis.call('HGET', meta, 'c:' .. s) or '0')
  end
  if active == 0 and (redis.call('HGET', meta, 'finishedAt') or '') == '' then
    redis.call('HSET', meta, 'finishedAt', now)
    if redis.call('HGET', meta, 'status') == 'running' then redis.call('HSET', meta, 'status', 'completed') end
    -- A finished campaign is kept for its retention, then expires with all its keys.
    local retention = tonumber(redis.call('HGET', meta, 'retentionMs') or '0')
    if retention and retention > 0 then
      for _, key in ipairs(campaignKeys(meta)) do redis.call('PEXPIRE', key, retention) end
    end
    return 1
  end
  return 0
end
local function move(meta, phones, st, id, rec, to, now)
  local from = rec.s
  if from ~= to then
    redis.call('ZREM', st .. from, id)
    redis.call('ZADD', st .. to, rec.i, id)
    redis.call('HINCRBY', meta, 'c:' .. from, -1)
    redis.call('HINCRBY', meta, 'c:' .. to, 1)
  end
  rec.s = to
  rec.u = tonumber(now)
  redis.call('HSET', phones, id, cjson.encode(rec))
end
local function stopPending(meta, phones, st, now, status, reason, message)
  redis.call('HSET', meta, 'status', status, 'stopReason', reason)
  local ids = redis.call('ZRANGE', st .. 'pending', 0, -1)
  for _, id in ipairs(ids) do
    local rec = cjson.decode(redis.call('HGET', phones, id))
    rec.c = 'not_sent'
    rec.m = message
    move(meta, phones, st, id, rec, 'rejected', now)
  end
  return #ids
end
local function exceeded(meta)
  local count = redis.call('HGET', meta, 'maxErrorsCount')
  local percent = redis.call('HGET', meta, 'maxErrorsPercent')
  local errors = tonumber(redis.call('HGET', meta, 'errors') or '0') - tonumber(redis.call('HGET', meta, 'errorsBase') or '0')
  local answered = tonumber(redis.call('HGET', meta, 'answered') or '0') - tonumber(redis.call('HGET', meta, 'answeredBase') or '0')
  if count and count ~= '' then return errors > tonumber(count) end
  if percent and percent ~= '' then return answered > 0 and errors * 100 > tonumber(percent) * answered end
  return false
end
`;

// KEYS: meta, phones, st-prefix. ARGV: now, attempt, phone ids...
const CLAIM = `${STOP_PENDING}
local meta, phones, st = KEYS[1], KEYS[2], KEYS[3]
local now = ARGV[1]
if redis.call('HGET', meta, 'status') ~= 'running' then return cjson.encode({stopped = true}) end
if exceeded(meta) then
  stopPending(meta, phones, st, now, 'stopped', 'max_errors', 'not sent: the campaign stopped after exceeding its max_errors')
  finishIfDone(meta, now)
  return cjson.encode({stopped = true})
end
if (redis.call('HGET', meta, 'startedAt') or '') == '' then redis.call('HSET', meta, 'startedAt', now) end
local claimed, accepted, interrupted = {}, {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local raw = redis.call('HGET', phones, id)
  if raw then
    local rec = cjson.decode(raw)
    if rec.s == 'pending' then
      rec.a = ARGV[2]
      rec.t = tonumber(now)
      move(meta, phones, st, id, rec, 'sent', now)
      table.insert(claimed, {id = id, record = rec})
    elseif rec.s == 'sent' then
      rec.c = 'interrupted'
      rec.m = "interrupted: the gateway replica sending this phone stopped before CPH's answer was recorded; not resent: verify its archive"
      move(meta, phones, st, id, rec, 'unknown', now)
      table.insert(interrupted, id)
    elseif rec.s == 'accepted' then
      table.insert(accepted, {id = id, record = rec})
    end
  end
end
finishIfDone(meta, now)
return cjson.encode({stopped = false, claimed = claimed, accepted = accepted, interrupted = interrupted})`;

// KEYS: meta, phones, st-prefix. ARGV: now, updates (JSON). Returns {applied, finished}.
const RECORD = `${STOP_PENDING}
local meta, phones, st = KEYS[1], KEYS[2], KEYS[3]
local now = ARGV[1]
local applied = 0
for _, update in ipairs(cjson.decode(ARGV[2])) do
  local raw = redis.call('HGET', phones, update.id)
  if raw then
    local rec = cjson.decode(raw)
    local allowed = false
    for _, from in ipairs(update.from) do if rec.s == from then allowed = true end end
    if allowed and update.a and rec.a ~= update.a then allowed = false end
    if allowed then
      for _, field in ipairs({'j', 'r', 'c', 'm'}) do
        if update[field] then rec[field] = update[field] end
      end
      if update.to == 'pending' then rec.c = nil rec.m = nil rec.a = nil rec.t = nil end
      if update.answered then redis.call('HINCRBY', meta, 'answered', 1) end
      if update.error then redis.call('HINCRBY', meta, 'errors', 1) end
      move(meta, phones, st, update.id, rec, update.to, now)
      applied = applied + 1
    end
  end
end
return {applied, finishIfDone(meta, now)}`;

// KEYS: meta, phones, st-prefix. ARGV: now, status, reason, message. Returns the status before.
const STOP = `${STOP_PENDING}
local meta, phones, st = KEYS[1], KEYS[2], KEYS[3]
local before = redis.call('HGET', meta, 'status')
if before ~= 'running' then return before end
stopPending(meta, phones, st, ARGV[1], ARGV[2], ARGV[3], ARGV[4])
finishIfDone(meta, ARGV[1])
return before`;

// KEYS: meta, phones, st-prefix. ARGV: now. Returns {status before, generation, phones resumed}.
const RESUME = `${STOP_PENDING}
local meta, phones, st = KEYS[1], KEYS[2], KEYS[3]
local before = redis.call('HGET', meta, 'status')
if before ~= 'cancelled' and before ~= 'stopped' then return {before, 0, 0} end
local resumed = 0
for _, id in ipairs(redis.call('ZRANGE', st .. 'rejected', 0, -1)) do
  local rec = cjson.decode(redis.call('HGET', phones, id))
  if rec.c == 'not_sent' then
    rec.c = nil rec.m = nil
    move(meta, phones, st, id, rec, 'pending', ARGV[1])
    resumed = resumed + 1
  end
end
if resumed == 0 then return {before, 0, 0} end
for _, key in ipairs(campaignKeys(meta)) do redis.call('PERSIST', key) end
local generation = redis.call('HINCRBY', meta, 'generation', 1)
redis.call('HSET', meta, 'status', 'running', 'stopReason', '', 'finishedAt', '',
  'errorsBase', redis.call('HGET', meta, 'errors') or '0', 'answeredBase', redis.call('HGET', meta, 'answered') or '0')
return {before, generation, resumed}`;

// Spacing of requests over every replica: returns how long (ms) the caller waits for its turn.
// KEYS: pacer. ARGV: interval ms.
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local nextAt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nextAt)
redis.call('SET', KEYS[1], at + interval, 'PX', math.ceil(at - now + interval + 60000))
return at - now`;

interface Scripts {
  campaignClaim(meta: string, phones: string, st: string, ...args: string[]): Promise<string>;
  campaignRecord(
    meta: string,
    phones: string,
    st: string,
    now: string,
    updates: string,
  ): Promise<[number, number]>;
  campaignStop(
    meta: string,
    phones: string,
    st: string,
    now: string,
    status: string,
    reason: string,
    message: string,
  ): Promise<string | null>;
  campaignResume(
    meta: string,
    phones: string,
    st: string,
    now: string,
  ): Promise<[string | null, number, number]>;
  campaignPace(key: string, intervalMs: string): Promise<number>;
}

/** A new campaign's phones, in order. */
export interface NewCampaignPhone {
  id: string;
  objectPath: string;
  /** Set for a phone reported at once and never sent (not_exportable). */
  rejected?: { code: string; message: string } | undefined;
}

/** The Redis side of campaigns; one per gateway process. */
export class CampaignStore {
  readonly #redis: Redis;
  readonly #scripts: Scripts;
  readonly #specs = new Map<string, CampaignSpec>();
  readonly #retentionMs: number;

  /** `retentionMs`: how long a finished campaign is kept (0: for ever). */
  constructor(redis: Redis, options: { retentionMs?: number } = {}) {
    this.#redis = redis;
    this.#retentionMs = options.retentionMs ?? 0;
    redis.defineCommand("campaignClaim", { numberOfKeys: 3, lua: CLAIM });
    redis.defineCommand("campaignRecord", { numberOfKeys: 3, lua: RECORD });
    redis.defineCommand("campaignStop", { numberOfKeys: 3, lua: STOP });
    redis.defineCommand("campaignResume", { numberOfKeys: 3, lua: RESUME });
    redis.defineCommand("campaignPace", { numberOfKeys: 1, lua: PACE });
    this.#scripts = redis as unknown as Scripts;
  }

  #keys(id: string): [string, string, string] {
    return [`camp:${id}`, `camp:${id}:ph`, `camp:${id}:st:`];
  }

  /** Writes a new campaign in one MULTI: nothing of it is visible before all of it is. */
  async create(spec: CampaignSpec, phones: readonly NewCampaignPhone[], now: number): Promise<void> {
    const [meta, phoneKey, st] = this.#keys(spec.id);
    const counts = Object.fromEntries(CAMPAIGN_PHONE_STATES.map((state) => [`c:${state}`, 0])) as Record<
      string,
      number
    >;
    const multi = this.#redis.multi();
    const chunk = 1000;
    for (let start = 0; start < phones.length; start += chunk) {
      const slice = phones.slice(start, start + chunk);
      multi.rpush(`camp:${spec.id}:order`, ...slice.map((phone) => phone.id));
      const records: string[] = [];
      const pending: Array<string | number> = [];
      const rejected: Array<string | number> = [];
      slice.forEach((phone, offset) => {
        const index = start + offset;
        const record: PhoneRecord = {
          i: index,
          s: phone.rejected ? "rejected" : "pending",
          o: phone.objectPath,
        };
        if (phone.rejected) {
          record.c = phone.rejected.code;
          record.m = phone.rejected.message;
          rejected.push(index, phone.id);
        } else pending.push(index, phone.id);
        counts[`c:${record.s}`] = (counts[`c:${record.s}`] ?? 0) + 1;
        records.push(phone.id, JSON.stringify(record));
      });
      multi.hset(phoneKey, ...records);
      if (pending.length > 0) multi.zadd(`${st}pending`, ...pending);
      if (rejected.length > 0) multi.zadd(`${st}rejected`, ...rejected);
    }
    const active = phones.some((phone) => !phone.rejected);
    multi.hset(meta, {
      ...counts,
      status: active ? "running" : "completed",
      stopReason: "",
      caller: spec.caller,
      createdAt: now,
      startedAt: "",
      finishedAt: active ? "" : now,
      total: phones.length,
      batches: Math.ceil(phones.length / spec.batchSize),
      generation: 1,
      errors: 0,
      answered: 0,
      errorsBase: 0,
      answeredBase: 0,
      maxErrorsCount: spec.maxErrors && "count" in spec.maxErrors ? spec.maxErrors.count : "",
      maxErrorsPercent: spec.maxErrors && "percent" in spec.maxErrors ? spec.maxErrors.percent : "",
      spec: JSON.stringify(spec),
      retentionMs: this.#retentionMs,
    });
    multi.zadd("camps", now, spec.id);
    // The index forgets campaigns older than the retention (their keys have expired by then).
    if (this.#retentionMs > 0) multi.zremrangebyscore("camps", "-inf", now - this.#retentionMs * 2);
    if (!active && this.#retentionMs > 0) {
      for (const key of this.#allKeys(spec.id)) multi.pexpire(key, this.#retentionMs);
    }
    const results = await multi.exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed) throw failed[0];
  }

  #allKeys(id: string): string[] {
    const meta = `camp:${id}`;
    return [
      meta,
      `${meta}:ph`,
      `${meta}:order`,
      ...CAMPAIGN_PHONE_STATES.map((state) => `${meta}:st:${state}`),
    ];
  }

  /** The fixed part of a campaign (cached: it never changes); undefined when there is none. */
  async spec(id: string): Promise<CampaignSpec | undefined> {
    const cached = this.#specs.get(id);
    if (cached) return cached;
    const raw = await this.#redis.hget(`camp:${id}`, "spec");
    if (raw === null) return undefined;
    const spec = JSON.parse(raw) as CampaignSpec;
    // Bounded: the oldest goes first (a Map iterates in insertion order).
    if (this.#specs.size >= 1000) this.#specs.delete(this.#specs.keys().next().value as string);
    this.#specs.set(id, spec);
    return spec;
  }

  /** The status, generation and batch count a worker checks before and after a batch. */
  async progress(
    id: string,
  ): Promise<{ status: CampaignStatus; generation: number; batches: number } | undefined> {
    const [status, generation, batches] = await this.#redis.hmget(
      `camp:${id}`,
      "status",
      "generation",
      "batches",
    );
    if (status === null) return undefined;
    return { status: status as CampaignStatus, generation: Number(generation), batches: Number(batches) };
  }

  /** The phone ids of batch `n`. */
  batchPhones(id: string, n: number, batchSize: number): Promise<string[]> {
    return this.#redis.lrange(`camp:${id}:order`, n * batchSize, n * batchSize + batchSize - 1);
  }

  async claim(id: string, phones: readonly string[], attempt: string, now: number): Promise<Claim> {
    const raw = await this.#scripts.campaignClaim(...this.#keys(id), String(now), attempt, ...phones);
    const decoded = JSON.parse(raw) as Partial<Claim> & { stopped: boolean };
    // cjson writes an empty table as {}.
    const list = <T>(value: T[] | Record<string, never> | undefined): T[] =>
      Array.isArray(value) ? value : [];
    return {
      stopped: decoded.stopped,
      claimed: list(decoded.claimed),
      accepted: list(decoded.accepted),
      interrupted: list(decoded.interrupted),
    };
  }

  /** Applies updates; returns how many applied and whether the campaign just finished. */
  async record(
    id: string,
    updates: readonly PhoneUpdate[],
    now: number,
  ): Promise<{ applied: number; finished: boolean }> {
    if (updates.length === 0) return { applied: 0, finished: false };
    const [applied, finished] = await this.#scripts.campaignRecord(
      ...this.#keys(id),
      String(now),
      JSON.stringify(updates),
    );
    return { applied: Number(applied), finished: Number(finished) === 1 };
  }

  /** Stops a running campaign: its pending phones become rejected not_sent. Returns the status before. */
  async stop(id: string, status: "cancelled" | "stopped", reason: string, message: string, now: number) {
    return (await this.#scripts.campaignStop(
      ...this.#keys(id),
      String(now),
      status,
      reason,
      message,
    )) as CampaignStatus | null;
  }

  /** Puts a cancelled or stopped campaign's not_sent phones back to pending, in a new generation. */
  async resume(
    id: string,
    now: number,
  ): Promise<{ before: CampaignStatus | null; generation: number; resumed: number }> {
    const [before, generation, resumed] = await this.#scripts.campaignResume(...this.#keys(id), String(now));
    return {
      before: before as CampaignStatus | null,
      generation: Number(generation),
      resumed: Number(resumed),
    };
  }

  /** Waits (ms) for this request's turn under a rate over every replica. */
  pace(id: string, perSecond: number): Promise<number> {
    return this.#scripts.campaignPace(`camp:${id}:pace`, String(Math.max(1, Math.round(1000 / perSecond))));
  }

  async view(id: string): Promise<CampaignView | undefined> {
    const meta = await this.#redis.hgetall(`camp:${id}`);
    if (meta["spec"] === undefined) return undefined;
    const spec = JSON.parse(meta["spec"]) as CampaignSpec;
    const counts = Object.fromEntries(
      CAMPAIGN_PHONE_STATES.map((state) => [state, Number(meta[`c:${state}`] ?? 0)]),
    ) as Record<CampaignPhoneState, number>;
    const time = (value: string | undefined) => (value ? new Date(Number(value)).toISOString() : undefined);
    return {
      campaign_id: id,
      ...(spec.name === undefined ? {} : { name: spec.name }),
      caller: spec.caller,
      status: meta["status"] as CampaignStatus,
      ...(meta["stopReason"] ? { stop_reason: meta["stopReason"] } : {}),
      created_at: time(meta["createdAt"]) as string,
      ...(meta["startedAt"] ? { started_at: time(meta["startedAt"]) } : {}),
      ...(meta["finishedAt"] ? { finished_at: time(meta["finishedAt"]) } : {}),
      total: Number(meta["total"]),
      counts,
      errors: Number(meta["errors"] ?? 0) - Number(meta["errorsBase"] ?? 0),
      bucket_name: spec.bucketName,
      object_path: spec.objectPath,
      batch_size: spec.batchSize,
      max_concurrency: spec.maxConcurrency,
      ...(spec.maxErrors === undefined ? {} : { max_errors: formatMaxErrors(spec.maxErrors) }),
      ...(spec.rate === undefined ? {} : { rate: formatRate(spec.rate) }),
    };
  }

  /** One page of phones (by state, or all in campaign order), from `cursor` (an index). */
  async phones(
    id: string,
    bucketName: string,
    options: { state?: CampaignPhoneState | undefined; cursor: number; limit: number },
  ): Promise<{ phones: CampaignPhoneView[]; nextCursor?: number | undefined }> {
    const { state, cursor, limit } = options;
    let ids: string[];
    if (state === undefined) {
      ids = await this.#redis.lrange(`camp:${id}:order`, cursor, cursor + limit - 1);
    } else {
      ids = await this.#redis.zrangebyscore(`camp:${id}:st:${state}`, cursor, "+inf", "LIMIT", 0, limit);
    }
    if (ids.length === 0) return { phones: [] };
    const raws = await this.#redis.hmget(`camp:${id}:ph`, ...ids);
    const phones: CampaignPhoneView[] = [];
    ids.forEach((phoneId, offset) => {
      const raw = raws[offset];
      if (raw === null || raw === undefined) return;
      phones.push(phoneView(phoneId, bucketName, JSON.parse(raw) as PhoneRecord));
    });
    const last = phones[phones.length - 1];
    return { phones, ...(ids.length === limit && last ? { nextCursor: last.index + 1 } : {}) };
  }

  /** Campaign ids, newest first. */
  list(limit: number): Promise<string[]> {
    return this.#redis.zrevrange("camps", 0, limit - 1);
  }

  /** Counts by state of the campaigns still running, for /metrics. */
  async activeCounts(): Promise<Array<{ id: string; counts: Record<CampaignPhoneState, number> }>> {
    const ids = await this.#redis.zrevrange("camps", 0, 199);
    const out: Array<{ id: string; counts: Record<CampaignPhoneState, number> }> = [];
    for (const id of ids) {
      const values = await this.#redis.hmget(
        `camp:${id}`,
        "status",
        ...CAMPAIGN_PHONE_STATES.map((state) => `c:${state}`),
      );
      if (values[0] !== "running") continue;
      out.push({
        id,
        counts: Object.fromEntries(
          CAMPAIGN_PHONE_STATES.map((state, index) => [state, Number(values[index + 1] ?? 0)]),
        ) as Record<CampaignPhoneState, number>,
      });
    }
    return out;
  }
}

export function phoneView(phoneId: string, bucketName: string, record: PhoneRecord): CampaignPhoneView {
  return {
    phone_id: phoneId,
    index: record.i,
    state: record.s,
    bucket_name: bucketName,
    object_path: record.o,
    ...(record.j ? { job_id: record.j } : {}),
    ...(record.r ? { request_id: record.r } : {}),
    ...(record.c ? { error_code: record.c } : {}),
    ...(record.m ? { error_msg: record.m } : {}),
    ...(record.t ? { sent_at: new Date(record.t).toISOString() } : {}),
    ...(record.u ? { updated_at: new Date(record.u).toISOString() } : {}),
  };
}
