import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createOpenApiDocument } from "../openapi.js";
import { DOCS_ROUTES, registerDocsPage } from "./register-docs-page.js";
import { renderApiReference } from "./render-api-reference.js";

/** The element names the renderer writes; anything else in its output came from the document. */
const OWN_TAGS = new Set(
  "header h1 h2 h3 h5 span p a code nav ul li main section table thead tbody tr th td details summary div".split(
    " ",
  ),
);

const OWN_ATTRIBUTES = new Set(
  "class href id open aria-label data-route data-field data-parameter data-status data-error-code".split(" "),
);

/** Every attribute name of every opening tag; fails on a tag that is not `<name attr="value" ...>`. */
function attributesIn(html: string): string[] {
  const names: string[] = [];
  for (const match of html.matchAll(/<(?!\/)[^>]*>/g)) {
    const tag = match[0];
    expect(tag, "a well-formed opening tag").toMatch(/^<[a-z0-9]+(\s+[a-z-]+(="[^"<>]*")?)*>$/);
    // Walk the attributes one by one, so that text inside a quoted value is never read as an attribute.
    const attribute = /\s+([a-z-]+)(?:="[^"]*")?/y;
    attribute.lastIndex = (/^<[a-z0-9]+/.exec(tag)?.[0] ?? "").length;
    for (let found = attribute.exec(tag); found; found = attribute.exec(tag)) names.push(found[1] ?? "");
  }
  return names;
}

function tagsIn(html: string): string[] {
  return [...html.matchAll(/<\/?([A-Za-z][A-Za-z0-9-]*)/g)].map((match) => (match[1] ?? "").toLowerCase());
}

/** The HTML of the operation section for one route. */
function section(html: string, route: string): string {
  const start = html.indexOf(`data-route="${route}"`);
  expect(start, `no section for ${route}`).toBeGreaterThan(-1);
  const end = html.indexOf("</section>", start);
  return html.slice(start, end);
}

describe("renderApiReference on the gateway's own OpenAPI document", () => {
  const html = renderApiReference(createOpenApiDocument());

  it("lists every route of the document, in the navigation and as a section", () => {
    for (const route of [
      "POST /v1/{project_id}/cloud-phone/phones/batch-storage",
      "GET /v1/{project_id}/cloud-phone/jobs/{job_id}",
      "GET /v1/{project_id}/cloud-phone/jobs",
      "GET /healthz",
      "GET /readyz",
      "GET /metrics",
    ]) {
      expect(html).toContain(`data-route="${route}"`);
    }
    expect(html).toContain('<a href="#op-BatchExportCloudPhoneData">');
  });

  it("expands the batch-storage request body into its fields, with what is required", () => {
    const batch = section(html, "POST /v1/{project_id}/cloud-phone/phones/batch-storage");
    const body = batch.slice(
      batch.indexOf('<div class="request-body">'),
      batch.indexOf("<h3>Responses</h3>"),
    );
    expect(body).toContain('<a class="type" href="#schema-BatchExportRequest">BatchExportRequest</a>');
    for (const field of [
      "storage_infos",
      "phone_id",
      "include_files",
      "exclude_files",
      "bucket_name",
      "object_path",
    ]) {
      expect(body).toContain(`data-field="${field}"`);
    }
    expect(body).toMatch(
      /data-field="phone_id"><code class="field-name">phone_id<\/code> <span class="type">string<\/span> <span class="required">required<\/span>/,
    );
    expect(body).toMatch(/data-field="exclude_files">.*?array of string<\/span>(?! <span class="required">)/);
    expect(body).toContain("array of object");
  });

  it("shows parameters with where they go, and responses with their statuses", () => {
    const batch = section(html, "POST /v1/{project_id}/cloud-phone/phones/batch-storage");
    expect(batch).toMatch(/data-parameter="project_id"><td><code>project_id<\/code><\/td><td>path<\/td>/);
    expect(batch).toMatch(
      /data-parameter="Idempotency-Key"><td><code>Idempotency-Key<\/code><\/td><td>header<\/td>/,
    );
    for (const status of ["200", "400", "401", "403", "409", "413", "422", "429", "502"]) {
      expect(batch).toContain(`data-status="${status}"`);
    }
    const listJobs = section(html, "GET /v1/{project_id}/cloud-phone/jobs");
    expect(listJobs).toContain('data-parameter="request_ids"');
  });

  it("lists the CPHGW error codes and the security schemes", () => {
    expect(html).toMatch(/data-error-code="CPHGW\.4001"><td><code>CPHGW\.4001<\/code><\/td><td>400<\/td>/);
    expect(html).toContain("<code>bearerApiKey</code> (HTTP bearer)");
    expect(html).toContain("<code>sdkHmacSha256</code> (apiKey in header Authorization)");
  });

  it("writes only its own elements", () => {
    expect(tagsIn(html).filter((tag) => !OWN_TAGS.has(tag))).toEqual([]);
  });
});

describe("renderApiReference on documents it did not write", () => {
  const hostile = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</code></section><iframe src=//evil>",
    "&lt;already escaped&gt;",
  ];

  it.each(hostile)("escapes %j wherever the document puts it", (value) => {
    const html = renderApiReference({
      openapi: "3.1.0",
      info: { title: value, version: value, description: value },
      servers: [{ url: value }],
      paths: {
        [`/things/${value}`]: {
          get: {
            operationId: value,
            summary: value,
            parameters: [
              { name: value, in: "query", description: value, schema: { type: "string", pattern: value } },
            ],
            responses: {
              [value]: {
                description: value,
                headers: { [value]: { description: value } },
                content: {
                  [value]: {
                    schema: {
                      type: "object",
                      required: [value],
                      properties: { [value]: { type: value, description: value, enum: [value] } },
                    },
                  },
                },
              },
            },
          },
        },
      },
      components: { securitySchemes: { [value]: { type: "http", scheme: value, description: value } } },
      "x-cphgw-error-codes": { [value]: { status: value, summary: value } },
    });
    expect(tagsIn(html).filter((tag) => !OWN_TAGS.has(tag))).toEqual([]);
    expect(html).not.toContain(value.includes("<") || value.includes('"') ? value : "\u0000");
    expect(attributesIn(html).filter((name) => !OWN_ATTRIBUTES.has(name))).toEqual([]);
  });

  it("says so when the input is not an OpenAPI document", () => {
    expect(renderApiReference({ swagger: "2.0" })).toContain("This is not an OpenAPI document");
    expect(renderApiReference(null)).toContain("This is not an OpenAPI document");
  });

  it("stops at a schema that refers to itself", () => {
    const html = renderApiReference({
      openapi: "3.1.0",
      paths: {
        "/tree": {
          post: {
            requestBody: {
              content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } },
            },
            responses: {},
          },
        },
      },
      components: {
        schemas: {
          Node: {
            type: "object",
            properties: {
              name: { type: "string" },
              children: { type: "array", items: { $ref: "#/components/schemas/Node" } },
            },
          },
        },
      },
    });
    const body = section(html, "POST /tree");
    expect(body.match(/data-field="children"/g)).toHaveLength(1);
    expect(body).toContain("array of Node");
  });
});

describe("registerDocsPage", () => {
  const app = new Hono<{ Variables: { route: string } }>();
  const routes: string[] = [];
  app.use(async (c, next) => {
    await next();
    routes.push(c.get("route"));
  });
  registerDocsPage(app, (c, route) => c.set("route", route));

  it.each([
    [DOCS_ROUTES.page, "text/html; charset=utf-8"],
    [DOCS_ROUTES.script, "text/javascript; charset=utf-8"],
    [DOCS_ROUTES.style, "text/css; charset=utf-8"],
  ])("serves %s from memory with a same-origin-only policy", async (path, contentType) => {
    const response = await app.request(path);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(contentType);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(routes.at(-1)).toBe(path);
    expect(await response.text()).not.toMatch(/https?:\/\//);
  });

  it("links the page to its local assets and ships the renderer as the script", async () => {
    const page = await (await app.request(DOCS_ROUTES.page)).text();
    expect(page).toContain(`<script src="${DOCS_ROUTES.script}" defer></script>`);
    expect(page).toContain(`<link rel="stylesheet" href="${DOCS_ROUTES.style}">`);
    const script = await (await app.request(DOCS_ROUTES.script)).text();
    expect(script).toContain("const renderApiReference = function renderApiReference(");
    expect(script).toContain('fetch("/openapi.json"');
    expect(() => new Function(script)).not.toThrow();
  });
});
