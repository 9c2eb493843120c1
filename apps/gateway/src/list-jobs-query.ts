// The ListJobs query as the gateway accepts it, checked by core's request builder.
import { buildListJobsRequest, CphValidationError } from "@cph-export/core";
import { issueDetails } from "./answers.js";
import { type ErrorDetail, GatewayError } from "./errors.js";

const QUERY_PATHS: Record<string, string> = { requestIds: "request_ids", offset: "offset", limit: "limit" };

/** ListJobs query (`request_ids` wins over `request_id`), checked by core's request builder. */
export function parseListJobsQuery(query: Record<string, string>): {
  requestIds: string[];
  offset?: number;
  limit?: number;
} {
  const raw = query["request_ids"] ?? query["request_id"] ?? "";
  const requestIds = raw === "" ? [] : raw.split(",").map((id) => id.trim());
  const number = (value: string | undefined) =>
    value === undefined ? undefined : /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  const offset = number(query["offset"]);
  const limit = number(query["limit"]);
  const details: ErrorDetail[] = [];
  requestIds.forEach((id, index) => {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(id)) {
      details.push({
        code: "request_id_invalid",
        path: `request_ids[${index}]`,
        message: "a request id is 1-128 letters, digits, . - or _",
      });
    }
  });
  const parsed = {
    requestIds,
    ...(offset === undefined ? {} : { offset }),
    ...(limit === undefined ? {} : { limit }),
  };
  try {
    buildListJobsRequest({ endpoint: "http://validate.invalid", projectId: "validate", ...parsed });
  } catch (error) {
    if (!(error instanceof CphValidationError)) throw error;
    details.unshift(...issueDetails(error.issues, (path) => QUERY_PATHS[path] ?? path));
  }
  if (details.length > 0) {
    throw new GatewayError(
      "CPHGW.4003",
      `the ListJobs query has ${details.length === 1 ? "an issue" : `${details.length} issues`}: ${details[0]?.path}: ${details[0]?.message}`,
      {
        details,
      },
    );
  }
  return parsed;
}
