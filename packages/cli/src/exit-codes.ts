/** The process exit codes of `cph-export`; scripts rely on them, so they never change. */
export const EXIT = {
  /** Everything accepted (with `--wait`: succeeded). */
  ok: 0,
  /** Some phones rejected or failed. */
  failed: 1,
  /** Usage error or invalid input; nothing was sent. */
  usage: 2,
  /** Authentication or permission failure. */
  auth: 3,
  /** Network or upstream failure, or phones left `unknown`. */
  upstream: 4,
  /** Interrupted (SIGINT); the journal was flushed. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

// The most serious outcome wins when a run has several: an interruption, then auth, then unknowns.
const SEVERITY: readonly number[] = [
  EXIT.ok,
  EXIT.failed,
  EXIT.usage,
  EXIT.upstream,
  EXIT.auth,
  EXIT.interrupted,
];

/** The more serious of two exit codes. */
export function worstExit(a: number, b: number): number {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}
