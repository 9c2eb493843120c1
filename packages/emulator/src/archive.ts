import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { matchExportPaths } from "@cph-export/core";
import tar from "tar-stream";
import { type ArchiveManifest, encodeManifestHeader } from "./archive-manifest.js";
import { GENERATED_FILES, type PhoneFileSource } from "./phone-files.js";
import { randomId } from "./random.js";

/**
 * Where the archive of `bucket`/`objectPath` goes under the data directory, or undefined when it
 * would resolve outside it (the emulator then fails the job instead of writing anywhere else).
 */
export function archivePath(dataDir: string, bucket: string, objectPath: string): string | undefined {
  const root = resolve(dataDir);
  const target = resolve(root, bucket, objectPath);
  const bucketDir = resolve(root, bucket);
  if (!bucketDir.startsWith(root + sep) || !target.startsWith(bucketDir + sep)) return undefined;
  return target;
}

/** The members an export of this phone takes: its files chosen by `matchExportPaths`. */
export function exportedFiles(
  phoneId: string,
  include: readonly string[],
  exclude: readonly string[] = [],
  files: PhoneFileSource = GENERATED_FILES,
): string[] {
  return matchExportPaths(files.list(phoneId), include, exclude);
}

export interface ArchiveRequest {
  dataDir: string;
  phoneId: string;
  include: readonly string[];
  exclude?: readonly string[] | undefined;
  bucket: string;
  objectPath: string;
  /** The phones' files; default the generated trees of `phones.ts`. */
  files?: PhoneFileSource | undefined;
  /** Written first, as a pax global header, for a restore to check (see archive-manifest.ts). */
  manifest?: ArchiveManifest | undefined;
}

export interface ArchiveResult {
  path: string;
  members: number;
  bytes: number;
}

/**
 * Streams a tar (ustar, pax for long names) of the exported files to a temporary file beside the
 * target and renames it into place, so that a reader never sees half an archive. Member names are
 * the device paths without their leading `/`.
 */
export async function writePhoneArchive(request: ArchiveRequest): Promise<ArchiveResult> {
  const target = archivePath(request.dataDir, request.bucket, request.objectPath);
  if (!target)
    throw new Error(
      `object path ${request.bucket}/${request.objectPath} resolves outside the data directory`,
    );
  const source = request.files ?? GENERATED_FILES;
  const files = exportedFiles(request.phoneId, request.include, request.exclude, source);
  await mkdir(dirname(target), { recursive: true });
  const temporary = `${target}.${randomId().slice(0, 12)}.partial`;
  const handle = await open(temporary, "wx");
  const pack = tar.pack();
  // Entries are added one at a time, each waiting for the pack to drain, so memory stays flat.
  const producer = (async () => {
    try {
      for (const file of files) {
        const read = source.read(request.phoneId, file);
        if (!read) throw new Error(`file ${file} of phone ${request.phoneId} went away during the export`);
        const { content, mtime } = read;
        await new Promise<void>((done, fail) => {
          pack.entry({ name: file.slice(1), size: content.length, mode: 0o644, mtime }, content, (error) =>
            error ? fail(error) : done(),
          );
        });
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  })();
  let bytes = 0;
  try {
    if (request.manifest) {
      const header = encodeManifestHeader(request.manifest, new Date());
      await handle.write(header);
      bytes += header.length;
    }
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      bytes += chunk.length;
    }
    await producer;
    await handle.close();
    await rename(temporary, target);
  } catch (error) {
    pack.destroy();
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  return { path: target, members: files.length, bytes };
}
