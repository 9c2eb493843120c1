// The one module that reads the environment (the bin's credentials for scripts, a spawned bin's).
import { EmulatorConfigError, type ExtraCredentials } from "./config.js";

const NAMES = [
  "CPH_EMULATOR_PROJECT_ID",
  "CPH_EMULATOR_AK",
  "CPH_EMULATOR_SK",
  "CPH_EMULATOR_IAM_DOMAIN",
  "CPH_EMULATOR_IAM_USER",
  "CPH_EMULATOR_IAM_PASSWORD",
] as const;

type EnvName = (typeof NAMES)[number];

/**
 * The project, key pair and IAM user given by `CPH_EMULATOR_*`. A key needs both AK and SK; a
 * user needs domain, user and password; a missing partner is an error naming the variable.
 */
export function readEnvCredentials(env: Record<string, string | undefined> = process.env): ExtraCredentials {
  const value = (name: EnvName) => {
    const text = env[name]?.trim();
    return text ? text : undefined;
  };
  const problems: string[] = [];
  const requireTogether = (names: readonly EnvName[]) => {
    const set = names.filter((name) => value(name) !== undefined);
    if (set.length > 0 && set.length < names.length) {
      const missing = names.filter((name) => value(name) === undefined);
      problems.push(
        `${set.join(" and ")} ${set.length > 1 ? "are" : "is"} set but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not; set all or none`,
      );
    }
  };
  requireTogether(["CPH_EMULATOR_AK", "CPH_EMULATOR_SK"]);
  requireTogether(["CPH_EMULATOR_IAM_DOMAIN", "CPH_EMULATOR_IAM_USER", "CPH_EMULATOR_IAM_PASSWORD"]);
  if (problems.length > 0) throw new EmulatorConfigError("environment", problems);
  const accessKey = value("CPH_EMULATOR_AK");
  const secretKey = value("CPH_EMULATOR_SK");
  const domain = value("CPH_EMULATOR_IAM_DOMAIN");
  const name = value("CPH_EMULATOR_IAM_USER");
  const password = value("CPH_EMULATOR_IAM_PASSWORD");
  return {
    projectId: value("CPH_EMULATOR_PROJECT_ID"),
    accessKey: accessKey && secretKey ? { accessKey, secretKey } : undefined,
    user: domain && name && password ? { domain, name, password } : undefined,
  };
}

/**
 * The environment of an emulator started by `spawnEmulator`: this process's without the
 * `CPH_EMULATOR_*` variables (the caller's config says the credentials), plus `extra`, where
 * `undefined` removes a variable.
 */
export function childEnvironment(
  extra: Record<string, string | undefined> = {},
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && !name.startsWith("CPH_EMULATOR_")) out[name] = value;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out;
}
