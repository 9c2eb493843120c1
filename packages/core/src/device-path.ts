import { IssueCollector, type ValidationIssue } from "./issues.js";
import { DEFAULT_ALLOWED_ROOTS, LIMITS } from "./limits.js";
import { utf8Length } from "./bytes.js";

/** Characters CPH accepts in device paths (`~` since late 2025, `*` since 2024). */
const DEVICE_PATH_CHARSET = /^[A-Za-z0-9./\-_+#*~=]*$/;
/** The common case in one test: allowed characters, and `*` at most once, at the end. */
const DEVICE_PATH_SHAPE = /^\/[A-Za-z0-9./\-_+#~=]*\*?$/;
/** A `.` or `..` segment anywhere, or a last segment `..*`, whose wildcard would also take `..`. */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)|\/\.\.\*$/;

export interface DevicePathOptions {
  /** Directories exports may read from; default `/data` and `/cache`. */
  allowedRoots?: readonly string[];
}

/** Allowed roots prepared once per validation: `base` itself or anything under `prefix`. */
export interface CompiledRoots {
  readonly bases: readonly string[];
  readonly prefixes: readonly string[];
  readonly label: string;
}

export function compileRoots(roots: readonly string[] = DEFAULT_ALLOWED_ROOTS): CompiledRoots {
  const bases = roots.map((root) => (root.endsWith("/") ? root.slice(0, -1) : root));
  return { bases, prefixes: bases.map((base) => `${base}/`), label: roots.join(" or ") };
}

const DEFAULT_ROOTS = compileRoots(DEFAULT_ALLOWED_ROOTS);

export function rootsFor(options: DevicePathOptions): CompiledRoots {
  return options.allowedRoots === undefined ? DEFAULT_ROOTS : compileRoots(options.allowedRoots);
}

/**
 * True when the path has no issue at all: the one test the common case needs. The charset is
 * ASCII, so a path of the right shape has as many bytes as characters.
 */
export function isAcceptedDevicePath(value: string, roots: CompiledRoots): boolean {
  return (
    value.length <= LIMITS.devicePathMaxBytes &&
    DEVICE_PATH_SHAPE.test(value) &&
    // Every dot segment of an absolute path follows a slash: most paths skip the regex.
    !(value.includes("/.") && DOT_SEGMENT.test(value)) &&
    isInsideRoots(value, roots)
  );
}

/**
 * Checks one include or exclude path: absolute, allowed characters, at most 4096 UTF-8 bytes,
 * `*` only last, no `.`/`..` segment, and inside an allowed root.
 */
export function checkDevicePath(
  value: string,
  path: string,
  collector: IssueCollector,
  roots: CompiledRoots,
): void {
  if (isAcceptedDevicePath(value, roots)) return;
  if (value.length === 0) {
    collector.error("path_empty", path, "the path is empty; give an absolute path such as /data/app");
    return;
  }
  if (!value.startsWith("/")) {
    collector.error(
      "path_not_absolute",
      path,
      `${quote(value)} is not absolute; it must start with ${roots.label}`,
    );
  }
  if (!DEVICE_PATH_CHARSET.test(value)) {
    collector.error(
      "path_charset",
      path,
      `${quote(value)} contains ${describeBadChars(value, DEVICE_PATH_CHARSET)}; only letters, digits and . / - _ + # * ~ = are allowed`,
    );
  }
  const bytes = utf8Length(value);
  if (bytes > LIMITS.devicePathMaxBytes) {
    collector.error(
      "path_too_long",
      path,
      `the path is ${bytes} bytes long (UTF-8); at most ${LIMITS.devicePathMaxBytes} bytes are allowed`,
    );
  }
  const star = value.indexOf("*");
  if (star !== -1 && star !== value.length - 1) {
    collector.error(
      "path_wildcard_position",
      path,
      `${quote(value)} has a * that is not the last character; * may only end a path`,
    );
  }
  if (DOT_SEGMENT.test(value)) {
    collector.error(
      "path_dot_segment",
      path,
      `${quote(value)} has a . or .. segment (or ends in ..*, which would take ..); write the path without them`,
    );
    return;
  }
  if (value.startsWith("/") && !isInsideRoots(value, roots)) {
    collector.error(
      "path_outside_roots",
      path,
      `${quote(value)} is outside ${roots.label}; only paths under those can be exported`,
    );
  }
}

/** Validates a single device path; returns its issues (empty when valid). */
export function validateDevicePath(value: string, options: DevicePathOptions = {}): ValidationIssue[] {
  const collector = new IssueCollector();
  checkDevicePath(value, "", collector, rootsFor(options));
  return collector.errors;
}

/**
 * The root itself or anything below it. A trailing `*` needs the root's slash before it, since
 * `/data*` would also match `/data2`: `value.startsWith("/data/")` is false for `/data*`.
 */
function isInsideRoots(value: string, roots: CompiledRoots): boolean {
  const wildcard = value.endsWith("*");
  for (let index = 0; index < roots.prefixes.length; index++) {
    if (value.startsWith(roots.prefixes[index]!)) return true;
    if (!wildcard && value === roots.bases[index]) return true;
  }
  return false;
}

function describeChar(char: string): string {
  if (char === " ") return "a space";
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `a control character (U+${hex4(code)})`;
  if (code >= 0xd800 && code <= 0xdfff) return `an unpaired surrogate (U+${hex4(code)})`;
  return `"${char}"`;
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}

/** The distinct characters of `value` that `charset` refuses, described for a person. */
export function describeBadChars(value: string, charset: RegExp): string {
  const bad = [...new Set([...value].filter((char) => !charset.test(char)))];
  const shown = bad.slice(0, 5).map(describeChar).join(", ");
  return bad.length > 5 ? `${shown} and ${bad.length - 5} more` : shown;
}

/** A value quoted for a message, shortened so that a 4 KB path does not flood the output. */
export function quote(value: string): string {
  return value.length <= 80
    ? `"${value}"`
    : `"${value.slice(0, 60)}…${value.slice(-16)}" (${value.length} characters)`;
}

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
