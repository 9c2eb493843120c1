import type { ResolvedConfig } from "./config.js";
import { usageError } from "./errors.js";
import type { ArchiveLookup } from "./verify-archives.js";

/** How the CLI reaches OBS: the endpoint, path-style addressing, and the keys that sign. */
export interface ObsSettings {
  region: string;
  endpoint: string;
  forcePathStyle: boolean;
  accessKey: string;
  secretKey: string;
  securityToken?: string | undefined;
}

export type ObsFactory = (settings: ObsSettings) => ArchiveLookup | Promise<ArchiveLookup>;

type Env = Readonly<Record<string, string | undefined>>;

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());

/** A loopback or IP address has no bucket subdomains: path-style is the only way to reach it. */
function needsPathStyle(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":");
}

/**
 * OBS settings from flags > environment (`CPH_OBS_ENDPOINT`, `CPH_OBS_PATH_STYLE`) > the region
 * (`https://obs.{region}.myhuaweicloud.com`). OBS signs with an access key: a token or an IAM
 * password cannot read it, and that is said before anything is sent.
 */
export function obsSettings(
  config: ResolvedConfig,
  flags: { obsEndpoint?: string | undefined; obsPathStyle?: boolean | undefined },
  env: Env,
): ObsSettings {
  const credentials = config.credentials;
  if (credentials?.type !== "aksk") {
    throw usageError(
      "reading OBS needs an access key: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (with HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys); a token or an IAM password cannot sign OBS requests.",
    );
  }
  const given = flags.obsEndpoint ?? env["CPH_OBS_ENDPOINT"]?.trim();
  const region = config.region ?? "";
  if (!given && !region) {
    throw usageError("no OBS endpoint: give --obs-endpoint or --region, or set CPH_OBS_ENDPOINT.");
  }
  const endpoint = given || `https://obs.${region}.myhuaweicloud.com`;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    throw usageError(`--obs-endpoint must be an http(s) URL, not "${endpoint}"`);
  }
  const forcePathStyle =
    flags.obsPathStyle === true || truthy(env["CPH_OBS_PATH_STYLE"]) || needsPathStyle(endpoint);
  const settings: ObsSettings = {
    // The S3 client wants a region for SigV4; OBS accepts the CPH region's name.
    region: region || "us-east-1",
    endpoint,
    forcePathStyle,
    accessKey: credentials.accessKey,
    secretKey: credentials.secretKey,
  };
  if (credentials.securityToken) settings.securityToken = credentials.securityToken;
  return settings;
}

/** `@cph-export/obs`, loaded only by the commands that read OBS (the S3 SDK is large). */
export const defaultObsFactory: ObsFactory = async (settings) => {
  const module = (await import("@cph-export/obs")) as {
    createObsReader: (options: {
      region: string;
      endpoint?: string;
      accessKey: string;
      secretKey: string;
      securityToken?: string;
      forcePathStyle?: boolean;
    }) => ArchiveLookup;
  };
  const options: Parameters<typeof module.createObsReader>[0] = {
    region: settings.region,
    endpoint: settings.endpoint,
    accessKey: settings.accessKey,
    secretKey: settings.secretKey,
    forcePathStyle: settings.forcePathStyle,
  };
  if (settings.securityToken) options.securityToken = settings.securityToken;
  return module.createObsReader(options);
};
