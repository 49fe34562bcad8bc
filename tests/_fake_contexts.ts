// Browsing contexts of one origin (tabs, workers) played in one process, for
// IndexedDbStore's sharing on fake-indexeddb: each context has Web Locks
// and broadcast channels of its own that see the other contexts' (as a
// browser's do), and can be killed as a tab is closed: its locks go at
// once and its channels hear and say nothing more. tests/browser/ runs the
// real thing in Chromium.

import type { IndexedDbSharing } from "../src/idb/mod.ts";

type Mode = "exclusive" | "shared";

interface Holder {
  readonly context: Context;
  readonly mode: Mode;
}

interface Waiter extends Holder {
  grant(): void;
}

interface Lock {
  holders: Holder[];
  waiting: Waiter[];
}

/** One context: its sharing, for an IndexedDbStore, and its death. */
export interface Context {
  readonly sharing: IndexedDbSharing;
  /** Ends the context: its locks are let go, its channels closed. */
  kill(): void;
  readonly dead: boolean;
}

type Channel = ReturnType<IndexedDbSharing["channel"]> & {
  readonly context: Context;
  readonly name: string;
  deliver(data: unknown): void;
};

/** An origin whose contexts share locks and channels. */
export class FakeOrigin {
  readonly #locks = new Map<string, Lock>();
  readonly #channels = new Set<Channel>();

  /** A new context of the origin. */
  context(): Context {
    let dead = false;
    const context: Context = {
      sharing: {
        locks: {
          request: (name, options, callback) =>
            this.#request(context, name, options, callback),
        },
        channel: (name) => this.#channel(context, name),
      },
      kill: () => {
        dead = true;
        for (const channel of [...this.#channels]) {
          if (channel.context === context) this.#channels.delete(channel);
        }
        for (const [name, lock] of this.#locks) {
          lock.holders = lock.holders.filter((h) => h.context !== context);
          lock.waiting = lock.waiting.filter((w) => w.context !== context);
          this.#grant(name);
        }
      },
      get dead() {
        return dead;
      },
    };
    return context;
  }

  /** How many locks are held now, by name prefix. */
  held(prefix = ""): number {
    let count = 0;
    for (const [name, lock] of this.#locks) {
      if (name.startsWith(prefix)) count += lock.holders.length;
    }
    return count;
  }

  #lock(name: string): Lock {
    let lock = this.#locks.get(name);
    if (!lock) this.#locks.set(name, lock = { holders: [], waiting: [] });
    return lock;
  }

  #grantable(lock: Lock, mode: Mode): boolean {
    return lock.holders.length === 0 ||
      (mode === "shared" && lock.holders.every((h) => h.mode === "shared"));
  }

  #grant(name: string): void {
    const lock = this.#lock(name);
    while (
      lock.waiting.length && this.#grantable(lock, lock.waiting[0]!.mode)
    ) {
      lock.waiting.shift()!.grant();
    }
    if (!lock.holders.length && !lock.waiting.length) this.#locks.delete(name);
  }

  #request(
    context: Context,
    name: string,
    options: { mode?: Mode; ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown> {
    const mode = options.mode ?? "exclusive";
    const lock = this.#lock(name);
    return new Promise((resolve, reject) => {
      if (context.dead) return reject(new Error("the context is dead"));
      const run = () => {
        const holder: Holder = { context, mode };
        lock.holders.push(holder);
        // As Web Locks do: let go once the callback's promise settles, then
        // settle the request's promise with it.
        const letGo = () => {
          const at = lock.holders.indexOf(holder);
          if (at >= 0) lock.holders.splice(at, 1);
          this.#grant(name);
        };
        Promise.resolve().then(() => callback({ name, mode })).then(
          (value) => {
            letGo();
            resolve(value);
          },
          (error) => {
            letGo();
            reject(error);
          },
        );
      };
      if (!lock.waiting.length && this.#grantable(lock, mode)) return run();
      if (options.ifAvailable) {
        this.#grant(name);
        Promise.resolve().then(() => callback(null)).then(resolve, reject);
        return;
      }
      if (options.signal?.aborted) return reject(options.signal.reason);
      const waiter: Waiter = { context, mode, grant: run };
      lock.waiting.push(waiter);
      options.signal?.addEventListener("abort", () => {
        const at = lock.waiting.indexOf(waiter);
        if (at < 0) return;
        lock.waiting.splice(at, 1);
        reject(options.signal!.reason);
        this.#grant(name);
      }, { once: true });
    });
  }

  #channel(context: Context, name: string): Channel {
    const listeners = new Set<(event: { data: unknown }) => void>();
    const channels = this.#channels;
    const channel: Channel = {
      context,
      name,
      postMessage(message) {
        if (!channels.has(channel)) return;
        const data = structuredClone(message);
        for (const other of channels) {
          if (other !== channel && other.name === name) other.deliver(data);
        }
      },
      addEventListener(_type, listener) {
        listeners.add(listener);
      },
      close() {
        channels.delete(channel);
      },
      deliver(data) {
        // As a browser does: in a task of its own, after the sender's turn.
        queueMicrotask(() => {
          if (!channels.has(channel)) return;
          for (const listener of listeners) listener({ data });
        });
      },
    };
    channels.add(channel);
    return channel;
  }
}
