import { iamTokenRequestSchema, LIMITS, utf8Text } from "@cph-export/core";
import type { Hono } from "hono";
import { checkPassword, domainId, projectsOf, type TokenStore, userId } from "./auth.js";
import type { ResolvedEmulatorConfig } from "./config.js";
import { type Answer, type EmulatorContext, type EmulatorEnv, iamError, readBody } from "./http-io.js";

/** Wraps a handler with the emulator's counting, throttling, latency and drop faults (app.ts). */
export type ApiWrapper = (
  name: string,
  handler: (c: EmulatorContext) => Promise<Answer>,
) => (c: EmulatorContext) => Promise<Response>;

/** IAM `POST /v3/auth/tokens`: the password method, a project scope by id or name. */
export function mountIamRoutes(
  app: Hono<EmulatorEnv>,
  {
    config,
    tokens,
    clock,
    api,
  }: { config: ResolvedEmulatorConfig; tokens: TokenStore; clock: () => Date; api: ApiWrapper },
): void {
  app.post(
    "/v3/auth/tokens",
    api("iam-tokens", async (c) => {
      const bytes = await readBody(c, LIMITS.maxBodyBytes);
      if (!bytes) return iamError(c, 413, `the body is over ${LIMITS.maxBodyBytes} bytes`);
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(bytes));
      } catch {
        return iamError(c, 400, "The request body is not JSON.");
      }
      const parsed = iamTokenRequestSchema.safeParse(json);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        return iamError(
          c,
          400,
          `Invalid parameter ${first ? first.path.join(".") : "auth"}: ${first?.message ?? "bad request"}`,
        );
      }
      const { user: credentials } = parsed.data.auth.identity.password;
      const user = checkPassword(config, credentials.domain.name, credentials.name, credentials.password);
      if (!user) return iamError(c, 401, "The username or password is wrong.");
      const scope = parsed.data.auth.scope.project;
      const project = projectsOf(config, user.projects).find((candidate) =>
        "id" in scope ? candidate.id === scope.id : candidate.name === scope.name,
      );
      if (!project) {
        const wanted = "id" in scope ? `id ${scope.id}` : `name ${scope.name}`;
        return iamError(c, 401, `The project with ${wanted} does not exist or the user has no access to it.`);
      }
      const issuedAt = clock();
      const expiresAt = new Date(issuedAt.getTime() + config.tokenTtlSeconds * 1000);
      const token = tokens.issue({ project, user, issuedAt, expiresAt });
      const domain = { id: domainId(user.domain), name: user.domain };
      c.header("X-Subject-Token", token);
      return c.json(
        {
          token: {
            expires_at: expiresAt.toISOString(),
            issued_at: issuedAt.toISOString(),
            methods: ["password"],
            project: { id: project.id, name: project.name, domain },
            user: { id: userId(user), name: user.name, domain, password_expires_at: "" },
            roles: [],
            catalog: [],
          },
        },
        201,
      );
    }),
  );
}
