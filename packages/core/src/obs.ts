import { IssueCollector, type ValidationIssue } from "./issues.js";
import { LIMITS } from "./limits.js";
import { describeChar } from "./device-path.js";

const BUCKET_CHARSET = /^[a-z0-9.-]*$/;
const IPV4_SHAPE = /^\d+\.\d+\.\d+\.\d+$/;
const OBJECT_PATH_CHARSET = /^[A-Za-z0-9./\-_+#=]*$/;

/** OBS bucket rules: 3-63 of `a-z 0-9 . -`, alphanumeric at both ends, no `..`/`.-`/`-.`, not an IPv4 address. */
export function checkBucketName(value: string, path: string, collector: IssueCollector): void {
  const { bucketMinChars: min, bucketMaxChars: max } = LIMITS;
  if (value.length < min || value.length > max) {
    collector.error("bucket_length", path, `bucket name "${value}" has ${value.length} characters; it needs ${min} to ${max}`);
  }
  if (!BUCKET_CHARSET.test(value)) {
    const bad = [...new Set([...value].filter((char) => !BUCKET_CHARSET.test(char)))];
    collector.error(
      "bucket_charset",
      path,
      `bucket name "${value}" contains ${bad.map(describeChar).join(", ")}; only lowercase letters, digits, - and . are allowed`,
    );
  }
  if (value.length > 0 && (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value))) {
    collector.error("bucket_edge", path, `bucket name "${value}" must start and end with a lowercase letter or digit`);
  }
  if (value.includes("..") || value.includes(".-") || value.includes("-.")) {
    collector.error("bucket_adjacent_punctuation", path, `bucket name "${value}" must not contain "..", ".-" or "-."`);
  }
  if (IPV4_SHAPE.test(value)) {
    collector.error("bucket_ip_address", path, `bucket name "${value}" is shaped like an IP address, which OBS refuses`);
  }
}

/** CPH's object path rules: 1-1024 characters of `A-Z a-z 0-9 . / - _ + # =`. */
export function checkObjectPath(value: string, path: string, collector: IssueCollector): void {
  if (value.length === 0) {
    collector.error("object_path_empty", path, "the object path is empty; give an OBS key such as backups/phone1.tar");
    return;
  }
  if (value.length > LIMITS.objectPathMaxChars) {
    collector.error(
      "object_path_too_long",
      path,
      `the object path has ${value.length} characters; at most ${LIMITS.objectPathMaxChars} are allowed`,
    );
  }
  if (!OBJECT_PATH_CHARSET.test(value)) {
    const bad = [...new Set([...value].filter((char) => !OBJECT_PATH_CHARSET.test(char)))];
    collector.error(
      "object_path_charset",
      path,
      `object path "${value}" contains ${bad.map(describeChar).join(", ")}; only letters, digits and . / - _ + # = are allowed`,
    );
  }
  if (value.startsWith("/")) {
    collector.warn("object_path_leading_slash", path, `object path "${value}" starts with /; OBS keys usually do not`);
  }
  if (value.split("/").some((segment) => segment === "." || segment === "..")) {
    collector.warn("object_path_dot_segment", path, `object path "${value}" has a . or .. segment, kept literally by OBS`);
  }
  if (!value.endsWith(".tar")) {
    collector.warn("object_path_not_tar", path, `object path "${value}" does not end in .tar; CPH writes a tar archive`);
  }
}

export function validateBucketName(value: string): ValidationIssue[] {
  const collector = new IssueCollector();
  checkBucketName(value, "", collector);
  return collector.errors;
}

export function validateObjectPath(value: string): ValidationIssue[] {
  const collector = new IssueCollector();
  checkObjectPath(value, "", collector);
  return collector.errors;
}
