import { validateBucketName, validateDevicePath } from "@cph-export/core";
import { usageError } from "./errors.js";

/** Checks the values of `--bucket`, `--include` and `--exclude` with core's rules, before any input is read. */
export function checkFlagValues(options: {
  bucket?: string | undefined;
  include: readonly string[];
  exclude: readonly string[];
}): void {
  if (options.bucket !== undefined) {
    const issue = validateBucketName(options.bucket)[0];
    if (issue) throw usageError(`--bucket: ${issue.message}.`);
  }
  for (const [flag, paths] of [
    ["--include", options.include],
    ["--exclude", options.exclude],
  ] as const) {
    for (const path of paths) {
      const issue = validateDevicePath(path)[0];
      if (issue) throw usageError(`${flag}: ${issue.message}.`);
    }
  }
}
