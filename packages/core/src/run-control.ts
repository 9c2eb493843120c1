// Run control of a bulk run (export, restore, campaigns): when to stop on errors, how fast to send.

/** When a run stops sending: more than `count` errors, or more than `percent` % of the phones answered. */
export type MaxErrors = { count: number } | { percent: number };

export type RunControlParse<T> = { ok: true; value: T } | { ok: false; message: string };

const COUNT = /^\d{1,9}$/;
const PERCENT = /^(\d{1,3}(?:\.\d{1,6})?)%$/;
const RATE = /^(\d{1,9}(?:\.\d{1,9})?)(?:\/(s|min))?$/;

/**
 * Reads a `--max-errors` value: a whole number of errors (`0` stops at the first error) or a
 * percentage above 0 and at most 100 (`10%`).
 *
 * @example parseMaxErrors("5") // { ok: true, value: { count: 5 } }
 */
export function parseMaxErrors(input: string): RunControlParse<MaxErrors> {
  const text = input.trim();
  if (COUNT.test(text)) return { ok: true, value: { count: Number(text) } };
  const percent = PERCENT.exec(text)?.[1];
  if (percent !== undefined) {
    const value = Number(percent);
    if (value > 0 && value <= 100) return { ok: true, value: { percent: value } };
    return {
      ok: false,
      message: `${JSON.stringify(input)}: a percentage of errors must be above 0% and at most 100%`,
    };
  }
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a number of errors; use a whole number such as 5 (0 stops at the first error) or a percentage such as 10%`,
  };
}

/** Writes a limit as `parseMaxErrors` reads it. */
export function formatMaxErrors(limit: MaxErrors): string {
  return "count" in limit ? String(limit.count) : `${limit.percent}%`;
}

/**
 * Reads a `--rate` value as requests per second: `10`, `10/s`, `0.5/s` or `600/min`.
 *
 * @example parseRate("600/min") // { ok: true, value: 10 }
 */
export function parseRate(input: string): RunControlParse<number> {
  const match = RATE.exec(input.trim());
  if (match) {
    const amount = Number(match[1]);
    const perSecond = match[2] === "min" ? amount / 60 : amount;
    if (amount > 0 && Number.isFinite(perSecond)) return { ok: true, value: perSecond };
    return { ok: false, message: `${JSON.stringify(input)}: a rate must be above 0` };
  }
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a rate; use requests per second or per minute, such as 10/s, 0.5/s or 600/min`,
  };
}

/** Writes a rate (requests per second) as `parseRate` reads it. */
export function formatRate(perSecond: number): string {
  return `${perSecond}/s`;
}

/**
 * Whether a run has gone over its error limit. `done` counts the phones whose outcome is known
 * (the denominator of a percentage); a percentage is never exceeded before any is known.
 */
export function maxErrorsExceeded(limit: MaxErrors, progress: { errors: number; done: number }): boolean {
  if ("count" in limit) return progress.errors > limit.count;
  return progress.done > 0 && progress.errors * 100 > limit.percent * progress.done;
}

/**
 * The states of a phone in a gateway campaign: the client's (`accepted`, `rejected`, `succeeded`,
 * `failed`, `unknown`; `rejected` with `not_sent` for a phone never sent) and the two before an
 * answer: `pending` (queued) and `sent` (its request in flight). The gateway keeps them, the CLI
 * reads them.
 */
export const CAMPAIGN_PHONE_STATES = [
  "pending",
  "sent",
  "accepted",
  "succeeded",
  "failed",
  "rejected",
  "unknown",
] as const;
export type CampaignPhoneState = (typeof CAMPAIGN_PHONE_STATES)[number];
