export { run } from "./run.js";
export type { RunDependencies } from "./run.js";
export type { CliIo } from "./io.js";
export type { ClientFactory } from "./client.js";
export { EXIT } from "./exit-codes.js";
export type { ExitCode } from "./exit-codes.js";
export { parseObjectPathTemplate, formatUtcDate } from "./template.js";
export type { ObjectPathTemplate, TemplateValues } from "./template.js";
