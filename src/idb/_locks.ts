// Web Locks, as the store uses them: a lock held until its holder lets it
// go (or its context ends), asked for at once (`ifAvailable`) or waited for
// (until an AbortSignal gives up). The shape is `navigator.locks`'s, so a
// test may pass a lock manager of its own (tests/_fake_contexts.ts).

import type { IndexedDbSharing } from "./idb_sharing.ts";

/** The part of `navigator.locks` the store uses. */
export type Locks = IndexedDbSharing["locks"];

/** This realm's `navigator.locks`, if it has Web Locks. */
export function globalLocks(): Locks | undefined {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator
    ?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

/** A lock held until `end()`; idempotent. */
export interface Hold {
  end(): void;
  /** Settles once the lock is let go (after `end()`, or its context's end). */
  readonly released: Promise<unknown>;
}

/**
 * Asks for lock `name`: resolves with its hold once granted, or with
 * `undefined` if `ifAvailable` and it is taken, or if `signal` gave up
 * first.
 */
export function hold(
  locks: Locks,
  name: string,
  options: Parameters<Locks["request"]>[1] = {},
): Promise<Hold | undefined> {
  return new Promise<Hold | undefined>((resolve, reject) => {
    let end!: () => void;
    const held = new Promise<void>((release) => end = release);
    // Settles once the lock is let go (the callback's promise settled); the
    // callback may run before `request` returns.
    let settle!: (request: Promise<unknown>) => void;
    const released = new Promise<unknown>((resolve) => settle = resolve);
    const request = locks.request(name, options, (lock) => {
      if (lock === null) return resolve(undefined);
      resolve({ end, released });
      return held;
    });
    settle(request.catch(() => {}));
    request.catch((error: unknown) => {
      if (options.signal?.aborted) resolve(undefined);
      else reject(error);
    });
  });
}

/**
 * Runs `work` holding lock `name`, if it is free now; resolves with what
 * `work` resolved with, or with `undefined` if the lock is taken.
 */
export async function ifFree<T>(
  locks: Locks,
  name: string,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const held = await hold(locks, name, { ifAvailable: true });
  if (!held) return undefined;
  try {
    return await work();
  } finally {
    held.end();
  }
}
