export { createObsReader, LIST_PAGE, ObsError } from "./reader.js";
export type { ArchiveHead, ArchiveObject, ObsOptions, ObsReader } from "./reader.js";
