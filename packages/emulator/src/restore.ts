import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DEFAULT_ALLOWED_ROOTS, matchExportPaths, validateDevicePath } from "@cph-export/core";
import tar from "tar-stream";
import { type ArchiveManifest, readManifest, tarBlockKind } from "./archive-manifest.js";
import type { PhoneFile } from "./phones.js";
import type { PhoneFileStore } from "./phone-files.js";

/** Why a restore job fails; each maps to its error code in errors.ts. */
export type RestoreRefusal = "object_missing" | "not_a_tar" | "android_version";

export class RestoreError extends Error {
  constructor(
    readonly refusal: RestoreRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** An archive read back: its manifest (when the emulator wrote it) and its files by device path. */
export interface PhoneArchive {
  manifest: ArchiveManifest | undefined;
  files: Map<string, PhoneFile>;
  bytes: number;
}

/** Header and manifest fit in this (a manifest lists a few paths). */
const HEAD_BYTES = 64 * 1024;

/**
 * Reads a whole archive before anything on the phone changes, so that a bad archive leaves the
 * phone as it was. Refuses a missing object, anything that is not a tar, and members that are not
 * regular files under the allowed roots.
 */
export async function readPhoneArchive(path: string, label: string): Promise<PhoneArchive> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR")
      throw new RestoreError("object_missing", `the object ${label} does not exist`);
    throw error;
  }
  let content: Buffer;
  try {
    if ((await handle.stat()).isDirectory())
      throw new RestoreError("object_missing", `the object ${label} does not exist`);
    content = await handle.readFile();
  } finally {
    await handle.close();
  }
  const notTar = (reason: string) =>
    new RestoreError("not_a_tar", `the object ${label} is not a tar archive (${reason})`);
  const first = tarBlockKind(content.subarray(0, 512));
  if (first === "invalid")
    throw notTar(content.length < 512 ? `${content.length} bytes` : "bad header checksum");
  const manifest = readManifest(content.subarray(0, HEAD_BYTES));
  const files = new Map<string, PhoneFile>();
  const extract = tar.extract();
  let refusal: RestoreError | undefined;
  extract.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on("error", next);
    stream.on("end", () => {
      if (header.type === "directory") return next();
      const devicePath = `/${header.name.replace(/^\.?\/+/, "")}`;
      const issues = validateDevicePath(devicePath, { allowedRoots: DEFAULT_ALLOWED_ROOTS });
      if (header.type !== "file" || issues.length > 0 || devicePath.includes("*"))
        refusal ??= notTar(`member ${header.name} is not a file under ${DEFAULT_ALLOWED_ROOTS.join(" or ")}`);
      else files.set(devicePath, { content: Buffer.concat(chunks), mtime: header.mtime ?? new Date(0) });
      next();
    });
  });
  try {
    await pipeline(Readable.from([content]), extract);
  } catch (error) {
    throw notTar(error instanceof Error ? error.message : String(error));
  }
  if (refusal) throw refusal;
  return { manifest, files, bytes: content.length };
}

/**
 * Replaces a phone's files with an archive's: with a manifest, the files its export selection
 * matches now are removed first (so files made since the export go, and deleted ones come back);
 * without one, the members are written over the phone's files and nothing else changes.
 */
export function restorePhoneFiles(
  store: PhoneFileStore,
  phoneId: string,
  archive: PhoneArchive,
): { removed: number; written: number } {
  const remove = archive.manifest
    ? matchExportPaths(store.list(phoneId), archive.manifest.include, archive.manifest.exclude)
    : [];
  store.replace(phoneId, remove, archive.files);
  return { removed: remove.length, written: archive.files.size };
}
