// The campaign progress page in a real browser: Debian's chromium driven by playwright-core, against
// the built gateway bin on a real Redis (the emulator upstream). Saves test-artifacts/gateway-campaign.png.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserPage, CHROMIUM, CHROMIUM_AVAILABLE as available, openBrowserPage } from "./browser.js";
import {
  bearer,
  campaignCaller,
  cleanUp,
  gatewayConfig,
  gatewayEnv,
  type RedisHandle,
  request,
  type Spawned,
  startEmulator,
  startGateway,
  startRedis,
} from "./support.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const SCREENSHOT = join(ROOT, "test-artifacts", "gateway-campaign.png");
const KEY = "e2e-page-campaign-key-0a9b8c7d-secret";

/** The page's document, as the functions run in the browser see it (this suite's types have no DOM). */
interface BrowserDocument {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
}

const redis = await startRedis();
const noRedis = typeof redis === "string";
const skip = (!available || noRedis) && !process.env["CI"];
if (skip)
  console.warn(`campaign-page.test.ts: skipped (${!available ? `no Chromium at ${CHROMIUM}` : redis})`);

describe.skipIf(skip)("the campaign progress page in Chromium", () => {
  let emulator: Spawned;
  let gateway: Spawned;
  let browser: BrowserPage;
  let page: Page;
  let requested: string[];
  let problems: string[];

  beforeAll(async () => {
    if (noRedis) throw new Error(String(redis));
    const handle = redis as RedisHandle;
    emulator = await startEmulator({ jobDurationMs: 50 });
    const config = gatewayConfig(emulator.url, {
      redis: { keyPrefix: handle.keyPrefix },
      campaigns: { pollIntervalMs: 50, pollMaxIntervalMs: 200 },
    });
    config.callers.push(campaignCaller("page-fleet", KEY));
    gateway = await startGateway(config, gatewayEnv({ CPH_GATEWAY_REDIS_URL: handle.url }));
    browser = await openBrowserPage();
    ({ page, requested, problems } = browser);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await (redis as RedisHandle).stop?.();
    await cleanUp();
  });

  it("asks for a key, then shows live counts and every phone until the campaign ends", async () => {
    const ids = Array.from({ length: 60 }, (_, index) => `page${String(index).padStart(3, "0")}`);
    // Slow enough (a batch a second: 12 s in all) that the page sees it running.
    const created = await request(`${gateway.url}/v1/campaigns`, {
      method: "POST",
      headers: bearer(KEY),
      body: JSON.stringify({
        name: "page test",
        phones: ids,
        bucket_name: "fleet-backups",
        object_path: "fleet/{phone_id}.tar",
        batch_size: 5,
        max_concurrency: 1,
        rate: "1/s",
      }),
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body["campaign_id"] as string;

    await page.goto(`${gateway.url}/campaigns/${id}`);
    await page.waitForSelector("#key-form:not([hidden])");
    expect(await page.textContent("#status")).toContain("API key is needed");
    await page.fill("#api-key", KEY);
    await page.click("#key-form button");
    await page.waitForSelector("body[data-loaded='true']");
    // Live: first seen running, part done; the same page later shows the end.
    expect(await page.getAttribute("#status", "data-status")).toBe("running");
    expect(await page.textContent("#progress-text")).not.toContain("60 of 60");
    expect(await page.textContent("#details")).toContain("page test");

    await page.waitForSelector("body[data-finished='true']", { timeout: 60_000 });
    expect(await page.getAttribute("#status", "data-status")).toBe("completed");
    expect(await page.textContent("#progress-text")).toContain("60 of 60 phones ended; 60 succeeded");
    expect(await page.textContent("[data-count-state='succeeded']")).toContain("60");
    const rows = await page.$$eval("#phones tbody tr", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-phone"), tr.children[2]?.textContent]),
    );
    expect(rows).toEqual(ids.map((phone) => [phone, "succeeded"]));

    // The state filter asks the gateway for that state only.
    await page.selectOption("#state-filter", "failed");
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: BrowserDocument }).document.querySelectorAll("#phones tbody tr")
          .length === 0,
    );

    // A wrong key: the gateway's refusal is shown and the key asked for again.
    await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { clear(): void } }).sessionStorage.clear(),
    );
    await page.reload();
    await page.waitForSelector("#key-form:not([hidden])");
    await page.fill("#api-key", "not-the-key");
    await page.click("#key-form button");
    await page.waitForFunction(() =>
      (globalThis as unknown as { document: BrowserDocument }).document
        .querySelector("#error")
        ?.textContent?.includes("CPHGW.4012"),
    );
    await page.fill("#api-key", KEY);
    await page.click("#key-form button");
    await page.waitForSelector("body[data-finished='true']");

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const origin = new URL(gateway.url).origin;
    expect(requested.filter((url) => !url.startsWith(origin) && !url.startsWith("data:"))).toEqual([]);
    // The only console errors allowed are the two 401 answers of the wrong key.
    expect(problems.filter((text) => !/401/.test(text))).toEqual([]);
  }, 90_000);
});
