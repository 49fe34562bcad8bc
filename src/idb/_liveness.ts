// How a store tells a dead writer from a live one, and an entry some context
// reads from one nobody reads, in any context of the origin (SEMANTICS 10,
// 13). A writer holds an exclusive Web Lock named for its entry from before
// its entry exists until it commits or is released; every reader holds a
// shared lock of its own name while it is open. The browser releases a
// context's locks when the context ends (a tab closed, a worker stopped, the
// browser killed). An entry still "writing" whose writer lock is free has a
// dead writer; an unlinked entry whose reader lock is free is read by
// nobody: the reclaimer takes the lock (`ifAvailable`), so no writer or
// reader can be granted it meanwhile, and deletes the entry's records.
//
// Where there are no Web Locks (Bun, Node before 24, where IndexedDB is
// `fake-indexeddb`, a database in this process's memory), the writers and
// readers this JavaScript realm opened and has not closed are the live ones:
// every context that can reach such a database is this realm.

import { type Hold, hold, ifFree, type Locks } from "./_locks.ts";

/** The writers of this realm that have neither committed nor been released. */
const WRITERS = new Set<string>();
/** The open readers of this realm, by entry id. */
const READERS = new Map<string, number>();

/** The lock the writer of entry `id` holds: free once the writer is gone. */
export const writerLock = (database: string, id: string): string =>
  `streamcache:idb:${database}:${id}`;
const readerLock = (database: string, id: string) =>
  `streamcache:idb:${database}:${id}:read`;

/** A hold on an entry; `end()` lets it go. Idempotent. */
export type EntryHold = Hold;

/** Marks the writer of entry `id` live, in every context, until `end()`. */
export async function holdWriter(
  locks: Locks | undefined,
  database: string,
  id: string,
): Promise<EntryHold> {
  if (locks) return (await hold(locks, writerLock(database, id)))!;
  WRITERS.add(id);
  return { end: () => void WRITERS.delete(id), released: Promise.resolve() };
}

/**
 * Runs `reclaim` if the writer of entry `id` is gone, keeping the writer's
 * lock (where there are locks) while it runs; resolves with what `reclaim`
 * resolved with, or false if the writer is alive.
 */
export async function ifWriterDead(
  locks: Locks | undefined,
  database: string,
  id: string,
  reclaim: () => Promise<boolean>,
): Promise<boolean> {
  if (!locks) return !WRITERS.has(id) && await reclaim();
  return await ifFree(locks, writerLock(database, id), reclaim) ?? false;
}

/** Marks entry `id` read, in every context, until `end()`. */
export async function holdReader(
  locks: Locks | undefined,
  database: string,
  id: string,
): Promise<EntryHold> {
  if (locks) {
    return (await hold(locks, readerLock(database, id), { mode: "shared" }))!;
  }
  READERS.set(id, (READERS.get(id) ?? 0) + 1);
  let ended = false;
  return {
    released: Promise.resolve(),
    end() {
      if (ended) return;
      ended = true;
      const left = READERS.get(id)! - 1;
      if (left > 0) READERS.set(id, left);
      else READERS.delete(id);
    },
  };
}

/**
 * Runs `reclaim` if no context reads entry `id`, keeping its reader lock
 * (where there are locks) so no reader opens meanwhile; resolves with what
 * `reclaim` resolved with, or false if it is read.
 */
export async function ifUnread(
  locks: Locks | undefined,
  database: string,
  id: string,
  reclaim: () => Promise<boolean>,
): Promise<boolean> {
  if (!locks) return !READERS.has(id) && await reclaim();
  return await ifFree(locks, readerLock(database, id), reclaim) ?? false;
}
