import { describe, expect, it } from "vitest";
import { configInput, fleet, PROJECT, testApp, testConfig } from "./test-support/fixtures.js";

const RESTORE = `/v1/${PROJECT}/cloud-phone/phones/batch-restore`;
const EXPORT = `/v1/${PROJECT}/cloud-phone/phones/batch-storage`;

type Operations = Array<"export" | "restore">;

/** The test config with team-a's operations (and servers) set. */
function withOperations(operations: Operations, servers?: string[]) {
  const callers = configInput().callers.map((caller) =>
    caller.name === "team-a" ? { ...caller, operations, ...(servers ? { servers } : {}) } : caller,
  );
  return testConfig({ callers });
}

function restoreInfo(index: number, overrides: Record<string, string> = {}) {
  return {
    phone_id: `phone${String(index).padStart(4, "0")}`,
    bucket_name: "team-a-backups",
    object_path: `team-a/phone${index}.tar`,
    ...overrides,
  };
}

type Harness = ReturnType<typeof testApp>;

async function post(harness: Harness, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await harness.app.request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...harness.bearer(), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe("batch-restore through the gateway", () => {
  it("is refused with 403 CPHGW.4036 to a caller without the restore operation, nothing sent", async () => {
    const harness = testApp();
    const answer = await post(harness, RESTORE, { restore_infos: [restoreInfo(0)] });
    expect(answer.status).toBe(403);
    expect(answer.body["error_code"]).toBe("CPHGW.4036");
    expect(answer.body["error_msg"]).toContain('add "restore"');
    expect(harness.upstream.calls).toEqual([]);
  });

  it("forwards a valid restore, written anew from what was validated", async () => {
    const harness = testApp({ config: withOperations(["export", "restore"]) });
    const answer = await post(harness, RESTORE, { restore_infos: [restoreInfo(0), restoreInfo(1)] });
    expect(answer.status).toBe(200);
    expect(answer.body["jobs"]).toEqual([
      { phone_id: "phone0000", job_id: "job-1-0" },
      { phone_id: "phone0001", job_id: "job-1-1" },
    ]);
    expect(harness.upstream.calls[0]).toMatchObject({
      operation: "batchRestore",
      argument: [restoreInfo(0), restoreInfo(1)],
    });
  });

  it("refuses an invalid body with every issue under restore_infos, and a duplicate phone", async () => {
    const harness = testApp({ config: withOperations(["restore"]) });
    const answer = await post(harness, RESTORE, {
      restore_infos: [
        restoreInfo(0, { object_path: "" }),
        restoreInfo(1, { bucket_name: "Bad_Bucket" }),
        restoreInfo(0),
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.body["error_code"]).toBe("CPHGW.4001");
    const paths = (answer.body["details"] as Array<{ path: string }>).map((detail) => detail.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "restore_infos[0].object_path",
        "restore_infos[1].bucket_name",
        "restore_infos[2].phone_id",
      ]),
    );
    const notJson = await post(harness, RESTORE, "{");
    expect(notJson.body["error_msg"]).toContain('{"restore_infos": [...]}');
    expect(harness.upstream.calls).toEqual([]);
  });

  it("applies the caller's buckets, prefixes and phone count to restores, naming restore_infos", async () => {
    const harness = testApp({ config: withOperations(["restore"]) });
    const bucket = await post(harness, RESTORE, {
      restore_infos: [restoreInfo(0, { bucket_name: "team-b-backups" })],
    });
    expect(bucket.status).toBe(403);
    expect(bucket.body).toMatchObject({
      error_code: "CPHGW.4032",
      details: [{ path: "restore_infos[0].bucket_name", code: "bucket_not_allowed" }],
    });
    expect(bucket.body["error_msg"]).toContain("may not restore from");
    const prefix = await post(harness, RESTORE, {
      restore_infos: [restoreInfo(0, { object_path: "team-b/x.tar" })],
    });
    expect(prefix.body).toMatchObject({
      error_code: "CPHGW.4033",
      details: [{ path: "restore_infos[0].object_path" }],
    });
    const many = await post(harness, RESTORE, {
      restore_infos: [0, 1, 2, 3].map((index) => restoreInfo(index)),
    });
    expect(many.body).toMatchObject({ error_code: "CPHGW.4034", details: [{ path: "restore_infos" }] });
    expect(harness.upstream.calls).toEqual([]);
  });

  it("keeps export and restore apart: a restore-only caller may not export", async () => {
    const harness = testApp({ config: withOperations(["restore"]) });
    const answer = await post(harness, EXPORT, {
      storage_infos: [{ phone_id: "phone0000", bucket_name: "team-a-backups", object_path: "team-a/x.tar" }],
    });
    expect(answer.status).toBe(403);
    expect(answer.body["error_code"]).toBe("CPHGW.4036");
  });

  it("replays a restore for the same Idempotency-Key and refuses another body with it", async () => {
    const harness = testApp({ config: withOperations(["restore"]) });
    const key = { "Idempotency-Key": '"restore-key-1"' };
    const first = await post(harness, RESTORE, { restore_infos: [restoreInfo(0)] }, key);
    const again = await post(harness, RESTORE, { restore_infos: [restoreInfo(0)] }, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const other = await post(harness, RESTORE, { restore_infos: [restoreInfo(1)] }, key);
    expect(other.status).toBe(422);
    expect(harness.upstream.count("batchRestore")).toBe(1);
  });

  it("refuses restoring onto a phone off a confined caller's servers", async () => {
    const harness = testApp({ config: withOperations(["restore"], ["srv-0"]) });
    harness.upstream.fleet = fleet(4, 2);
    const answer = await post(harness, RESTORE, { restore_infos: [restoreInfo(0), restoreInfo(1)] });
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({
      error_code: "CPHGW.4035",
      details: [{ path: "restore_infos[1].phone_id", code: "phone_not_allowed" }],
    });
    expect(answer.body["error_msg"]).toContain("may not restore");
    expect(harness.upstream.count("batchRestore")).toBe(0);
  });

  it("is in the OpenAPI document with the restore_infos body", async () => {
    const harness = testApp();
    const document = (await (await harness.app.request("/openapi.json")).json()) as {
      paths: Record<string, { post?: { operationId: string; requestBody: unknown } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const restore = document.paths["/v1/{project_id}/cloud-phone/phones/batch-restore"]?.post;
    expect(restore?.operationId).toBe("BatchImportCloudPhoneData");
    expect(JSON.stringify(restore?.requestBody)).toContain("#/components/schemas/BatchImportRequest");
    expect(Object.keys(document.components.schemas["BatchImportRequest"]?.properties ?? {})).toEqual([
      "restore_infos",
    ]);
  });

  it("allows only POST", async () => {
    const harness = testApp();
    const response = await harness.app.request(RESTORE, { headers: harness.bearer() });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });
});
