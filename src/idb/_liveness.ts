// How a store tells a dead writer from a live one, in any context of the
// origin (SEMANTICS 13). A writer holds a Web Lock named for its entry from
// before its entry exists until it commits or is released; the browser
// releases a context's locks when the context ends (a tab closed, a worker
// stopped, the browser killed). An entry still "writing" whose lock is free
// has a dead writer: the sweeper takes the lock (`ifAvailable`), so no
// writer can be granted it meanwhile, and reclaims the entry's chunks.
//
// Where `navigator.locks` is absent (Bun, and Node before it had Web Locks,
// where IndexedDB is `fake-indexeddb`, a database in this process's memory),
// the writers this JavaScript realm started and has not finished are the
// live ones: every context that can reach such a database is this realm, so
// an entry written by any other writer was left by a store that closed or
// a run that ended.

/** The writers of this realm that have neither committed nor been released. */
const LIVE = new Set<string>();

interface Locks {
  request(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown>;
}

function webLocks(): Locks | undefined {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator
    ?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

const lockName = (database: string, id: string) =>
  `streamcache:idb:${database}:${id}`;

/** The hold a live writer has on its entry; `end()` lets it go. Idempotent. */
export interface WriterHold {
  end(): void;
}

/** Marks the writer of entry `id` live, in every context, until `end()`. */
export async function holdWriter(
  database: string,
  id: string,
): Promise<WriterHold> {
  const locks = webLocks();
  LIVE.add(id);
  if (!locks) return { end: () => void LIVE.delete(id) };
  let end!: () => void;
  const held = new Promise<void>((resolve) => end = resolve);
  await new Promise<void>((granted, refused) => {
    locks.request(lockName(database, id), {}, () => {
      granted();
      return held;
    }).catch(refused);
  });
  return {
    end() {
      LIVE.delete(id);
      end();
    },
  };
}

/**
 * Runs `reclaim` if the writer of entry `id` is dead, keeping the writer's
 * lock (where there are locks) while it runs; resolves with what `reclaim`
 * resolved with, or false if the writer is alive.
 */
export async function ifWriterDead(
  database: string,
  id: string,
  reclaim: () => Promise<boolean>,
): Promise<boolean> {
  const locks = webLocks();
  if (!locks) return !LIVE.has(id) && await reclaim();
  let reclaimed = false;
  await locks.request(
    lockName(database, id),
    { ifAvailable: true },
    async (lock) => {
      if (lock !== null) reclaimed = await reclaim();
    },
  );
  return reclaimed;
}
