// The /docs page: an API reference rendered in the browser from /openapi.json, every asset served by the
// gateway itself (no CDN: many company networks reach nothing outside).
import type { Context, Env, Hono } from "hono";
import { renderApiReference } from "./render-api-reference.js";

/** Where the page and its assets live. */
export const DOCS_ROUTES = {
  page: "/docs",
  script: "/docs/docs.js",
  style: "/docs/docs.css",
  openApi: "/openapi.json",
} as const;

/**
 * Only same-origin scripts, styles and fetches: proves, and enforces, that nothing is loaded from
 * elsewhere. The gateway's pages (this one, a campaign's) all answer with it.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cph-gateway API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${DOCS_ROUTES.style}">
<script src="${DOCS_ROUTES.script}" defer></script>
</head>
<body>
<div id="app" data-state="loading"><p class="loading">Loading ${DOCS_ROUTES.openApi}…</p></div>
<noscript><p>This page renders <a href="${DOCS_ROUTES.openApi}">${DOCS_ROUTES.openApi}</a> with JavaScript.</p></noscript>
</body>
</html>
`;

const CSS = `:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Liberation Sans", sans-serif; color: var(--ink); }
#app { display: grid; grid-template-columns: 20rem 1fr; grid-template-areas: "intro intro" "nav main"; max-width: 84rem; margin: 0 auto; }
.intro { grid-area: intro; padding: 1.5rem 2rem 1rem; border-bottom: 1px solid var(--line); }
.intro h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
.version { font-size: .9rem; color: var(--muted); font-weight: normal; border: 1px solid var(--line); border-radius: 1rem; padding: 0 .5rem; }
.routes { grid-area: nav; padding: 1rem; border-right: 1px solid var(--line); position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; }
.routes h2 { font-size: 1rem; margin: 0 0 .5rem; }
.routes ul { list-style: none; margin: 0; padding: 0; }
.routes li a { display: block; padding: .25rem .35rem; border-radius: .3rem; color: var(--ink); text-decoration: none; font-size: .85rem; overflow-wrap: anywhere; }
.routes li a:hover { background: var(--soft); }
main { grid-area: main; padding: 0 2rem 3rem; min-width: 0; }
.operation { padding: 1.25rem 0; border-bottom: 1px solid var(--line); }
.operation h2 { font-size: 1.1rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
.method { display: inline-block; min-width: 3.4rem; text-align: center; font: bold .75rem/1.6 ui-monospace, monospace; color: #fff; border-radius: .3rem; padding: 0 .35rem; background: #6e7781; }
.method-get { background: #1a7f37; } .method-post { background: #0969da; } .method-put, .method-patch { background: #9a6700; } .method-delete { background: #cf222e; }
code { font: .88em ui-monospace, "Liberation Mono", monospace; background: var(--soft); border-radius: .25rem; padding: .05rem .3rem; }
.summary { margin: .2rem 0; }
.operation-id, .source, .description, .constraints { color: var(--muted); font-size: .85rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; } h5 { margin: .5rem 0 .2rem; font-size: .8rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; border: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; }
th { background: var(--soft); }
.required { color: #cf222e; font-size: .75rem; font-weight: 600; }
.type { color: #8250df; font: .85rem ui-monospace, monospace; }
.fields { list-style: none; margin: .25rem 0 .25rem .2rem; padding-left: 1rem; border-left: 2px solid var(--line); }
.field { margin: .2rem 0; }
.field-name { font-weight: 600; }
.media-type { font-size: .75rem; color: var(--muted); }
.response { border: 1px solid var(--line); border-radius: .4rem; padding: .3rem .6rem; margin: .3rem 0; }
.response summary { cursor: pointer; }
.status { font: bold .8rem ui-monospace, monospace; padding: 0 .3rem; border-radius: .25rem; background: var(--soft); }
.status-2xx { color: #1a7f37; } .status-4xx { color: #9a6700; } .status-5xx { color: #cf222e; }
.security, .errors, .schemas { padding: 1.25rem 0; border-bottom: 1px solid var(--line); }
.problem { color: #cf222e; padding: 2rem; }
.loading { padding: 2rem; color: var(--muted); }
@media (max-width: 60rem) { #app { grid-template-columns: 1fr; grid-template-areas: "intro" "nav" "main"; } .routes { position: static; max-height: none; border-right: 0; } }
`;

// The renderer's own source, so the browser runs exactly the code the unit tests run.
const SCRIPT = `"use strict";
const renderApiReference = ${renderApiReference.toString()};
const app = document.getElementById("app");
fetch(${JSON.stringify(DOCS_ROUTES.openApi)}, { headers: { accept: "application/json" } })
  .then((response) => {
    if (!response.ok) throw new Error(${JSON.stringify(DOCS_ROUTES.openApi)} + " answered " + response.status);
    return response.json();
  })
  .then((openApi) => {
    app.innerHTML = renderApiReference(openApi);
    const title = openApi && openApi.info && openApi.info.title;
    if (typeof title === "string") document.title = title + " API reference";
    app.dataset.state = "ready";
    if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
  })
  .catch((error) => {
    app.textContent = "Could not load the API description: " + error.message;
    app.dataset.state = "error";
  });
`;

/**
 * Serves the API reference at `/docs` (HTML), `/docs/docs.js` and `/docs/docs.css`, all from memory. The page
 * fetches `/openapi.json` and renders its routes, parameters and schemas; no authentication, like that document.
 */
export function registerDocsPage<E extends Env>(
  app: Hono<E>,
  /** Notes the route of a request it serves (the gateway labels its logs and metrics with it). */
  label: (c: Context<E>, route: string) => void = () => {},
): void {
  const assets: Array<[string, string, string]> = [
    [DOCS_ROUTES.page, HTML, "text/html; charset=utf-8"],
    [DOCS_ROUTES.script, SCRIPT, "text/javascript; charset=utf-8"],
    [DOCS_ROUTES.style, CSS, "text/css; charset=utf-8"],
  ];
  for (const [path, body, contentType] of assets) {
    app.get(path, (c) => {
      label(c, path);
      return c.body(body, 200, {
        "Content-Type": contentType,
        "Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
      });
    });
  }
}
