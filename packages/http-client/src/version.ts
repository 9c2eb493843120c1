import { createRequire } from "node:module";

// Read from package.json (one level above both src/ and dist/) so a version bump needs no code change.
const manifest = createRequire(import.meta.url)("../package.json") as { version: string };

/** The version of `@cph-export/http-client`. */
export const VERSION: string = manifest.version;

/** The `User-Agent` sent unless `userAgent` is given: `cph-export/<version>`. */
export const DEFAULT_USER_AGENT = `cph-export/${VERSION}`;
