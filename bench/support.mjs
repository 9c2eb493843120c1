// Helpers shared by the benchmarks (not a benchmark itself: run.mjs runs *.bench.mjs only). It
// loads nothing of the workspace up front: the bare proxy of the gateway benchmark imports it too.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The median (the mean of the two middle values for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Imports `name` as `packageName` resolves it: hono, its node adapter and undici are dependencies
 * of the workspace packages, not of the root.
 */
export async function importFrom(packageName, name) {
  const packageDir = dirname(fileURLToPath(import.meta.resolve(`${packageName}/package.json`)));
  const manifestPath = join(packageDir, "node_modules", name, "package.json");
  const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
  const entry = manifest.exports?.["."];
  const file =
    typeof entry === "object"
      ? (entry.import ?? entry.node ?? entry.default)
      : (entry ?? manifest.main ?? "index.js");
  return import(
    pathToFileURL(join(dirname(manifestPath), typeof file === "object" ? file.default : file)).href
  );
}

/** An IAM token for the emulator's demo user, fetched once before a load is measured. */
export async function demoToken(emulatorUrl) {
  const { buildIamTokenRequest } = await import("@cph-export/core");
  const { DEMO_CREDENTIALS } = await import("@cph-export/emulator");
  const request = buildIamTokenRequest({
    iamEndpoint: emulatorUrl,
    domainName: DEMO_CREDENTIALS.domainName,
    userName: DEMO_CREDENTIALS.userName,
    password: DEMO_CREDENTIALS.password,
    project: { id: DEMO_CREDENTIALS.projectId },
  });
  const response = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
  const token = response.headers.get("x-subject-token");
  if (response.status !== 201 || !token)
    throw new Error(`no IAM token from the emulator (HTTP ${response.status})`);
  return token;
}
