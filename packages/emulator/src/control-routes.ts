import { utf8Text } from "@cph-export/core";
import type { Hono } from "hono";
import { faultSettingsSchema } from "./config.js";
import { INVALID_PARAMETER } from "./errors.js";
import { type EmulatorEnv, errorBody } from "./http-io.js";
import { mountPhoneFileRoutes } from "./phone-file-routes.js";
import type { EmulatorState } from "./state.js";

/** The test-only `/__emulator/*` routes: ledger, stats, reset, faults, and the phones' files. */
export function mountControlRoutes(app: Hono<EmulatorEnv>, state: EmulatorState): void {
  app.get("/__emulator/ledger", (c) => {
    const phoneId = c.req.query("phone_id");
    const requestId = c.req.query("request_id");
    const entries = state.ledger.filter(
      (entry) =>
        (phoneId === undefined || entry.phone_id === phoneId) &&
        (requestId === undefined || entry.request_id === requestId),
    );
    return c.json({ entries });
  });
  app.get("/__emulator/stats", (c) => c.json(state.stats));
  app.post("/__emulator/reset", (c) => {
    state.reset();
    return c.json({ reset: true });
  });
  app.get("/__emulator/faults", (c) => c.json({ faults: state.faults }));
  app.post("/__emulator/faults", async (c) => {
    let json: unknown;
    try {
      json = JSON.parse(utf8Text(new Uint8Array(await c.req.arrayBuffer())));
    } catch {
      return errorBody(
        c,
        400,
        INVALID_PARAMETER,
        'the faults body is not JSON; send e.g. {"throttleRps": 5} or {}',
      );
    }
    const parsed = faultSettingsSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
      );
      return errorBody(c, 400, INVALID_PARAMETER, `invalid faults: ${problems.join("; ")}`);
    }
    state.setFaults(parsed.data);
    return c.json({ faults: state.faults });
  });
  mountPhoneFileRoutes(app, state);
}
