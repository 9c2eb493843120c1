import { parsePhoneStatus, phoneStatusWord } from "@cph-export/core";
import { z } from "zod";
import { createRandom, randomInt, stableId } from "./random.js";

const PHONE_ID = /^[0-9a-f]{32}$/;
/** The largest inventory a config may ask for: enough for the 10,000 phone benchmarks, bounded memory. */
export const MAX_INVENTORY_PHONES = 100_000;

/** Status weights when the config gives none: 40 phones come out 34 running, 3 off, 2 frozen, 1 abnormal. */
export const DEFAULT_STATUS_WEIGHTS: Readonly<Record<string, number>> = {
  running: 34,
  off: 3,
  frozen: 2,
  abnormal: 1,
};

const explicitPhoneSchema = z.strictObject({
  /** 32 lowercase hex; default derived from the name. */
  id: z.string().regex(PHONE_ID, "must be 32 lowercase hex characters").optional(),
  name: z.string().min(1, "must not be empty").max(65, "must be at most 65 characters"),
  /** The name or id of one of the generated servers; default the first. */
  server: z.string().min(1, "must not be empty").optional(),
  /** A status code or word (`running`, `off`, `frozen`, ...); default running (2). */
  status: z.union([z.number().int(), z.string().min(1)]).optional(),
  /** 0 ordinary, 1 trial. */
  type: z.number().int().optional(),
});

/** `inventory` of the config: the servers and phones the list routes serve. */
export const inventorySchema = z.strictObject({
  /** Generated servers `server-01`, `server-02`, ...; default 2. */
  servers: z.number().int().min(0).max(10_000).optional(),
  /** Generated phones on each server, named `phone-0001`, ... across servers; default 20. */
  phonesPerServer: z.number().int().min(0).max(MAX_INVENTORY_PHONES).optional(),
  /** Relative weights of the generated phones' statuses, by status word or code; exact counts, seeded places. */
  statuses: z.record(z.string(), z.number().int().min(0)).optional(),
  /** Seeds ids, places of the statuses, images and times. */
  seed: z.number().int().optional(),
  /** Phones added after the generated ones. */
  phones: z.array(explicitPhoneSchema).optional(),
  /** Refuse the export of a phone that is not in the inventory (`CPS.0005`); default false (any id exists). */
  strict: z.boolean().optional(),
});

export type InventoryConfig = z.output<typeof inventorySchema>;

/** One phone as ListCloudPhones answers it. */
export interface InventoryPhone {
  phone_name: string;
  server_id: string;
  phone_id: string;
  phone_model_name: string;
  image_id: string;
  vnc_enable: "true" | "false";
  status: number;
  type: number;
  metadata: { order_id: string; product_id: string };
  create_time: string;
  update_time: string;
}

/** One server as ListCloudPhoneServers answers it. */
export interface InventoryServer {
  server_name: string;
  server_id: string;
  server_model_name: string;
  phone_model_name: string;
  keypair_name: string;
  availability_zone: string;
  status: number;
  create_time: string;
  update_time: string;
}

/** A status given as a word or a code, as its code; a message when it is neither. */
function statusCode(value: number | string): { ok: true; code: number } | { ok: false; message: string } {
  if (typeof value === "number") return { ok: true, code: value };
  const parsed = parsePhoneStatus(value);
  return parsed.ok ? { ok: true, code: parsed.value[0]! } : parsed;
}

/** Cross checks of a schema-valid inventory, as `field.path: problem` lines. */
export function checkInventory(inventory: InventoryConfig | undefined): string[] {
  if (!inventory) return [];
  const problems: string[] = [];
  const servers = inventory.servers ?? 2;
  const perServer = inventory.phonesPerServer ?? 20;
  const generated = servers * perServer;
  const total = generated + (inventory.phones?.length ?? 0);
  if (total > MAX_INVENTORY_PHONES)
    problems.push(`inventory: ${total} phones; at most ${MAX_INVENTORY_PHONES} are allowed`);
  if (perServer > 0 && servers === 0)
    problems.push("inventory.servers: 0 servers cannot hold phonesPerServer phones");
  for (const [key, weight] of Object.entries(inventory.statuses ?? {})) {
    const status = statusCode(/^-?\d+$/.test(key) ? Number(key) : key);
    if (!status.ok) problems.push(`inventory.statuses.${key}: ${status.message}`);
    else if (!Number.isSafeInteger(weight))
      problems.push(`inventory.statuses.${key}: must be a whole number`);
  }
  const weights = Object.values(inventory.statuses ?? DEFAULT_STATUS_WEIGHTS);
  if (generated > 0 && weights.reduce((sum, weight) => sum + weight, 0) === 0)
    problems.push("inventory.statuses: the weights add up to 0; give at least one weight above 0");
  const serverNames = new Set(Array.from({ length: servers }, (_, index) => serverName(index, servers)));
  const serverIds = new Set(
    Array.from({ length: servers }, (_, index) => serverId(inventory.seed ?? 1, index)),
  );
  const ids = new Set<string>();
  const names = new Set<string>();
  inventory.phones?.forEach((phone, index) => {
    const where = `inventory.phones[${index}]`;
    if (phone.server !== undefined && !serverNames.has(phone.server) && !serverIds.has(phone.server)) {
      const known =
        servers === 0
          ? "there are no servers"
          : `the servers are server-01 to ${serverName(servers - 1, servers)}`;
      problems.push(
        `${where}.server: no server named or with the id ${JSON.stringify(phone.server)} (${known})`,
      );
    }
    if (phone.server === undefined && servers === 0)
      problems.push(`${where}.server: there are no servers to put the phone on; set inventory.servers`);
    if (phone.status !== undefined) {
      const status = statusCode(phone.status);
      if (!status.ok) problems.push(`${where}.status: ${status.message}`);
    }
    const id = phone.id ?? stableId(`phone-name:${phone.name}`);
    if (ids.has(id)) problems.push(`${where}.id: phone ${id} is listed twice`);
    if (names.has(phone.name)) problems.push(`${where}.name: name ${phone.name} is used twice`);
    ids.add(id);
    names.add(phone.name);
  });
  return problems;
}

function serverName(index: number, servers: number): string {
  return `server-${String(index + 1).padStart(Math.max(2, String(servers).length), "0")}`;
}

function serverId(seed: number, index: number): string {
  return stableId(`server:${seed}:${index}`);
}

function cphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Exact counts of each status over `total` phones, in proportion to the weights (largest remainder). */
export function statusCounts(weights: Readonly<Record<string, number>>, total: number): Map<number, number> {
  const entries = Object.entries(weights).flatMap(([key, weight]) => {
    const status = statusCode(/^-?\d+$/.test(key) ? Number(key) : key);
    return status.ok ? [[status.code, weight] as const] : [];
  });
  const sum = entries.reduce((acc, [, weight]) => acc + weight, 0);
  const counts = new Map<number, number>();
  if (sum === 0 || total === 0) return counts;
  const shares = entries.map(([code, weight], order) => {
    const exact = (weight * total) / sum;
    return { code, whole: Math.floor(exact), rest: exact - Math.floor(exact), order };
  });
  let left = total - shares.reduce((acc, share) => acc + share.whole, 0);
  for (const share of [...shares].sort((a, b) => b.rest - a.rest || a.order - b.order)) {
    if (left === 0) break;
    share.whole++;
    left--;
  }
  for (const share of shares) counts.set(share.code, (counts.get(share.code) ?? 0) + share.whole);
  return counts;
}

const PHONE_MODELS = ["kc1.large.2", "kc1.xlarge.2"];
const SERVER_MODELS = ["physical.kg1.4xlarge.cp", "physical.kg1.8xlarge.cp"];
// 2026-01-05T08:00:00Z: fixed, so that a seed always gives the same times.
const EPOCH = Date.UTC(2026, 0, 5, 8, 0, 0);

/** The servers and phones served by ListCloudPhoneServers and ListCloudPhones, in listing order. */
export class Inventory {
  readonly phones: readonly InventoryPhone[];
  readonly servers: readonly InventoryServer[];
  /** Whether a phone not in the inventory is refused by batch-storage. */
  readonly strict: boolean;
  readonly #byId: Map<string, InventoryPhone>;

  constructor(config: InventoryConfig = {}) {
    const seed = config.seed ?? 1;
    const serverCount = config.servers ?? 2;
    const perServer = config.phonesPerServer ?? 20;
    const random = createRandom(seed);
    this.strict = config.strict ?? false;
    const servers: InventoryServer[] = [];
    for (let index = 0; index < serverCount; index++) {
      const created = EPOCH + index * 3_600_000;
      servers.push({
        server_name: serverName(index, serverCount),
        server_id: serverId(seed, index),
        server_model_name: SERVER_MODELS[index % SERVER_MODELS.length]!,
        phone_model_name: PHONE_MODELS[index % PHONE_MODELS.length]!,
        keypair_name: "emulator-keypair",
        availability_zone: "cn-north-4a",
        status: 2,
        create_time: cphTime(created),
        update_time: cphTime(created + 60_000),
      });
    }
    const images = [0, 1, 2].map((index) => stableId(`image:${seed}:${index}`));
    const generated = serverCount * perServer;
    // Exact counts, then a seeded shuffle: the off and frozen phones are spread, and the same each run.
    const statuses: number[] = [];
    for (const [code, count] of statusCounts(config.statuses ?? DEFAULT_STATUS_WEIGHTS, generated))
      for (let index = 0; index < count; index++) statuses.push(code);
    for (let index = statuses.length - 1; index > 0; index--) {
      const other = randomInt(random, index + 1);
      [statuses[index], statuses[other]] = [statuses[other]!, statuses[index]!];
    }
    const total = generated + (config.phones?.length ?? 0);
    const width = Math.max(4, String(total).length);
    const phones: InventoryPhone[] = [];
    const phone = (
      index: number,
      fields: { id: string; name: string; server: InventoryServer; status: number; type: number },
    ): InventoryPhone => {
      const created = Date.parse(fields.server.create_time) + 600_000 + index * 17_000;
      return {
        phone_name: fields.name,
        server_id: fields.server.server_id,
        phone_id: fields.id,
        phone_model_name: fields.server.phone_model_name,
        image_id: images[randomInt(random, images.length)]!,
        vnc_enable: random() < 0.25 ? "true" : "false",
        status: fields.status,
        type: fields.type,
        metadata: {
          order_id: stableId(`order:${seed}`).slice(0, 20),
          product_id: stableId(`product:${fields.server.phone_model_name}`),
        },
        create_time: cphTime(created),
        update_time: cphTime(created + randomInt(random, 30 * 86_400) * 1000),
      };
    };
    for (let index = 0; index < generated; index++) {
      phones.push(
        phone(index, {
          id: stableId(`phone:${seed}:${index}`),
          name: `phone-${String(index + 1).padStart(width, "0")}`,
          server: servers[Math.floor(index / perServer)]!,
          status: statuses[index] ?? 2,
          type: 0,
        }),
      );
    }
    config.phones?.forEach((entry, at) => {
      const server =
        servers.find(
          (candidate) => candidate.server_name === entry.server || candidate.server_id === entry.server,
        ) ?? servers[0];
      const status = entry.status === undefined ? { ok: true as const, code: 2 } : statusCode(entry.status);
      // parseEmulatorConfig has refused these already; a direct caller gets the same words.
      if (!server || !status.ok) throw new Error(checkInventory(config).join("; ") || "invalid inventory");
      phones.push(
        phone(generated + at, {
          id: entry.id ?? stableId(`phone-name:${entry.name}`),
          name: entry.name,
          server,
          status: status.code,
          type: entry.type ?? 0,
        }),
      );
    });
    this.servers = servers;
    this.phones = phones;
    this.#byId = new Map(phones.map((item) => [item.phone_id, item]));
  }

  phone(phoneId: string): InventoryPhone | undefined {
    return this.#byId.get(phoneId);
  }
}

/** Why an inventory phone cannot export: undefined when it is running (2). */
export function notExportableReason(phone: InventoryPhone): string | undefined {
  if (phone.status === 2) return undefined;
  return `The cloud phone ${phone.phone_id} is not running (status ${phone.status}, ${phoneStatusWord(phone.status)}); only a running cloud phone can export data.`;
}
