import { utf8Length } from "./bytes.js";
import { describeBadChars, quote } from "./device-path.js";
import { IssueCollector, type ValidationIssue } from "./issues.js";
import { LIMITS } from "./limits.js";

const BUCKET_CHARSET = /^[a-z0-9.-]*$/;
/** Alphanumeric at both ends, and no `..`, `.-` or `-.` (a `-` may follow a `-`). */
const BUCKET_SHAPE = /^[a-z0-9](?:[a-z0-9]|-(?!\.)|\.(?![.-]))*[a-z0-9]$/;
const IPV4_SHAPE = /^\d+\.\d+\.\d+\.\d+$/;
const OBJECT_PATH_CHARSET = /^[A-Za-z0-9./\-_+#=]*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** True when the bucket name has no issue at all: the one test the common case needs. */
export function isAcceptedBucketName(value: string): boolean {
  return (
    value.length >= LIMITS.bucketMinChars &&
    value.length <= LIMITS.bucketMaxChars &&
    BUCKET_SHAPE.test(value) &&
    !IPV4_SHAPE.test(value)
  );
}

/** OBS bucket rules: 3-63 of `a-z 0-9 . -`, alphanumeric at both ends, no `..`/`.-`/`-.`, not an IPv4 address. */
export function checkBucketName(value: string, path: string, collector: IssueCollector): void {
  if (isAcceptedBucketName(value)) return;
  const { bucketMinChars: min, bucketMaxChars: max } = LIMITS;
  const name = quote(value);
  if (value.length < min || value.length > max) {
    collector.error(
      "bucket_length",
      path,
      `bucket name ${name} has ${value.length} characters; it needs ${min} to ${max}`,
    );
  }
  if (!BUCKET_CHARSET.test(value)) {
    collector.error(
      "bucket_charset",
      path,
      `bucket name ${name} contains ${describeBadChars(value, BUCKET_CHARSET)}; only lowercase letters, digits, - and . are allowed`,
    );
  }
  if (value.length > 0 && (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value))) {
    collector.error(
      "bucket_edge",
      path,
      `bucket name ${name} must start and end with a lowercase letter or digit`,
    );
  }
  if (value.includes("..") || value.includes(".-") || value.includes("-.")) {
    collector.error(
      "bucket_adjacent_punctuation",
      path,
      `bucket name ${name} must not contain "..", ".-" or "-."`,
    );
  }
  if (IPV4_SHAPE.test(value)) {
    collector.error(
      "bucket_ip_address",
      path,
      `bucket name ${name} is shaped like an IP address, which OBS refuses; use a name with letters`,
    );
  }
}

/** True when the object path has no error (it may still draw warnings). */
export function isAcceptedObjectPath(value: string): boolean {
  return value.length > 0 && value.length <= LIMITS.objectPathMaxChars && OBJECT_PATH_CHARSET.test(value);
}

/** True when the object path draws no warning either. */
export function isPlainObjectPath(value: string): boolean {
  return (
    value.endsWith(".tar") &&
    value.charCodeAt(0) !== 0x2f &&
    // A dot segment starts the path or follows a slash: most paths skip the regex.
    !((value.charCodeAt(0) === 0x2e || value.includes("/.")) && DOT_SEGMENT.test(value))
  );
}

/**
 * CPH's object path rules: 1-1024 of `A-Z a-z 0-9 . / - _ + # =`. The length is counted in UTF-8
 * bytes, OBS's own unit for keys; for a path in the allowed (ASCII) charset that is its length.
 */
export function checkObjectPath(value: string, path: string, collector: IssueCollector): void {
  if (value.length === 0) {
    collector.error(
      "object_path_empty",
      path,
      "the object path is empty; give an OBS key such as backups/phone1.tar",
    );
    return;
  }
  if (!isAcceptedObjectPath(value)) {
    const bytes = utf8Length(value);
    if (bytes > LIMITS.objectPathMaxChars) {
      collector.error(
        "object_path_too_long",
        path,
        `the object path is ${bytes} bytes long (UTF-8); at most ${LIMITS.objectPathMaxChars} are allowed`,
      );
    }
    if (!OBJECT_PATH_CHARSET.test(value)) {
      collector.error(
        "object_path_charset",
        path,
        `object path ${quote(value)} contains ${describeBadChars(value, OBJECT_PATH_CHARSET)}; only letters, digits and . / - _ + # = are allowed`,
      );
    }
  }
  checkObjectPathWarnings(value, path, collector);
}

/** Warnings, which do not make a request invalid: a leading `/`, a `.`/`..` segment, not `.tar`. */
export function checkObjectPathWarnings(value: string, path: string, collector: IssueCollector): void {
  if (value.charCodeAt(0) === 0x2f) {
    collector.warn(
      "object_path_leading_slash",
      path,
      `object path ${quote(value)} starts with /; OBS keys usually do not, and the key will keep it`,
    );
  }
  if (DOT_SEGMENT.test(value)) {
    collector.warn(
      "object_path_dot_segment",
      path,
      `object path ${quote(value)} has a . or .. segment, which OBS keeps literally`,
    );
  }
  if (!value.endsWith(".tar")) {
    collector.warn(
      "object_path_not_tar",
      path,
      `object path ${quote(value)} does not end in .tar; CPH writes a tar archive`,
    );
  }
}

/** Validates a bucket name on its own; returns its issues (empty when valid). */
export function validateBucketName(value: string): ValidationIssue[] {
  const collector = new IssueCollector();
  checkBucketName(value, "", collector);
  return collector.errors;
}

/** Validates an object path on its own; returns its errors (warnings such as a missing `.tar` are not errors). */
export function validateObjectPath(value: string): ValidationIssue[] {
  const collector = new IssueCollector();
  checkObjectPath(value, "", collector);
  return collector.errors;
}
