// The /docs page in a real browser: Debian's chromium driven by playwright-core, against the built gateway
// bin (with the emulator as its upstream). Saves a screenshot to test-artifacts/gateway-docs.png.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserPage, CHROMIUM, CHROMIUM_AVAILABLE as available, openBrowserPage } from "./browser.js";
import { cleanUp, gatewayConfig, type Spawned, startEmulator, startGateway } from "./support.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const SCREENSHOT = join(ROOT, "test-artifacts", "gateway-docs.png");
const BATCH_STORAGE = "POST /v1/{project_id}/cloud-phone/phones/batch-storage";

if (!available && !process.env["CI"]) {
  console.warn(
    `docs-page.test.ts: skipped, no Chromium at ${CHROMIUM}. Install it with 'apt-get install -y chromium' ` +
      "(or set CPH_CHROMIUM_PATH); in CI (CI set) this test fails instead.",
  );
}

describe.skipIf(!available && !process.env["CI"])("the gateway's /docs page in Chromium", () => {
  let emulator: Spawned;
  let gateway: Spawned;
  let browser: BrowserPage;
  let page: Page;
  let requested: string[];
  let problems: string[];

  beforeAll(async () => {
    emulator = await startEmulator();
    gateway = await startGateway(gatewayConfig(emulator.url));
    browser = await openBrowserPage();
    ({ page, requested, problems } = browser);
    await page.goto(`${gateway.url}/docs`);
    await page.waitForSelector('#app[data-state="ready"], #app[data-state="error"]', { timeout: 20_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cleanUp();
  });

  it("renders the API from /openapi.json, loading nothing from outside the gateway", async () => {
    expect(await page.getAttribute("#app", "data-state")).toBe("ready");
    expect(await page.title()).toBe("cph-gateway API reference");
    expect(problems).toEqual([]);
    const origin = new URL(gateway.url).origin;
    const elsewhere = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith("data:"));
    expect(elsewhere).toEqual([]);
    expect(requested).toContain(`${origin}/openapi.json`);
    expect(requested).toContain(`${origin}/docs/docs.js`);
  });

  it("lists the batch-storage route with its request schema", async () => {
    const route = page.locator(`section[data-route="${BATCH_STORAGE}"]`);
    await expect.poll(() => route.isVisible()).toBe(true);
    const heading = (await route.locator("h2").textContent()) ?? "";
    expect(heading.replace(/\s+/g, " ")).toBe("POST /v1/{project_id}/cloud-phone/phones/batch-storage");
    const body = route.locator(".request-body");
    for (const field of [
      "storage_infos",
      "phone_id",
      "include_files",
      "exclude_files",
      "bucket_name",
      "object_path",
    ]) {
      await expect
        .poll(() => body.locator(`[data-field="${field}"]`).first().isVisible(), { message: field })
        .toBe(true);
    }
    const phoneId = ((await body.locator('[data-field="phone_id"]').first().textContent()) ?? "").replace(
      /\s+/g,
      " ",
    );
    expect(phoneId).toMatch(/^phone_id string required/);
    expect(await route.locator('tr[data-parameter="Idempotency-Key"]').textContent()).toContain("header");
  });

  it("takes a reader to a route from the navigation, and shows the error codes", async () => {
    await page.locator('nav a[href="#op-ListJobs"]').click();
    await expect.poll(() => page.evaluate("location.hash")).toBe("#op-ListJobs");
    expect(await page.locator('section[id="op-ListJobs"] tr[data-parameter="request_ids"]').isVisible()).toBe(
      true,
    );
    expect(await page.locator('tr[data-error-code="CPHGW.4291"]').textContent()).toContain("429");
  });

  it("saves a screenshot of the page", async () => {
    await page.evaluate("window.scrollTo(0, 0)");
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    const image = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(image.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
