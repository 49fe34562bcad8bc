// The cache's side of a store that several processes share (a fleet): when
// a lookup misses and the store can `claim`, the key is claimed before any
// producer runs. If this process wins, it creates the entry under the claim
// (its lease); if another process produces the key, this process follows
// that entry: an EntryLog fed by the store's `follow`, whose growth, commit
// and failure reach the readers through the entry's own notification
// (SEMANTICS 1, 3, 4), exactly as a local writer's would. Nothing here
// polls: `follow` blocks in the store until the entry changes.

import { type EntryHost, EntryLog } from "./_entry_log.ts";
import { quoteKey } from "./_validate.ts";
import { StreamCacheError } from "./errors.ts";
import {
  type FollowClaim,
  type ProduceClaim,
  ProducerLostError,
} from "./shared_store.ts";
import type { Store, StoreRecord, StoreWriter } from "./store.ts";

/** Creates a key's entry, under a claim if the store gave one. */
export type ClaimedCreate = (claim?: ProduceClaim) => Promise<EntryLog>;

/**
 * Runs `create` for `key`, after claiming the key if the store is shared;
 * follows the entry another process produces instead, through `follow`.
 */
export async function claimAndCreate(
  store: Store,
  key: string,
  create: ClaimedCreate,
  follow: (claim: FollowClaim) => EntryLog,
): Promise<EntryLog> {
  if (!store.claim || !store.follow) return await create();
  const claim = await store.claim(key);
  if (claim.kind === "follow") return follow(claim);
  let log: EntryLog;
  try {
    log = await create(claim);
  } catch (error) {
    // The producer failed before its entry existed: the lease goes now, so
    // followers elsewhere need not wait for it to run out.
    claim.abandon(error).catch(() => {});
    throw error;
  }
  // A failure says so to the followers at once (a commit ends the lease).
  log.done.catch((reason) => claim.abandon(reason).catch(() => {}));
  // So does an entry finished but not kept, before its `done` resolves.
  log.whenNotKept(() =>
    claim.abandon(
      new StreamCacheError(
        `Cannot read entry ${
          quoteKey(key)
        }: its producer finished it, but its cache did not keep it (deleted meanwhile, or larger than maxEntryBytes)`,
      ),
    )
  );
  return log;
}

/**
 * An entry another process writes, as this cache's readers see it: it grows,
 * completes or fails as the store's `follow` reports.
 */
export function followEntry(
  host: EntryHost,
  key: string,
  claim: FollowClaim,
): EntryLog {
  const store = host.store;
  const log = new EntryLog(host, {
    key,
    id: claim.id,
    meta: claim.meta,
    lifetime: claim.lifetime,
  });
  const stop = new AbortController();
  // Failed here or shut down by the cache: stop following.
  log.done.catch(() => stop.abort());
  log.track((async () => {
    try {
      for await (const progress of store.follow!(claim.id, stop.signal)) {
        if (log.state !== "writing") return;
        if (progress.size > log.size) log.appended(progress.size - log.size);
        if (progress.record) {
          await log.commit(committedElsewhere(claim.id, progress.record));
          return;
        }
      }
      if (log.state === "writing") {
        throw new ProducerLostError(
          `Cannot read entry ${
            quoteKey(key)
          }: the store stopped reporting it before it was complete`,
        );
      }
    } catch (error) {
      log.fail(error);
    }
  })());
  return log;
}

/** The writer of an entry another process committed: its commit is done. */
function committedElsewhere(id: string, record: StoreRecord): StoreWriter {
  return {
    id,
    write: () =>
      Promise.reject(
        new TypeError(`Entry ${id} is written by another process`),
      ),
    commit: () => Promise.resolve(record),
  };
}
