// AbortControllers reused across upstream calls.
import { getEventListeners } from "node:events";

/** How many upstream calls one AbortController serves at most. */
const MAX_CONTROLLER_USES = 10_000;
/** Most spare controllers kept. */
const MAX_SPARE = 1024;

/** An AbortController for upstream calls, and how many it served. */
export interface Lease {
  controller: AbortController;
  uses: number;
}

/**
 * AbortControllers of calls that ended without being aborted, for the next calls: making an
 * AbortSignal, and undici's first listener on it, cost the gateway about a tenth of its CPU time
 * per request on the benchmark load. A call owns its controller alone while it runs. undici takes
 * its listener off the signal a little after the call settled, so a controller waits for the
 * event loop to turn (`cooling`) before it is spare, and is only taken when no listener is left
 * on its signal (one that still has one is dropped). Each serves a bounded number of calls.
 */
export class AbortControllerPool {
  readonly #spare: Lease[] = [];
  #cooling: Lease[] = [];

  /** A controller no other call uses now. */
  lease(): Lease {
    for (let lease = this.#spare.pop(); lease !== undefined; lease = this.#spare.pop()) {
      if (getEventListeners(lease.controller.signal, "abort").length === 0) return lease;
    }
    return { controller: new AbortController(), uses: 0 };
  }

  /** Gives a controller back once its call settled; an aborted or worn-out one is dropped. */
  recycle(lease: Lease): void {
    if (lease.controller.signal.aborted || ++lease.uses >= MAX_CONTROLLER_USES) return;
    if (this.#cooling.push(lease) > 1) return;
    setImmediate(() => {
      for (const cooled of this.#cooling) if (this.#spare.length < MAX_SPARE) this.#spare.push(cooled);
      this.#cooling = [];
    });
  }
}
