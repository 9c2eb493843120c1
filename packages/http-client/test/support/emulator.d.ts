export declare const PACKAGE_DIR: string;
export declare const DEMO: {
  readonly projectId: "0123456789abcdef0123456789abcdef";
  readonly accessKey: "EMULATORDEMOAK0000001";
  readonly secretKey: "emulator-demo-secret-key-0001";
  readonly domainName: "demo-account";
  readonly userName: "demo-user";
  readonly password: "demo-password-0001";
};
export interface LedgerEntry {
  phone_id: string;
  job_id: string;
  request_id: string;
  bucket_name: string;
  object_path: string;
  outcome: string;
  dropped?: true;
}
export interface EmulatorStats {
  requests: number;
  throttled: number;
  errors: number;
  drops: number;
  droppedPhones: number;
}
export interface EmulatorProcess {
  url: string;
  dataDir: string;
  faults(settings: Record<string, number>): Promise<void>;
  ledger(): Promise<LedgerEntry[]>;
  stats(): Promise<EmulatorStats>;
  close(): Promise<void>;
}
/** Spawns `cph-emulator --port 0 --data-dir <tmp> --config <tmp json>` and waits for its URL. */
export declare function startEmulatorProcess(config?: Record<string, unknown>): Promise<EmulatorProcess>;
//# sourceMappingURL=emulator.d.ts.map
