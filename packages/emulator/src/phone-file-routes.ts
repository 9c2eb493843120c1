import { validateDevicePath } from "@cph-export/core";
import type { Env, Hono } from "hono";
import { androidVersionOf } from "./android.js";
import type { EmulatorState } from "./state.js";

/**
 * Control routes over the phones' simulated files and the restore ledger, for tests and demos:
 * read, write and delete one file (`?path=/data/...`), list a phone's files with its Android
 * version, and count restore jobs per phone.
 */
export function mountPhoneFileRoutes<E extends Env>(app: Hono<E>, state: EmulatorState): void {
  app.get("/__emulator/phones/:phoneId/files", (c) => {
    const phoneId = c.req.param("phoneId");
    return c.json({
      phone_id: phoneId,
      android_version: androidVersionOf(state.config, phoneId),
      files: state.files.list(phoneId),
    });
  });

  const devicePath = (path: string | undefined): string | undefined => {
    if (path === undefined || path.includes("*")) return undefined;
    return validateDevicePath(path).length === 0 ? path : undefined;
  };
  const badPath = (path: string | undefined) =>
    `give ?path= an absolute file path under /data or /cache without * (got ${JSON.stringify(path ?? null)})`;

  app.get("/__emulator/phones/:phoneId/file", (c) => {
    const phoneId = c.req.param("phoneId");
    const path = devicePath(c.req.query("path"));
    if (!path) return c.json({ error_msg: badPath(c.req.query("path")) }, 400);
    const file = state.files.has(phoneId, path) ? state.files.read(phoneId, path) : undefined;
    if (!file) return c.json({ error_msg: `phone ${phoneId} has no file ${path}` }, 404);
    return c.body(new Uint8Array(file.content), 200, {
      "Content-Type": "application/octet-stream",
      "Last-Modified": file.mtime.toUTCString(),
    });
  });

  app.put("/__emulator/phones/:phoneId/file", async (c) => {
    const phoneId = c.req.param("phoneId");
    const path = devicePath(c.req.query("path"));
    if (!path) return c.json({ error_msg: badPath(c.req.query("path")) }, 400);
    const content = Buffer.from(await c.req.arrayBuffer());
    state.files.write(phoneId, path, content);
    return c.json({ phone_id: phoneId, path, size: content.length });
  });

  app.delete("/__emulator/phones/:phoneId/file", (c) => {
    const phoneId = c.req.param("phoneId");
    const path = devicePath(c.req.query("path"));
    if (!path) return c.json({ error_msg: badPath(c.req.query("path")) }, 400);
    if (!state.files.remove(phoneId, path))
      return c.json({ error_msg: `phone ${phoneId} has no file ${path}` }, 404);
    return c.json({ phone_id: phoneId, path, deleted: true });
  });

  app.get("/__emulator/restore-ledger", (c) => {
    const phoneId = c.req.query("phone_id");
    const requestId = c.req.query("request_id");
    const entries = state.restoreLedger.filter(
      (entry) =>
        (phoneId === undefined || entry.phone_id === phoneId) &&
        (requestId === undefined || entry.request_id === requestId),
    );
    // Restore jobs created per phone (the number a rerun must not raise) and, of them, those that succeeded.
    const counts: Record<string, number> = {};
    const restored: Record<string, number> = {};
    for (const entry of entries) {
      counts[entry.phone_id] = (counts[entry.phone_id] ?? 0) + 1;
      if (entry.outcome === "succeeded") restored[entry.phone_id] = (restored[entry.phone_id] ?? 0) + 1;
    }
    return c.json({ entries, counts, restored });
  });
}
