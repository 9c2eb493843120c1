import type { ResolvedEmulatorConfig } from "./config.js";
import { hashString } from "./random.js";

/** The Android version of a phone the emulator knows nothing about (not in the inventory, not configured). */
export const DEFAULT_ANDROID_VERSION = 12;

/** The versions an image id maps to. */
const IMAGE_ANDROID_VERSIONS = [11, 12, 13, 14] as const;

/** The Android version of an image: picked from its id, so the same image always gives the same. */
export function androidVersionOfImage(imageId: string): number {
  return IMAGE_ANDROID_VERSIONS[hashString(`android:${imageId}`) % IMAGE_ANDROID_VERSIONS.length]!;
}

/**
 * A phone's Android version: `phones.androidVersions` of the config when it names the phone, else
 * that of its inventory image, else `DEFAULT_ANDROID_VERSION`.
 */
export function androidVersionOf(config: ResolvedEmulatorConfig, phoneId: string): number {
  const configured = config.phones.androidVersions.get(phoneId);
  if (configured !== undefined) return configured;
  const imageId = config.inventory.phone(phoneId)?.image_id;
  return imageId ? androidVersionOfImage(imageId) : DEFAULT_ANDROID_VERSION;
}
