import { listPhoneFiles, type PhoneFile, readPhoneFile } from "./phones.js";

/** Where an export reads a phone's files from (the generated tree, or the store's current files). */
export interface PhoneFileSource {
  list(phoneId: string): string[];
  /** The contents of a file `list` gave (unchecked otherwise, so an export reads each file in constant time). */
  read(phoneId: string, path: string): PhoneFile | undefined;
}

/** The generated, read-only files of `phones.ts`. */
export const GENERATED_FILES: PhoneFileSource = {
  list: listPhoneFiles,
  read: (phoneId, path) => readPhoneFile(phoneId, path),
};

interface Overlay {
  written: Map<string, PhoneFile>;
  deleted: Set<string>;
}

/**
 * The phones' current files: the generated tree of each phone until something changes it (a
 * restore, or a test through the control routes), then that tree with the changes laid over it.
 * Phones nobody touched cost nothing.
 */
export class PhoneFileStore implements PhoneFileSource {
  #overlays = new Map<string, Overlay>();

  list(phoneId: string): string[] {
    const overlay = this.#overlays.get(phoneId);
    const generated = listPhoneFiles(phoneId);
    if (!overlay) return generated;
    const files = new Set(generated.filter((path) => !overlay.deleted.has(path)));
    for (const path of overlay.written.keys()) files.add(path);
    return [...files].sort();
  }

  read(phoneId: string, path: string): PhoneFile | undefined {
    const overlay = this.#overlays.get(phoneId);
    const written = overlay?.written.get(path);
    if (written) return written;
    if (overlay?.deleted.has(path)) return undefined;
    return readPhoneFile(phoneId, path);
  }

  /** Whether the phone has this file now (phones.ts gives bytes for any path; only the tree's exist). */
  has(phoneId: string, path: string): boolean {
    const overlay = this.#overlays.get(phoneId);
    if (overlay?.written.has(path)) return true;
    if (overlay?.deleted.has(path)) return false;
    return listPhoneFiles(phoneId).includes(path);
  }

  write(phoneId: string, path: string, content: Buffer, mtime: Date = new Date()): void {
    const overlay = this.#overlay(phoneId);
    overlay.deleted.delete(path);
    overlay.written.set(path, { content: Buffer.from(content), mtime });
  }

  /** Removes a file; false when the phone has no such file. */
  remove(phoneId: string, path: string): boolean {
    if (!this.has(phoneId, path)) return false;
    const overlay = this.#overlay(phoneId);
    overlay.written.delete(path);
    overlay.deleted.add(path);
    return true;
  }

  /** Deletes `remove` (paths `list` gave) and then writes `files`: what a restore does, in one step. */
  replace(phoneId: string, remove: readonly string[], files: ReadonlyMap<string, PhoneFile>): void {
    const overlay = this.#overlay(phoneId);
    for (const path of remove) {
      overlay.written.delete(path);
      overlay.deleted.add(path);
    }
    // A file restored as generated is not kept twice: a round trip of 1,000 phones stays small.
    const generated = new Set(listPhoneFiles(phoneId));
    for (const [path, file] of files) {
      if (generated.has(path)) {
        const original = readPhoneFile(phoneId, path);
        if (original.mtime.getTime() === file.mtime.getTime() && original.content.equals(file.content)) {
          overlay.written.delete(path);
          overlay.deleted.delete(path);
          continue;
        }
      }
      this.write(phoneId, path, file.content, file.mtime);
    }
    if (overlay.written.size === 0 && overlay.deleted.size === 0) this.#overlays.delete(phoneId);
  }

  /** How many phones differ from their generated trees. */
  get changedPhones(): number {
    return this.#overlays.size;
  }

  /** Back to the generated trees. */
  reset(): void {
    this.#overlays = new Map();
  }

  #overlay(phoneId: string): Overlay {
    let overlay = this.#overlays.get(phoneId);
    if (!overlay) {
      overlay = { written: new Map(), deleted: new Set() };
      this.#overlays.set(phoneId, overlay);
    }
    return overlay;
  }
}
