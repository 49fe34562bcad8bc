// `abortWhenUnread`: counts every client of an entry still being generated,
// from the moment it is admitted to the entry (also while it waits for a
// byte or for the total length, before it has a body) until it is answered
// or its body ends, and stops the production once the last of them has
// disconnected.

import type { Entry } from "../entry.ts";

/** One client's hold on an entry. Releasing twice is harmless. */
export interface Lease {
  /** Ends the hold; `cancelled` when the client disconnected. */
  release(cancelled: boolean): void;
}

/** A lease that counts nothing, for when `abortWhenUnread` is off. */
export const NO_LEASE: Lease = { release() {} };

/** The reason a producer stops when `abortWhenUnread` applies. */
const UNREAD = "every client reading this response disconnected";

/** The clients of each entry, and how to stop the entries this wrapper produces. */
export class UnreadWatch {
  readonly #clients = new WeakMap<Entry, number>();
  readonly #stoppers = new WeakMap<Entry, (reason: unknown) => void>();

  /** Lets the watch stop `entry`'s production with `stop`. */
  register(entry: Entry, stop: (reason: unknown) => void): void {
    if (entry.state === "writing") this.#stoppers.set(entry, stop);
  }

  /** Counts one more client of `entry` until its lease is released. */
  admit(entry: Entry): Lease {
    this.#clients.set(entry, (this.#clients.get(entry) ?? 0) + 1);
    let released = false;
    return {
      release: (cancelled) => {
        if (released) return;
        released = true;
        const left = (this.#clients.get(entry) ?? 1) - 1;
        this.#clients.set(entry, left);
        if (cancelled && left === 0 && entry.state === "writing") {
          this.#stoppers.get(entry)?.(new DOMException(UNREAD, "AbortError"));
        }
      },
    };
  }
}
