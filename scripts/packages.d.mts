// Types for scripts/packages.mjs, which test/packaging imports.
export declare const root: string;
export declare const SOURCE_CONDITION: "@cph-export/source";
export interface WorkspacePackage {
  dir: string;
  name: string;
  version: string;
  private: boolean;
  manifest: Record<string, unknown>;
}
export declare function workspacePackages(): WorkspacePackage[];
export declare function publishedPackages(): WorkspacePackage[];
export declare function pnpmCommand(): [string, string];
export declare function run(
  command: string,
  args: string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean },
): Promise<{ code: number | null; stdout: string; stderr: string }>;
export declare function packPackage(
  pkg: { dir: string; name: string; version: string },
  destination: string,
): Promise<string>;
