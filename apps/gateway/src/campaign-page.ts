// The progress page of a campaign, GET /campaigns/{id}: plain HTML, one script and one style sheet
// served by the gateway itself (no build step, no CDN). The page holds no data: its script reads
// /v1/campaigns/{id} and its phones with the API key the reader types (kept for the tab only).
import type { Hono } from "hono";
import { PAGE_CONTENT_SECURITY_POLICY } from "./docs/register-docs-page.js";
import type { GatewayEnv } from "./exchange.js";

export const CAMPAIGN_PAGE_ROUTES = {
  page: "/campaigns/{campaign_id}",
  script: "/campaigns/assets/campaign.js",
  style: "/campaigns/assets/campaign.css",
} as const;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cph-gateway campaign</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${CAMPAIGN_PAGE_ROUTES.style}">
<script src="${CAMPAIGN_PAGE_ROUTES.script}" defer></script>
</head>
<body>
<header><h1>Campaign <code id="campaign-id"></code></h1><p id="status" data-status="loading">Loading…</p></header>
<form id="key-form" hidden>
  <label for="api-key">API key of a gateway caller</label>
  <input id="api-key" type="password" autocomplete="off" required>
  <button type="submit">Show</button>
  <p class="hint">Kept in this tab only (sessionStorage), sent to this gateway only.</p>
</form>
<section id="summary" hidden>
  <div class="bar" role="progressbar" aria-valuemin="0" id="bar"><div id="bar-done"></div></div>
  <p id="progress-text"></p>
  <table id="counts"><tbody></tbody></table>
  <dl id="details"></dl>
</section>
<section id="phones-section" hidden>
  <h2>Phones</h2>
  <label for="state-filter">State</label>
  <select id="state-filter">
    <option value="">all</option>
    <option>pending</option><option>sent</option><option>accepted</option><option>succeeded</option>
    <option>failed</option><option>rejected</option><option>unknown</option>
  </select>
  <table id="phones"><thead><tr><th>#</th><th>Phone</th><th>State</th><th>Job</th><th>Archive</th><th>Error</th></tr></thead><tbody></tbody></table>
  <button id="more" type="button" hidden>More phones</button>
</section>
<p id="error" role="alert" hidden></p>
<noscript><p>This page shows the campaign with JavaScript; GET /v1/campaigns/{id} gives the same as JSON.</p></noscript>
</body>
</html>
`;

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1f24; }
h1 { font-size: 1.4rem; } code { font-size: 0.95em; }
.bar { height: 1.1rem; background: #e5e8ec; border-radius: 4px; overflow: hidden; }
#bar-done { height: 100%; width: 0; background: #2f7d4f; transition: width 0.3s; }
table { border-collapse: collapse; margin: 0.8rem 0; }
td, th { border-bottom: 1px solid #e5e8ec; padding: 0.25rem 0.7rem 0.25rem 0; text-align: left; vertical-align: top; }
#phones td:nth-child(5), #phones td:nth-child(6) { font-size: 0.88em; word-break: break-all; }
[data-state="succeeded"] { color: #2f7d4f; } [data-state="failed"], [data-state="rejected"] { color: #b3261e; }
[data-state="unknown"] { color: #8a5a00; }
#status[data-status="completed"] { color: #2f7d4f; } #status[data-status="stopped"], #status[data-status="cancelled"] { color: #b3261e; }
#error { color: #b3261e; } .hint { color: #5b636d; font-size: 0.85em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; } dt { color: #5b636d; }
`;

const SCRIPT = `"use strict";
(() => {
  const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  const $ = (selector) => document.querySelector(selector);
  const STATES = ["pending", "sent", "accepted", "succeeded", "failed", "rejected", "unknown"];
  const storageKey = "cph-gateway-api-key";
  let key = sessionStorage.getItem(storageKey);
  let cursor;
  let timer;
  $("#campaign-id").textContent = id;

  function cell(row, text, state) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (state) td.dataset.state = state;
    row.appendChild(td);
  }

  async function get(path) {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + key } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((body.error_code ? body.error_code + ": " : "") + (body.error_msg || "HTTP " + response.status));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function showError(error) {
    $("#error").hidden = false;
    $("#error").textContent = error.message;
    if (error.status === 401) askKey();
  }

  function askKey() {
    sessionStorage.removeItem(storageKey);
    key = null;
    $("#key-form").hidden = false;
    $("#status").textContent = "An API key is needed to read this campaign.";
  }

  function renderCampaign(view) {
    const done = view.total - view.counts.pending - view.counts.sent - view.counts.accepted;
    const status = $("#status");
    status.dataset.status = view.status;
    status.textContent = view.status + (view.stop_reason ? " (" + view.stop_reason + ")" : "") + (view.finished_at ? ", finished " + view.finished_at : "");
    $("#summary").hidden = false;
    const bar = $("#bar");
    bar.setAttribute("aria-valuemax", String(view.total));
    bar.setAttribute("aria-valuenow", String(done));
    $("#bar-done").style.width = (view.total === 0 ? 100 : (100 * done) / view.total) + "%";
    $("#progress-text").textContent = done + " of " + view.total + " phones ended; " + view.counts.succeeded + " succeeded, " + view.errors + " errors";
    const counts = $("#counts tbody");
    counts.replaceChildren();
    for (const state of STATES) {
      const row = document.createElement("tr");
      row.dataset.countState = state;
      cell(row, state, state);
      cell(row, view.counts[state]);
      counts.appendChild(row);
    }
    const details = $("#details");
    details.replaceChildren();
    const facts = [["name", view.name], ["caller", view.caller], ["bucket", view.bucket_name], ["object path", view.object_path],
      ["created", view.created_at], ["started", view.started_at], ["max concurrency", view.max_concurrency],
      ["max errors", view.max_errors], ["rate", view.rate]];
    for (const [name, value] of facts) {
      if (value === undefined) continue;
      const dt = document.createElement("dt"); dt.textContent = name;
      const dd = document.createElement("dd"); dd.textContent = String(value);
      details.append(dt, dd);
    }
  }

  async function loadPhones(reset) {
    const state = $("#state-filter").value;
    const query = new URLSearchParams({ limit: "200" });
    if (state) query.set("state", state);
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await get("/v1/campaigns/" + encodeURIComponent(id) + "/phones?" + query);
    const body = $("#phones tbody");
    if (reset) body.replaceChildren();
    for (const phone of page.phones) {
      const row = document.createElement("tr");
      row.dataset.phone = phone.phone_id;
      cell(row, phone.index);
      cell(row, phone.phone_id);
      cell(row, phone.state, phone.state);
      cell(row, phone.job_id);
      cell(row, "obs://" + phone.bucket_name + "/" + phone.object_path);
      cell(row, phone.error_code ? phone.error_code + (phone.error_msg ? ": " + phone.error_msg : "") : "");
      body.appendChild(row);
    }
    cursor = page.next_cursor;
    $("#more").hidden = cursor === undefined;
    $("#phones-section").hidden = false;
  }

  async function refresh() {
    clearTimeout(timer);
    if (!key) return askKey();
    try {
      const view = await get("/v1/campaigns/" + encodeURIComponent(id));
      $("#error").hidden = true;
      renderCampaign(view);
      await loadPhones(true);
      document.body.dataset.loaded = "true";
      if (!view.finished_at) timer = setTimeout(refresh, 1500);
      else document.body.dataset.finished = "true";
    } catch (error) {
      showError(error);
      if (error.status !== 401 && error.status !== 404) timer = setTimeout(refresh, 3000);
    }
  }

  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    key = $("#api-key").value;
    sessionStorage.setItem(storageKey, key);
    $("#key-form").hidden = true;
    refresh();
  });
  $("#state-filter").addEventListener("change", () => loadPhones(true).catch(showError));
  $("#more").addEventListener("click", () => loadPhones(false).catch(showError));
  refresh();
})();
`;

/** Mounts the page and its two assets. */
export function mountCampaignPage(app: Hono<GatewayEnv>): void {
  const headers = { "Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache" };
  app.get("/campaigns/assets/campaign.js", (c) => {
    c.var.exchange.route = CAMPAIGN_PAGE_ROUTES.script;
    return c.body(SCRIPT, 200, { ...headers, "Content-Type": "text/javascript; charset=utf-8" });
  });
  app.get("/campaigns/assets/campaign.css", (c) => {
    c.var.exchange.route = CAMPAIGN_PAGE_ROUTES.style;
    return c.body(STYLE, 200, { ...headers, "Content-Type": "text/css; charset=utf-8" });
  });
  app.get("/campaigns/:campaign_id", (c) => {
    c.var.exchange.route = CAMPAIGN_PAGE_ROUTES.page;
    return c.body(HTML, 200, { ...headers, "Content-Type": "text/html; charset=utf-8" });
  });
}
