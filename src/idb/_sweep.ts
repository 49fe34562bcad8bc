// The sweep of an IndexedDbStore's database (SEMANTICS 10, 13): what no
// context will ever read again is deleted. One read-only transaction lists
// the candidates (normally the whole of a start-up sweep); each is then
// deleted in a transaction of its own, under the Web Lock that proves it
// unused, after checking it is still a candidate:
//
// - an entry still "writing" whose writer is dead (its lock is free);
// - an entry no key links, committed (its context ended between unlinking
//   and releasing it) or released while another context read it, that no
//   context reads now (its reader lock is free);
// - a claim's record of an entry that is gone.

import type { Connection } from "./_connection.ts";
import { request } from "./_idb_types.ts";
import {
  allChunks,
  entries,
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  links,
  producingKey,
  type ProducingRecord,
  producings,
  writingKey,
  writings,
} from "./_layout.ts";
import { ifUnread, ifWriterDead } from "./_liveness.ts";
import type { Locks } from "./_locks.ts";

/** What the sweep needs of its store. */
export interface SweepContext {
  readonly db: Connection;
  readonly locks: Locks | undefined;
  /** The database's name. */
  readonly database: string;
  /** Whether entry `id` is this store's own, written or read: spared. */
  readonly busy: (id: string) => boolean;
}

/** Deletes what is dead or unused; resolves with how many entries went. */
export async function sweep(context: SweepContext): Promise<number> {
  const { db, locks, database } = context;
  const listed = await db.run("readonly", async (store) => {
    const writing = await request<[string, string][]>(
      store.getAllKeys(writings()),
    );
    const ids = await request<[string, string][]>(store.getAllKeys(entries()));
    const states = await request<EntryState[]>(store.getAll(entries()));
    const linked = new Set(
      (await request<LinkRecord[]>(store.getAll(links()))).map((link) =>
        link.id
      ),
    );
    const claims = await request<ProducingRecord[]>(
      store.getAll(producings()),
    );
    const known = new Set(ids.map((key) => key[1]));
    return {
      writing: writing.map((key) => key[1]),
      unlinked: ids.map((key, i) => [key[1], states[i]!] as const)
        .filter(([id, state]) =>
          state.state === "released" ||
          (state.state === "committed" && !linked.has(id))
        ).map(([id]) => id),
      staleClaims: claims.some((claim) => !known.has(claim.id)),
    };
  });
  let reclaimed = 0;
  for (const id of listed.writing) {
    if (context.busy(id)) continue;
    const dead = await ifWriterDead(
      locks,
      database,
      id,
      () =>
        db.run("readwrite", async (store) => {
          // Committed or released since it was listed: not ours to touch.
          const marker = await request(store.get(writingKey(id)));
          if (marker === undefined) return false;
          deleteEntry(store, id);
          return true;
        }),
    );
    if (dead) reclaimed++;
  }
  for (const id of listed.unlinked) {
    if (context.busy(id)) continue;
    const unused = await ifUnread(
      locks,
      database,
      id,
      () =>
        db.run("readwrite", async (store) => {
          // Linked (or written) since it was listed: not ours to touch.
          const state = await request<EntryState | undefined>(
            store.get(entryKey(id)),
          );
          if (!state || state.state === "writing") return false;
          if (state.state === "committed") {
            const link = await request<LinkRecord | undefined>(
              store.get(linkKey(state.key)),
            );
            if (link?.id === id) return false;
          }
          deleteEntry(store, id);
          return true;
        }),
    );
    if (unused) reclaimed++;
  }
  if (listed.staleClaims || reclaimed) await sweepClaims(db);
  return reclaimed;
}

/** Deletes entry `id`'s records (not its key's link), in `store`'s transaction. */
export function deleteEntry(
  store: { delete(query: unknown): unknown },
  id: string,
): void {
  store.delete(entryKey(id));
  store.delete(writingKey(id));
  store.delete(allChunks(id));
}

/** Deletes the claims' records whose entry is gone. */
function sweepClaims(db: Connection): Promise<void> {
  return db.run("readwrite", async (store) => {
    const keys = await request<[string, string][]>(
      store.getAllKeys(producings()),
    );
    const claims = await request<ProducingRecord[]>(
      store.getAll(producings()),
    );
    for (const [i, claim] of claims.entries()) {
      const state = await request(store.get(entryKey(claim.id)));
      if (state === undefined) store.delete(producingKey(keys[i]![1]));
    }
  });
}
