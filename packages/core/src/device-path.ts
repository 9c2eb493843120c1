import { IssueCollector, type ValidationIssue } from "./issues.js";
import { DEFAULT_ALLOWED_ROOTS, LIMITS } from "./limits.js";
import { utf8Length } from "./bytes.js";

/** Characters CPH accepts in device paths (`~` since late 2025, `*` since 2024). */
const DEVICE_PATH_CHARSET = /^[A-Za-z0-9./\-_+#*~=]*$/;

export interface DevicePathOptions {
  /** Directories exports may read from; default `/data` and `/cache`. */
  allowedRoots?: readonly string[];
}

/**
 * Checks one include or exclude path: absolute, allowed characters, at most 4096 UTF-8 bytes,
 * `*` only last, no `.`/`..` segment, and inside an allowed root.
 */
export function checkDevicePath(
  value: string,
  path: string,
  collector: IssueCollector,
  options: DevicePathOptions = {},
): void {
  if (value.length === 0) {
    collector.error("path_empty", path, "the path is empty; give an absolute path such as /data/app");
    return;
  }
  if (!value.startsWith("/")) {
    collector.error("path_not_absolute", path, `"${value}" is not absolute; it must start with /data or /cache`);
  }
  if (!DEVICE_PATH_CHARSET.test(value)) {
    const bad = [...new Set([...value].filter((char) => !DEVICE_PATH_CHARSET.test(char)))];
    collector.error(
      "path_charset",
      path,
      `"${value}" contains ${bad.map(describeChar).join(", ")}; only letters, digits and . / - _ + # * ~ = are allowed`,
    );
  }
  const bytes = utf8Length(value);
  if (bytes > LIMITS.devicePathMaxBytes) {
    collector.error(
      "path_too_long",
      path,
      `the path is ${bytes} bytes long; at most ${LIMITS.devicePathMaxBytes} bytes are allowed`,
    );
  }
  const star = value.indexOf("*");
  if (star !== -1 && star !== value.length - 1) {
    collector.error("path_wildcard_position", path, `"${value}" has a * that is not the last character`);
  }
  const segments = value.split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    collector.error("path_dot_segment", path, `"${value}" has a . or .. segment; write the path without them`);
    return;
  }
  if (value.startsWith("/") && !isInsideRoots(value, options.allowedRoots ?? DEFAULT_ALLOWED_ROOTS)) {
    const roots = (options.allowedRoots ?? DEFAULT_ALLOWED_ROOTS).join(" or ");
    collector.error("path_outside_roots", path, `"${value}" is outside ${roots}; only those can be exported`);
  }
}

/** Validates a single device path; returns its issues (empty when valid). */
export function validateDevicePath(value: string, options: DevicePathOptions = {}): ValidationIssue[] {
  const collector = new IssueCollector();
  checkDevicePath(value, "", collector, options);
  return collector.errors;
}

function isInsideRoots(value: string, roots: readonly string[]): boolean {
  const wildcard = value.endsWith("*");
  const literal = wildcard ? value.slice(0, -1) : value;
  return roots.some((root) => {
    const base = root.endsWith("/") ? root.slice(0, -1) : root;
    // A trailing * on the root itself (`/data*`) would also match `/data2`, so it needs the slash.
    if (wildcard) return literal.startsWith(`${base}/`);
    return literal === base || literal.startsWith(`${base}/`);
  });
}

function describeChar(char: string): string {
  if (char === " ") return "a space";
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
  return `"${char}"`;
}

export { describeChar };

interface CompiledPattern {
  prefix: string;
  /** `*` pattern: any path starting with prefix. Otherwise the path itself or anything below it. */
  wildcard: boolean;
}

function compilePattern(pattern: string): CompiledPattern {
  if (pattern.endsWith("*")) return { prefix: pattern.slice(0, -1), wildcard: true };
  const trimmed = pattern.length > 1 && pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  return { prefix: trimmed, wildcard: false };
}

function matches(file: string, pattern: CompiledPattern): boolean {
  if (pattern.wildcard) return file.startsWith(pattern.prefix);
  if (file === pattern.prefix) return true;
  const directory = pattern.prefix.endsWith("/") ? pattern.prefix : `${pattern.prefix}/`;
  return file.startsWith(directory);
}

/**
 * The device files an export would take: a file is taken when an include pattern matches it
 * (the path itself, anything below it as a directory, or any path starting with the part before
 * a trailing `*`) and no exclude pattern does (exclude wins).
 *
 * @example matchExportPaths(["/data/a/1", "/data/b/2"], ["/data"], ["/data/b"]) // ["/data/a/1"]
 */
export function matchExportPaths(
  files: Iterable<string>,
  include: readonly string[],
  exclude: readonly string[] = [],
): string[] {
  const includes = include.map(compilePattern);
  const excludes = exclude.map(compilePattern);
  const taken: string[] = [];
  for (const file of files) {
    if (!includes.some((pattern) => matches(file, pattern))) continue;
    if (excludes.some((pattern) => matches(file, pattern))) continue;
    taken.push(file);
  }
  return taken;
}
