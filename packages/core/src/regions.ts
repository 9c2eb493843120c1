import { CphValidationError } from "./errors.js";

export interface Region {
  id: string;
  name: string;
  endpoint: string;
  iamEndpoint: string;
}

const REGION_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["cn-north-4", "CN North-Beijing4"],
  ["cn-north-9", "CN North-Ulanqab1"],
  ["cn-east-2", "CN East-Shanghai2"],
  ["cn-east-3", "CN East-Shanghai1"],
  ["cn-east-4", "CN East2"],
  ["cn-south-1", "CN South-Guangzhou"],
  ["cn-southwest-2", "CN Southwest-Guiyang1"],
  ["ap-southeast-1", "CN-Hong Kong"],
  ["ap-southeast-3", "AP-Singapore"],
  ["la-south-2", "LA-Santiago"],
  ["la-north-2", "LA-Mexico City2"],
  ["ru-northwest-2", "RU-Moscow2"],
  ["af-north-1", "AF-Cairo"],
];

/** Regions where CPH is offered, with their CPH and IAM endpoints. */
export const REGIONS: readonly Region[] = REGION_NAMES.map(([id, name]) => ({
  id,
  name,
  endpoint: `https://cph.${id}.myhuaweicloud.com`,
  iamEndpoint: `https://iam.${id}.myhuaweicloud.com`,
}));

export const GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com";

export function findRegion(id: string): Region | undefined {
  return REGIONS.find((region) => region.id === id);
}

function normalizeEndpoint(endpoint: string, what: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid(
      what,
      `the ${what} is not a URL; give one such as https://cph.cn-north-4.myhuaweicloud.com`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(what, `the ${what} must use http or https, not ${url.protocol.slice(0, 20)}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    // Named without its credentials, query or fragment: those may hold secrets.
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    throw invalid(
      what,
      `the ${what} ${shown} must not carry credentials, a query or a fragment; give only scheme, host and path`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

function invalid(path: string, message: string): CphValidationError {
  return new CphValidationError([{ code: "invalid_type", path, message, severity: "error" }]);
}

/** The CPH base URL: an explicit endpoint wins; otherwise the region's. */
export function resolveEndpoint(options: {
  region?: string | undefined;
  endpoint?: string | undefined;
}): string {
  if (options.endpoint) return normalizeEndpoint(options.endpoint, "endpoint");
  if (!options.region) throw invalid("region", "give a region (e.g. cn-north-4) or an endpoint");
  const region = findRegion(options.region);
  if (!region) {
    throw invalid(
      "region",
      `unknown region "${options.region}"; known: ${REGIONS.map((r) => r.id).join(", ")} (or give an endpoint)`,
    );
  }
  return region.endpoint;
}

/** The IAM base URL: explicit, else the region's, else the global one. */
export function resolveIamEndpoint(options: {
  region?: string | undefined;
  iamEndpoint?: string | undefined;
}): string {
  if (options.iamEndpoint) return normalizeEndpoint(options.iamEndpoint, "iamEndpoint");
  const region = options.region ? findRegion(options.region) : undefined;
  return region ? region.iamEndpoint : GLOBAL_IAM_ENDPOINT;
}
