import { REGIONS } from "@cph-export/core";
import { EXIT } from "../exit-codes.js";
import type { Context } from "../io.js";
import { parseOptions, regionsOptionsSchema } from "../options.js";
import { ResultWriter } from "../output/results.js";

interface RegionRow {
  region: string;
  name: string;
  endpoint: string;
  iam_endpoint: string;
}

/** `cph-export regions`: the regions where CPH is offered, with their endpoints. */
export async function regionsCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(regionsOptionsSchema, raw, "regions");
  const writer = new ResultWriter<RegionRow>(
    context.out,
    options.output ?? (context.io.stdoutIsTTY ? "table" : "json"),
    [
      { header: "REGION", value: (row) => row.region },
      { header: "NAME", value: (row) => row.name },
      { header: "ENDPOINT", value: (row) => row.endpoint },
      { header: "IAM ENDPOINT", value: (row) => row.iam_endpoint },
    ],
  );
  for (const region of REGIONS) {
    await writer.add({
      region: region.id,
      name: region.name,
      endpoint: region.endpoint,
      iam_endpoint: region.iamEndpoint,
    });
  }
  await writer.end();
  return EXIT.ok;
}
