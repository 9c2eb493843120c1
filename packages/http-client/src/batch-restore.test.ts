import {
  CphApiError,
  CphNetworkError,
  CphValidationError,
  type RestoreInfo,
  restoreInfoFromStorageInfo,
  verifySignature,
} from "@cph-export/core";
import { errors } from "undici";
import { describe, expect, it } from "vitest";
import {
  AKSK_CREDENTIALS,
  cphError,
  mockClient,
  mockCph,
  PROJECT_ID,
  phone,
  type SeenRequest,
  storageInfo,
} from "./test-support/mock-cph.js";

const RESTORE_PATH = `/v1/${PROJECT_ID}/cloud-phone/phones/batch-restore`;

function restoreInfo(phoneId: string): RestoreInfo {
  return restoreInfoFromStorageInfo(storageInfo(phoneId));
}

/** A 200 accepting every phone of a batch-restore body. */
function acceptRestore(request: SeenRequest, requestId = "req-restore") {
  const body = JSON.parse(request.text) as { restore_infos: Array<{ phone_id: string }> };
  return {
    status: 200,
    headers: { "x-request-id": requestId },
    body: {
      request_id: requestId,
      jobs: body.restore_infos.map((info) => ({ phone_id: info.phone_id, job_id: `job-${info.phone_id}` })),
    },
  };
}

describe("batchRestore", () => {
  it("posts the documented restore_infos to batch-restore, signed, and reads one result per phone", async () => {
    const { agent, requests } = mockCph((request) => acceptRestore(request));
    const client = mockClient(agent, { credentials: AKSK_CREDENTIALS });
    const result = await client.batchRestore([restoreInfo(phone(1)), restoreInfo(phone(2))]);
    expect(requests).toHaveLength(1);
    const sent = requests[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe(RESTORE_PATH);
    expect(JSON.parse(sent.text)).toEqual({
      restore_infos: [1, 2].map((index) => ({
        phone_id: phone(index),
        bucket_name: "backup-bucket",
        object_path: `exports/${phone(index)}.tar`,
      })),
    });
    const verified = await verifySignature({
      method: sent.method,
      url: sent.path,
      headers: sent.headers,
      body: sent.body,
      lookup: (accessKey) =>
        accessKey === "AKTESTEXAMPLE000001" ? { accessKey, secretKey: "sk-very-secret-000001" } : undefined,
    });
    expect(verified.ok).toBe(true);
    expect(result.requestId).toBe("req-restore");
    expect(result.phones).toEqual([
      expect.objectContaining({ phoneId: phone(1), state: "accepted", jobId: `job-${phone(1)}` }),
      expect.objectContaining({ phoneId: phone(2), state: "accepted", jobId: `job-${phone(2)}` }),
    ]);
  });

  it("reports phones rejected inside the 200 and phones the answer forgot, as batchExport does", async () => {
    const { agent } = mockCph(() => ({
      status: 200,
      body: {
        request_id: "req-1",
        jobs: [
          { phone_id: phone(1), job_id: "job-a" },
          { phone_id: phone(2), error_code: "CPS.0005", error_msg: "The phone does not exist." },
        ],
      },
    }));
    const result = await mockClient(agent).batchRestore([1, 2, 3].map((index) => restoreInfo(phone(index))));
    expect(result.phones.map((entry) => [entry.phoneId, entry.state, entry.errorCode])).toEqual([
      [phone(1), "accepted", undefined],
      [phone(2), "rejected", "CPS.0005"],
      [phone(3), "unknown", "not_in_response"],
    ]);
    expect(result.phones[0]).toMatchObject({
      bucketName: "backup-bucket",
      objectPath: `exports/${phone(1)}.tar`,
    });
  });

  it("validates with core's rules before sending: every bad field at once, nothing sent", async () => {
    const { agent, requests } = mockCph((request) => acceptRestore(request));
    const error = await mockClient(agent)
      .batchRestore([
        restoreInfo(phone(1)),
        { ...restoreInfo(phone(2)), bucket_name: "1.2.3.4" },
        { ...restoreInfo(phone(1)), object_path: "a b.tar" },
      ])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CphValidationError);
    expect((error as CphValidationError).issues.map((issue) => [issue.code, issue.path])).toEqual([
      ["bucket_ip_address", "restore_infos[1].bucket_name"],
      ["object_path_charset", "restore_infos[2].object_path"],
      ["phone_id_duplicate", "restore_infos[2].phone_id"],
    ]);
    expect(requests).toHaveLength(0);
  });

  it("honours the client's validation options (maxPhonesPerRequest) and skips validation when told it was done", async () => {
    const { agent, requests } = mockCph((request) => acceptRestore(request));
    const client = mockClient(agent, { validation: { maxPhonesPerRequest: 1 } });
    const two = [restoreInfo(phone(1)), restoreInfo(phone(2))];
    await expect(client.batchRestore(two)).rejects.toBeInstanceOf(CphValidationError);
    expect(requests).toHaveLength(0);
    await expect(client.batchRestore(two, { validated: true })).resolves.toMatchObject({
      phones: [{ state: "accepted" }, { state: "accepted" }],
    });
    expect(requests).toHaveLength(1);
  });

  it("never resends a POST of unknown outcome (reset, 500), but retries what proves it was not processed", async () => {
    let calls = 0;
    const reset = mockCph(() => {
      calls++;
      throw new errors.SocketError("other side closed");
    });
    const lost = await mockClient(reset.agent)
      .batchRestore([restoreInfo(phone(1))])
      .catch((caught: unknown) => caught);
    expect(lost).toBeInstanceOf(CphNetworkError);
    expect(calls).toBe(1);

    const server500 = mockCph(() => cphError(500, "CPS.9999", "internal"));
    await expect(mockClient(server500.agent).batchRestore([restoreInfo(phone(1))])).rejects.toBeInstanceOf(
      CphApiError,
    );
    expect(server500.requests).toHaveLength(1);

    let attempts = 0;
    const unavailable = mockCph((request) =>
      ++attempts === 1 ? cphError(502, "APIGW.0201", "backend unavailable") : acceptRestore(request),
    );
    await expect(mockClient(unavailable.agent).batchRestore([restoreInfo(phone(1))])).resolves.toMatchObject({
      phones: [{ state: "accepted" }],
    });
    expect(attempts).toBe(2);
  });
});
