import { LIMITS } from "@cph-export/core";
import { INVALID_PARAMETER } from "./errors.js";
import type { Inventory, InventoryPhone, InventoryServer } from "./inventory.js";

/** A page of a list, or the 400 that refuses its query. */
export type ListAnswer<T> = { ok: true; items: T[] } | { ok: false; errorCode: string; message: string };

type Query = (name: string) => string | undefined;

const refuse = (errorCode: string, message: string) => ({ ok: false as const, errorCode, message });

/** offset and limit as ListJobs checks them: `CPS.0002` when out of range. */
function page(
  query: Query,
): { offset: number; limit: number } | { ok: false; errorCode: string; message: string } {
  const offset = wholeNumber(query("offset"), 0);
  const limit = wholeNumber(query("limit"), LIMITS.listJobsMaxLimit);
  if (!Number.isInteger(offset) || offset < 0)
    return refuse("CPS.0002", "offset must be a whole number of 0 or more");
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listJobsMaxLimit)
    return refuse("CPS.0002", `limit must be a whole number from 1 to ${LIMITS.listJobsMaxLimit}`);
  return { offset, limit };
}

function wholeNumber(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  return /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
}

/** An integer filter (`status`, `type`); undefined when absent or empty, NaN when malformed. */
function integer(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  return /^-?\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
}

/** An empty filter value filters nothing, as an absent one. */
function text(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function slice<T>(items: readonly T[], bounds: { offset: number; limit: number }): T[] {
  return items.slice(bounds.offset, bounds.offset + bounds.limit);
}

/**
 * ListCloudPhones over the inventory: `phone_name` is a case-insensitive substring match,
 * `server_id`, `status` and `type` exact, all combined with AND, then `offset`/`limit`.
 */
export function listPhonesAnswer(inventory: Inventory, query: Query): ListAnswer<InventoryPhone> {
  const bounds = page(query);
  if ("ok" in bounds) return bounds;
  const status = integer(query("status"));
  if (Number.isNaN(status))
    return refuse(INVALID_PARAMETER, "status must be a whole number (a phone status code)");
  const type = integer(query("type"));
  if (Number.isNaN(type))
    return refuse(INVALID_PARAMETER, "type must be a whole number (0 ordinary, 1 trial)");
  const name = text(query("phone_name"))?.toLowerCase();
  const serverId = text(query("server_id"));
  const matching =
    name === undefined && serverId === undefined && status === undefined && type === undefined
      ? inventory.phones
      : inventory.phones.filter(
          (phone) =>
            (name === undefined || phone.phone_name.toLowerCase().includes(name)) &&
            (serverId === undefined || phone.server_id === serverId) &&
            (status === undefined || phone.status === status) &&
            (type === undefined || phone.type === type),
        );
  return { ok: true, items: slice(matching, bounds) };
}

/** ListCloudPhoneServers over the inventory: `server_name` substring (any case), `server_id` exact. */
export function listServersAnswer(inventory: Inventory, query: Query): ListAnswer<InventoryServer> {
  const bounds = page(query);
  if ("ok" in bounds) return bounds;
  const name = text(query("server_name"))?.toLowerCase();
  const serverId = text(query("server_id"));
  const matching = inventory.servers.filter(
    (server) =>
      (name === undefined || server.server_name.toLowerCase().includes(name)) &&
      (serverId === undefined || server.server_id === serverId),
  );
  return { ok: true, items: slice(matching, bounds) };
}
