// Turns an OpenAPI 3.1 document into the HTML of the /docs page. It runs in the browser: the page's script
// is this function's own source text, so it must stay self-contained (no imports, nothing from module scope).

/**
 * The API reference for an OpenAPI document, as HTML: every route with its parameters, request body and
 * responses (schemas expanded into field trees), the security schemes, the error codes and the schemas.
 * Every value taken from the document is escaped.
 */
export function renderApiReference(input: unknown): string {
  type Json = Record<string, unknown>;
  const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
  const MAX_DEPTH = 12;

  const isObject = (value: unknown): value is Json =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  const asObject = (value: unknown): Json => (isObject(value) ? value : {});
  const text = (value: unknown): string => (typeof value === "string" ? value : "");
  const escapeHtml = (value: unknown): string =>
    String(value)
      .replaceAll("&", "&amp;")
      .replaceAll("<", "&lt;")
      .replaceAll(">", "&gt;")
      .replaceAll('"', "&quot;")
      .replaceAll("'", "&#39;");
  const slug = (value: string): string => value.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");

  const doc = asObject(input);
  if (typeof doc["openapi"] !== "string" || !isObject(doc["paths"])) {
    return '<p class="problem">This is not an OpenAPI document: it has no <code>openapi</code> version or no <code>paths</code>.</p>';
  }
  const info = asObject(doc["info"]);
  const components = asObject(doc["components"]);
  const componentSchemas = asObject(components["schemas"]);

  /** Follows a local `$ref`: `#/components/...` from the document, `#/$defs/...` from the schema it is in. */
  const resolve = (ref: string, root: Json): { schema: Json; name: string } | undefined => {
    if (!ref.startsWith("#/")) return undefined;
    const parts = ref
      .slice(2)
      .split("/")
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
    for (const start of [doc, root]) {
      let node: unknown = start;
      for (const part of parts) node = isObject(node) ? node[part] : undefined;
      if (isObject(node)) return { schema: node, name: parts[parts.length - 1] ?? ref };
    }
    return undefined;
  };

  const typeLabel = (schema: Json, root: Json, depth: number): string => {
    if (depth > MAX_DEPTH) return "…";
    const ref = text(schema["$ref"]);
    if (ref) return resolve(ref, root)?.name ?? ref;
    if ("const" in schema) return `const ${JSON.stringify(schema["const"])}`;
    if (Array.isArray(schema["enum"]))
      return `one of ${schema["enum"].map((v) => JSON.stringify(v)).join(", ")}`;
    for (const key of ["anyOf", "oneOf"]) {
      const options = schema[key];
      if (Array.isArray(options))
        return options.map((o) => typeLabel(asObject(o), root, depth + 1)).join(" | ");
    }
    const allOf = schema["allOf"];
    if (Array.isArray(allOf)) return allOf.map((o) => typeLabel(asObject(o), root, depth + 1)).join(" & ");
    const types = Array.isArray(schema["type"])
      ? schema["type"].map(String)
      : [text(schema["type"]) || "any"];
    return types
      .map((type) =>
        type === "array" && isObject(schema["items"])
          ? `array of ${typeLabel(schema["items"], root, depth + 1)}`
          : type,
      )
      .join(" | ");
  };

  const constraints = (schema: Json): string => {
    const notes: string[] = [];
    const add = (key: string, label: string) => {
      if (schema[key] !== undefined) notes.push(`${label} ${JSON.stringify(schema[key])}`);
    };
    add("format", "format");
    add("pattern", "pattern");
    add("minLength", "min length");
    add("maxLength", "max length");
    add("minimum", "minimum");
    add("maximum", "maximum");
    add("minItems", "min items");
    add("maxItems", "max items");
    add("default", "default");
    if (schema["additionalProperties"] === false) notes.push("no other fields");
    return notes.length === 0
      ? ""
      : ` <span class="constraints">${notes.map((note) => escapeHtml(note)).join("; ")}</span>`;
  };

  /** The object a schema describes fields of, through refs, arrays and nullable unions. */
  const fieldsOf = (
    schema: Json,
    root: Json,
    seen: readonly string[],
    depth: number,
  ): { schema: Json; root: Json; seen: readonly string[] } | undefined => {
    if (depth > MAX_DEPTH) return undefined;
    const ref = text(schema["$ref"]);
    if (ref) {
      if (seen.includes(ref)) return undefined;
      const target = resolve(ref, root);
      return target
        ? fieldsOf(
            target.schema,
            ref.startsWith("#/components/") ? target.schema : root,
            [...seen, ref],
            depth + 1,
          )
        : undefined;
    }
    if (isObject(schema["properties"])) return { schema, root, seen };
    if (isObject(schema["items"])) return fieldsOf(schema["items"], root, seen, depth + 1);
    for (const key of ["anyOf", "oneOf", "allOf"]) {
      const options = schema[key];
      if (!Array.isArray(options)) continue;
      for (const option of options) {
        const found = fieldsOf(asObject(option), root, seen, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };

  const schemaTree = (schema: Json, root: Json, seen: readonly string[], depth: number): string => {
    const target = fieldsOf(schema, root, seen, depth);
    if (!target) return "";
    const properties = asObject(target.schema["properties"]);
    const required = Array.isArray(target.schema["required"]) ? target.schema["required"].map(String) : [];
    const items = Object.entries(properties).map(([name, value]) => {
      const property = asObject(value);
      const description = text(property["description"]);
      return (
        `<li class="field" data-field="${escapeHtml(name)}"><code class="field-name">${escapeHtml(name)}</code> ` +
        `<span class="type">${escapeHtml(typeLabel(property, target.root, depth + 1))}</span>` +
        (required.includes(name) ? ' <span class="required">required</span>' : "") +
        constraints(property) +
        (description ? `<div class="description">${escapeHtml(description)}</div>` : "") +
        schemaTree(property, target.root, target.seen, depth + 1) +
        "</li>"
      );
    });
    return items.length === 0 ? "" : `<ul class="fields">${items.join("")}</ul>`;
  };

  const schemaBlock = (schema: unknown, root: Json): string => {
    const value = asObject(schema);
    const ref = text(value["$ref"]);
    const label = typeLabel(value, root, 0);
    const heading = ref
      ? `<a class="type" href="#schema-${escapeHtml(slug(label))}">${escapeHtml(label)}</a>`
      : `<span class="type">${escapeHtml(label)}</span>`;
    const description = text(value["description"]);
    return (
      `<div class="schema">${heading}${constraints(value)}` +
      (description ? `<div class="description">${escapeHtml(description)}</div>` : "") +
      `${schemaTree(value, root, [], 0)}</div>`
    );
  };

  const contentBlock = (content: unknown): string =>
    Object.entries(asObject(content))
      .map(
        ([mediaType, media]) =>
          `<div class="media"><span class="media-type">${escapeHtml(mediaType)}</span>` +
          `${schemaBlock(asObject(media)["schema"], doc)}</div>`,
      )
      .join("");

  const parameterRows = (parameters: unknown[]): string =>
    parameters
      .map((value) => {
        let parameter = asObject(value);
        const ref = text(parameter["$ref"]);
        if (ref) parameter = resolve(ref, doc)?.schema ?? parameter;
        const schema = asObject(parameter["schema"]);
        return (
          `<tr data-parameter="${escapeHtml(text(parameter["name"]))}">` +
          `<td><code>${escapeHtml(text(parameter["name"]))}</code></td>` +
          `<td>${escapeHtml(text(parameter["in"]))}</td>` +
          `<td><span class="type">${escapeHtml(typeLabel(schema, doc, 0))}</span>${constraints(schema)}</td>` +
          `<td>${parameter["required"] === true ? '<span class="required">required</span>' : "optional"}</td>` +
          `<td>${escapeHtml(text(parameter["description"]))}</td></tr>`
        );
      })
      .join("");

  const operations: { method: string; path: string; operation: Json; shared: unknown[] }[] = [];
  for (const [path, value] of Object.entries(asObject(doc["paths"]))) {
    const item = asObject(value);
    const shared = Array.isArray(item["parameters"]) ? item["parameters"] : [];
    for (const method of METHODS) {
      if (isObject(item[method])) operations.push({ method, path, operation: item[method], shared });
    }
  }
  const operationId = (entry: (typeof operations)[number]): string =>
    `op-${slug(text(entry.operation["operationId"]) || `${entry.method}-${entry.path}`)}`;

  const navigation = operations
    .map(
      (entry) =>
        `<li><a href="#${escapeHtml(operationId(entry))}"><span class="method method-${entry.method}">${entry.method.toUpperCase()}</span> ` +
        `<code>${escapeHtml(entry.path)}</code></a></li>`,
    )
    .join("");

  const operationSections = operations
    .map((entry) => {
      const { method, path, operation } = entry;
      const parameters = [
        ...entry.shared,
        ...(Array.isArray(operation["parameters"]) ? operation["parameters"] : []),
      ];
      const requestBody = asObject(operation["requestBody"]);
      const security = operation["security"];
      const responses = Object.entries(asObject(operation["responses"]))
        .map(([status, value]) => {
          const response = asObject(value);
          const headers = Object.entries(asObject(response["headers"]))
            .map(
              ([name, header]) =>
                `<li><code>${escapeHtml(name)}</code> ${escapeHtml(text(asObject(header)["description"]))}</li>`,
            )
            .join("");
          const body = contentBlock(response["content"]);
          return (
            `<details class="response" data-status="${escapeHtml(status)}"${status.startsWith("2") ? " open" : ""}>` +
            `<summary><span class="status status-${escapeHtml(status.charAt(0))}xx">${escapeHtml(status)}</span> ` +
            `${escapeHtml(text(response["description"]))}</summary>` +
            (headers ? `<h5>Headers</h5><ul class="headers">${headers}</ul>` : "") +
            body +
            "</details>"
          );
        })
        .join("");
      return (
        `<section class="operation" id="${escapeHtml(operationId(entry))}" data-route="${escapeHtml(`${method.toUpperCase()} ${path}`)}">` +
        `<h2><span class="method method-${method}">${method.toUpperCase()}</span> <code class="path">${escapeHtml(path)}</code></h2>` +
        (text(operation["summary"])
          ? `<p class="summary">${escapeHtml(text(operation["summary"]))}</p>`
          : "") +
        (text(operation["description"]) ? `<p>${escapeHtml(text(operation["description"]))}</p>` : "") +
        (text(operation["operationId"])
          ? `<p class="operation-id">Operation <code>${escapeHtml(text(operation["operationId"]))}</code>` +
            (Array.isArray(security) && security.length === 0 ? " · no authentication" : "") +
            "</p>"
          : "") +
        (parameters.length > 0
          ? '<h3>Parameters</h3><table class="parameters"><thead><tr><th>Name</th><th>In</th><th>Type</th>' +
            `<th>Required</th><th>Description</th></tr></thead><tbody>${parameterRows(parameters)}</tbody></table>`
          : "") +
        (Object.keys(requestBody).length > 0
          ? `<h3>Request body${requestBody["required"] === true ? ' <span class="required">required</span>' : ""}</h3>` +
            `<div class="request-body">${contentBlock(requestBody["content"])}</div>`
          : "") +
        (responses ? `<h3>Responses</h3>${responses}` : "") +
        "</section>"
      );
    })
    .join("");

  const securitySchemes = Object.entries(asObject(components["securitySchemes"]))
    .map(([name, value]) => {
      const scheme = asObject(value);
      const how =
        text(scheme["type"]) === "http"
          ? `HTTP ${text(scheme["scheme"])}`
          : `${text(scheme["type"])} in ${text(scheme["in"])} ${text(scheme["name"])}`;
      return `<li><code>${escapeHtml(name)}</code> (${escapeHtml(how)}): ${escapeHtml(text(scheme["description"]))}</li>`;
    })
    .join("");

  const errorCodes = Object.entries(asObject(doc["x-cphgw-error-codes"]))
    .map(([code, value]) => {
      const entry = asObject(value);
      return (
        `<tr data-error-code="${escapeHtml(code)}"><td><code>${escapeHtml(code)}</code></td>` +
        `<td>${escapeHtml(String(entry["status"] ?? ""))}</td><td>${escapeHtml(text(entry["summary"]))}</td></tr>`
      );
    })
    .join("");

  const schemaSections = Object.entries(componentSchemas)
    .map(
      ([name, schema]) =>
        `<section class="component" id="schema-${escapeHtml(slug(name))}"><h3>${escapeHtml(name)}</h3>` +
        `<div class="schema">${constraints(asObject(schema))}${schemaTree(asObject(schema), asObject(schema), [], 0)}</div></section>`,
    )
    .join("");

  const servers = Array.isArray(doc["servers"])
    ? doc["servers"].map((server) => `<code>${escapeHtml(text(asObject(server)["url"]))}</code>`).join(", ")
    : "";

  return (
    `<header class="intro"><h1>${escapeHtml(text(info["title"]) || "API")} ` +
    `<span class="version">${escapeHtml(text(info["version"]))}</span></h1>` +
    (text(info["description"]) ? `<p>${escapeHtml(text(info["description"]))}</p>` : "") +
    (servers ? `<p>Servers: ${servers}</p>` : "") +
    `<p class="source">Rendered from <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(text(doc["openapi"]))}).</p></header>` +
    `<nav class="routes" aria-label="Routes"><h2>Routes</h2><ul>${navigation}</ul></nav>` +
    `<main>${operationSections}` +
    (securitySchemes
      ? `<section class="security" id="authentication"><h2>Authentication</h2><ul>${securitySchemes}</ul></section>`
      : "") +
    (errorCodes
      ? '<section class="errors" id="error-codes"><h2>Error codes</h2><table><thead><tr><th>Code</th><th>HTTP</th>' +
        `<th>Meaning</th></tr></thead><tbody>${errorCodes}</tbody></table></section>`
      : "") +
    (schemaSections
      ? `<section class="schemas" id="schemas"><h2>Schemas</h2>${schemaSections}</section>`
      : "") +
    "</main>"
  );
}
