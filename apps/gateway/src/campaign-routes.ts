// The campaign routes: POST /v1/campaigns, GET /v1/campaigns[/{id}[/phones]], POST .../cancel and
// .../resume, and the progress page. Any caller may read a campaign; only its caller may change it.
import { CphError } from "@cph-export/core";
import type { Hono } from "hono";
import { JSON_HEADERS } from "./answers.js";
import {
  CAMPAIGN_ID,
  type CampaignPhoneState,
  campaignPhonesQuerySchema,
  campaignRequestSchema,
} from "./campaign-model.js";
import { mountCampaignPage } from "./campaign-page.js";
import {
  type Campaigns,
  campaignView,
  cancelCampaign,
  createCampaign,
  notFound,
  resumeCampaign,
} from "./campaign-service.js";
import { GatewayError } from "./errors.js";
import type { ServerCheck } from "./fleet-routes.js";
import type { AppContext, Exchange, GatewayEnv } from "./exchange.js";
import type { CallerPolicy } from "./policy.js";
import { readBody } from "./read-body.js";
import { EMPTY, type RouteKit } from "./route-kit.js";

export const CAMPAIGN_ROUTES = {
  campaigns: "/v1/campaigns",
  campaign: "/v1/campaigns/{campaign_id}",
  phones: "/v1/campaigns/{campaign_id}/phones",
  cancel: "/v1/campaigns/{campaign_id}/cancel",
  resume: "/v1/campaigns/{campaign_id}/resume",
} as const;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export function mountCampaignRoutes(
  app: Hono<GatewayEnv>,
  kit: RouteKit,
  campaigns: Campaigns | undefined,
  checkServers: ServerCheck,
): void {
  const { config, upstream, policies, admit, send, idempotent, now, logger } = kit;

  function available(): Campaigns {
    if (campaigns === undefined) {
      throw new GatewayError(
        "CPHGW.5035",
        "campaigns need Redis, and this gateway runs without it: its operators must set CPH_GATEWAY_REDIS_URL",
      );
    }
    return campaigns;
  }

  /** Runs a campaign operation; a Redis failure is 503 `CPHGW.5032`, not a 500. */
  async function stored<T>(operation: (service: Campaigns) => Promise<T>): Promise<T> {
    const service = available();
    try {
      return await operation(service);
    } catch (error) {
      if (error instanceof GatewayError || error instanceof CphError) throw error;
      logger.error("campaign store failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      throw new GatewayError("CPHGW.5032", "the gateway's Redis is unavailable; retry later", {
        headers: { "Retry-After": "1" },
      });
    }
  }

  const json = (x: Exchange, body: unknown, status = 200, headers: Record<string, string> = {}) =>
    send(x, { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });

  function campaignId(c: AppContext): string {
    const id = c.req.param("campaign_id") ?? "";
    if (!CAMPAIGN_ID.test(id)) throw notFound(id);
    return id;
  }

  app.post("/v1/campaigns", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.campaigns;
    const body = await readBody(c.req.raw, c.env?.incoming, config.bodyLimitBytes);
    const caller = await admit(x, body, upstream.projectId);
    const policy = policies.get(caller.name) as CallerPolicy;
    policy.checkOperation("export");
    let input: unknown;
    try {
      input = JSON.parse(UTF8.decode(body));
    } catch {
      throw new GatewayError("CPHGW.4002", "the request body is not UTF-8 JSON; send a campaign object", {
        details: [{ code: "invalid_json", path: "", message: "the body could not be parsed as JSON" }],
      });
    }
    const parsed = campaignRequestSchema.safeParse(input);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({
        code: issue.code === "custom" ? "invalid_value" : issue.code,
        path: issue.path
          .map((part, index) =>
            typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
          )
          .join(""),
        message: issue.message,
      }));
      throw new GatewayError(
        "CPHGW.4001",
        `the campaign has ${details.length} ${details.length === 1 ? "issue" : "issues"}; the first: ${details[0]?.path || "body"}: ${details[0]?.message}`,
        { details },
      );
    }
    available();
    const run = async () => {
      const view = await stored((service) =>
        createCampaign(service, {
          body: parsed.data,
          caller,
          policy,
          config,
          now: now(),
          checkServers: (entries) =>
            checkServers(x, policy, entries, { field: "phones", operation: "export" }),
        }),
      );
      return {
        status: 201,
        headers: { ...JSON_HEADERS, Location: `/v1/campaigns/${view.campaign_id}` },
        body: JSON.stringify(view),
        storable: true,
      };
    };
    const header = x.header("idempotency-key");
    if (header === undefined) return send(x, await run());
    return send(x, await idempotent(x, caller, header, body, run));
  });

  app.get("/v1/campaigns", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.campaigns;
    await admit(x, EMPTY, upstream.projectId);
    const views = await stored(async (service) => {
      const ids = await service.store.list(100);
      return Promise.all(ids.map((id) => service.store.view(id)));
    });
    return json(x, { campaigns: views.filter((view) => view !== undefined) });
  });

  app.get("/v1/campaigns/:campaign_id", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.campaign;
    await admit(x, EMPTY, upstream.projectId);
    const id = campaignId(c);
    return json(x, await stored((service) => campaignView(service, id)));
  });

  app.get("/v1/campaigns/:campaign_id/phones", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.phones;
    await admit(x, EMPTY, upstream.projectId);
    const query = campaignPhonesQuerySchema.safeParse(c.req.query());
    if (!query.success) {
      const details = query.error.issues.map((issue) => ({
        code: "query_invalid",
        path: issue.path.join("."),
        message: issue.message,
      }));
      throw new GatewayError(
        "CPHGW.4006",
        `the phones query is invalid: ${details[0]?.path}: ${details[0]?.message}`,
        {
          details,
        },
      );
    }
    const limit = Number(query.data.limit ?? 100);
    if (limit < 1 || limit > 1000) {
      throw new GatewayError("CPHGW.4006", "limit must be from 1 to 1000", {
        details: [{ code: "query_invalid", path: "limit", message: "from 1 to 1000" }],
      });
    }
    const id = campaignId(c);
    const page = await stored(async (service) => {
      const view = await campaignView(service, id);
      return service.store.phones(view.campaign_id, view.bucket_name, {
        state: query.data.state as CampaignPhoneState | undefined,
        cursor: Number(query.data.cursor ?? 0),
        limit,
      });
    });
    return json(x, {
      phones: page.phones,
      ...(page.nextCursor === undefined ? {} : { next_cursor: String(page.nextCursor) }),
    });
  });

  app.post("/v1/campaigns/:campaign_id/cancel", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.cancel;
    const body = await readBody(c.req.raw, c.env?.incoming, config.bodyLimitBytes);
    const caller = await admit(x, body, upstream.projectId);
    const id = campaignId(c);
    return json(x, await stored((service) => cancelCampaign(service, id, caller, now())));
  });

  app.post("/v1/campaigns/:campaign_id/resume", async (c) => {
    const x = c.var.exchange;
    x.route = CAMPAIGN_ROUTES.resume;
    const body = await readBody(c.req.raw, c.env?.incoming, config.bodyLimitBytes);
    const caller = await admit(x, body, upstream.projectId);
    (policies.get(caller.name) as CallerPolicy).checkOperation("export");
    const id = campaignId(c);
    return json(x, await stored((service) => resumeCampaign(service, id, caller, now())));
  });

  mountCampaignPage(app);
}
