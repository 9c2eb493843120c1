// Helpers shared by the benchmarks (not a benchmark itself: run.mjs runs *.bench.mjs only).
import { buildIamTokenRequest } from "@cph-export/core";
import { DEMO_CREDENTIALS } from "@cph-export/emulator";

/** An IAM token for the emulator's demo user, fetched once before a load is measured. */
export async function demoToken(emulatorUrl) {
  const request = buildIamTokenRequest({
    iamEndpoint: emulatorUrl,
    domainName: DEMO_CREDENTIALS.domainName,
    userName: DEMO_CREDENTIALS.userName,
    password: DEMO_CREDENTIALS.password,
    project: { id: DEMO_CREDENTIALS.projectId },
  });
  const response = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
  const token = response.headers.get("x-subject-token");
  if (response.status !== 201 || !token)
    throw new Error(`no IAM token from the emulator (HTTP ${response.status})`);
  return token;
}
