import { afterEach, describe, expect, it } from "vitest";
import type { EmulatorApp } from "./app.js";
import type { FaultSettings } from "./config.js";
import { PHONE_FAIL_CODE } from "./state.js";
import {
  BASE,
  createHarness,
  demoToken,
  eventually,
  exportWithToken,
  JOBS_PATH,
  storageInfo,
} from "./test-support/fixtures.js";

const harness = createHarness();
afterEach(() => harness.cleanup());

const PHONES = Array.from({ length: 200 }, (_, index) => `phone-${String(index).padStart(4, "0")}`);

/** Exports the 200 phones and returns the ids of those whose jobs failed, once every job ended. */
async function failedPhones(faults: FaultSettings, setLater = false): Promise<string[]> {
  const app: EmulatorApp = await harness.app({
    config: { jobDurationMs: 0, faults: setLater ? {} : faults },
  });
  if (setLater) await app.request("/__emulator/faults", { method: "POST", body: JSON.stringify(faults) });
  const token = await demoToken(app);
  for (const batch of [PHONES.slice(0, 100), PHONES.slice(100)]) {
    const response = await exportWithToken(
      app,
      token,
      batch.map((id) => storageInfo(id)),
    );
    expect(response.status).toBe(200);
  }
  const entries = await eventually(async () => {
    const { entries } = (await (await app.request("/__emulator/ledger")).json()) as {
      entries: Array<{ phone_id: string; outcome: string }>;
    };
    return entries.length === PHONES.length && entries.every((entry) => entry.outcome !== "running")
      ? entries
      : undefined;
  });
  return entries
    .filter((entry) => entry.outcome === "failed")
    .map((entry) => entry.phone_id)
    .sort();
}

describe("faults.phoneFailRate", () => {
  it("fails about that fraction of the phones' jobs with CPS.0010, the same phones for the same seed", async () => {
    const first = await failedPhones({ phoneFailRate: 0.2, seed: 7 });
    expect(first.length).toBeGreaterThan(20);
    expect(first.length).toBeLessThan(60);
    // Set through the control route this time: the choice depends only on the seed and the phone id.
    expect(await failedPhones({ phoneFailRate: 0.2, seed: 7 }, true)).toEqual(first);
    expect(await failedPhones({ phoneFailRate: 0.2, seed: 8 })).not.toEqual(first);
  });

  it("0 fails none, 1 fails every job, and the failed job carries the code", async () => {
    expect(await failedPhones({ phoneFailRate: 0 })).toEqual([]);
    expect(await failedPhones({ phoneFailRate: 1 })).toEqual(PHONES);
    const app = await harness.app({ config: { jobDurationMs: 0, faults: { phoneFailRate: 1 } } });
    const token = await demoToken(app);
    const { jobs } = (await (await exportWithToken(app, token, [storageInfo("p1")])).json()) as {
      jobs: Array<{ job_id: string }>;
    };
    const job = await eventually(async () => {
      const shown = (await (
        await app.request(`${BASE}${JOBS_PATH}/${jobs[0]!.job_id}`, {
          headers: { "X-Auth-Token": token },
        })
      ).json()) as { status: number; error_code: string | null };
      return shown.status === 1 ? undefined : shown;
    });
    expect(job).toMatchObject({ status: -1, error_code: PHONE_FAIL_CODE });
  });

  it("is refused outside 0..1", async () => {
    await expect(harness.app({ config: { faults: { phoneFailRate: 1.5 } } })).rejects.toThrow(
      /faults\.phoneFailRate/,
    );
  });
});
