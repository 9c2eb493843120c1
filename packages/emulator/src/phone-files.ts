import { listPhoneFiles, type PhoneFile, readPhoneFile } from "./phones.js";

/** Where an export reads a phone's files from (the generated tree, or the store's current files). */
export interface PhoneFileSource {
  list(phoneId: string): string[];
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
    // Any path gives bytes in phones.ts; only the tree's paths exist.
    if (!listPhoneFiles(phoneId).includes(path)) return undefined;
    return readPhoneFile(phoneId, path);
  }

  write(phoneId: string, path: string, content: Buffer, mtime: Date = new Date()): void {
    const overlay = this.#overlay(phoneId);
    overlay.deleted.delete(path);
    overlay.written.set(path, { content: Buffer.from(content), mtime });
  }

  /** Removes a file; false when the phone has no such file. */
  remove(phoneId: string, path: string): boolean {
    if (this.read(phoneId, path) === undefined) return false;
    const overlay = this.#overlay(phoneId);
    overlay.written.delete(path);
    overlay.deleted.add(path);
    return true;
  }

  /** Deletes `remove` and then writes `files`: what a restore does, in one step. */
  replace(phoneId: string, remove: readonly string[], files: ReadonlyMap<string, PhoneFile>): void {
    for (const path of remove) this.remove(phoneId, path);
    for (const [path, file] of files) this.write(phoneId, path, file.content, file.mtime);
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
