/**
 * How {@linkcode IndexedDbStore}s in several contexts of one origin (tabs,
 * workers, the service worker) produce each key once between them.
 *
 * @module
 */

import { globalLocks } from "./_locks.ts";

/**
 * What IndexedDbStores need to share one database between contexts: Web
 * Locks (`navigator.locks`) and broadcast channels (`BroadcastChannel`).
 * A browser has both, and a store uses them unless told otherwise; a test
 * may pass its own, to play several contexts in one.
 *
 * @example The browser's own, as a store uses them by default
 * ```ts
 * import "fake-indexeddb/auto"; // Deno has no IndexedDB; a browser needs no such line
 * import { IndexedDbStore } from "@streamcache/streamcache/idb";
 * import type { IndexedDbSharing } from "@streamcache/streamcache/idb";
 * import assert from "node:assert/strict";
 *
 * const { navigator } = globalThis as { navigator?: { locks?: IndexedDbSharing["locks"] } };
 * const sharing: IndexedDbSharing | false = navigator?.locks
 *   ? { locks: navigator.locks, channel: (name) => new BroadcastChannel(name) }
 *   : false; // Bun and Node 20 and 22 have no Web Locks
 * const store = new IndexedDbStore({ name: "sharing-example", sharing });
 * assert.equal(typeof store.claim, sharing ? "function" : "undefined");
 * await store.close();
 * ```
 */
export interface IndexedDbSharing {
  /** Web Locks: `navigator.locks`, or what has its `request`. */
  readonly locks: {
    request(
      name: string,
      options: {
        mode?: "exclusive" | "shared";
        ifAvailable?: boolean;
        signal?: AbortSignal;
      },
      callback: (lock: unknown) => unknown,
    ): Promise<unknown>;
  };
  /**
   * Opens a broadcast channel: `(name) => new BroadcastChannel(name)`, or
   * what posts a message to every other channel of that name (not itself).
   *
   * @param name The channel's name (one a database).
   * @returns The channel.
   */
  channel(name: string): {
    postMessage(message: unknown): void;
    addEventListener(
      type: "message",
      listener: (event: { readonly data: unknown }) => void,
    ): void;
    close(): void;
  };
}

/** The realm's Web Locks and BroadcastChannel, if it has both. */
export function defaultSharing(): IndexedDbSharing | undefined {
  const locks = globalLocks();
  const { BroadcastChannel } = globalThis as unknown as {
    BroadcastChannel?: new (name: string) => ReturnType<
      IndexedDbSharing["channel"]
    >;
  };
  if (!locks || typeof BroadcastChannel !== "function") return undefined;
  return { locks, channel: (name) => new BroadcastChannel(name) };
}
