// Following an entry another context of the origin writes (a tab, a worker,
// the service worker), for IndexedDbStore's `follow`. The follower reads how
// far the entry is stored, then wakes on the writer's messages (grew,
// committed, failed) and on the writer's Web Lock, which the browser grants
// to a waiting follower once the writer is gone: committed, failed, or dead
// with its context. Then the database says which; a writer that died before
// committing is a ProducerLostError for every follower (SEMANTICS 5, 19).
// No timer, no polling.

import { EntryNotFoundError, StreamCacheError } from "../errors.ts";
import { ProducerLostError, type StoreProgress } from "../shared_store.ts";
import type { StoreRecord } from "../store.ts";
import type { Connection } from "./_connection.ts";
import { request } from "./_idb_types.ts";
import {
  allChunks,
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  producingKey,
  type ProducingRecord,
  producings,
} from "./_layout.ts";
import { writerLock } from "./_liveness.ts";
import { hold, type Locks } from "./_locks.ts";
import { Inbox, type Messages } from "./_messages.ts";

/** What following needs of its store. */
export interface FollowContext {
  readonly db: Connection;
  readonly locks: Locks;
  readonly messages: Messages;
  /** The database's name. */
  readonly database: string;
}

/** An entry as the database has it now. */
interface Seen {
  readonly state: EntryState | undefined;
  /** Bytes stored, while it is written. */
  readonly stored: number;
  readonly record: StoreRecord | undefined;
  readonly failed: string | undefined;
}

/** Reads entry `id`'s state, stored bytes, record and failure in one transaction. */
function look(db: Connection, id: string): Promise<Seen> {
  return db.run("readonly", async (store) => {
    const state = await request<EntryState | undefined>(
      store.get(entryKey(id)),
    );
    if (!state) {
      // Released: a claim that failed may still say why.
      const claims = await request<ProducingRecord[]>(
        store.getAll(producings()),
      );
      const failed = claims.find((claim) => claim.id === id)?.failed;
      return { state, stored: 0, record: undefined, failed };
    }
    const producing = await request<ProducingRecord | undefined>(
      store.get(producingKey(state.key)),
    );
    const failed = producing?.id === id ? producing.failed : undefined;
    if (state.state === "writing") {
      const chunks = await request<number>(store.count(allChunks(id)));
      return {
        state,
        stored: chunks * state.chunkSize,
        record: undefined,
        failed,
      };
    }
    const link = await request<LinkRecord | undefined>(
      store.get(linkKey(state.key)),
    );
    return {
      state,
      stored: state.size,
      record: link?.id === id ? link : recordOf(id, state),
      failed,
    };
  });
}

/** The record of a committed entry from its state (once unlinked). */
export function recordOf(id: string, state: EntryState): StoreRecord {
  const created = state.created ?? 0;
  return {
    key: state.key,
    id,
    meta: state.meta,
    size: state.size,
    created,
    accessed: created,
    ...(state.lifetime ? { lifetime: state.lifetime } : {}),
  };
}

/** The error of followers whose producer failed with `reason`. */
function failure(id: string, reason: string): Error {
  return new StreamCacheError(
    `Cannot read entry ${id}: its producer (in another context) failed: ${reason}`,
  );
}

/** Reports entry `id`'s progress until it is committed; throws if it fails. */
export async function* followEntry(
  context: FollowContext,
  id: string,
  signal: AbortSignal,
): AsyncGenerator<StoreProgress> {
  // Listening starts before the database is read: nothing is missed.
  const inbox = new Inbox(
    context.messages,
    (message) => message.kind !== "created" && message.id === id,
  );
  const stop = new AbortController();
  const abort = () => {
    stop.abort();
    inbox.interrupt();
  };
  signal.addEventListener("abort", abort, { once: true });
  try {
    const first = await look(context.db, id);
    if (!first.state || first.state.state === "released") {
      if (first.failed) throw failure(id, first.failed);
      throw new EntryNotFoundError(
        `Cannot follow entry ${id}: it is gone from IndexedDB`,
      );
    }
    if (first.record) {
      yield { size: first.stored, record: first.record };
      return;
    }
    let size = first.stored;
    if (size > 0) yield { size };
    // Granted once the writer is gone (committed, failed or dead).
    hold(context.locks, writerLock(context.database, id), {
      signal: stop.signal,
    }).then((held) => {
      held?.end();
      inbox.interrupt();
    }, () => inbox.interrupt());
    for (;;) {
      const message = await inbox.next();
      if (signal.aborted) return;
      if (message?.kind === "grew") {
        if (message.size > size) {
          size = message.size;
          yield { size };
        }
        continue;
      }
      if (message?.kind === "failed") throw failure(id, message.reason);
      // Committed, or the writer is gone: the database says how it ended.
      const last = await look(context.db, id);
      if (last.record) {
        yield { size: last.stored, record: last.record };
        return;
      }
      if (last.failed) throw failure(id, last.failed);
      if (message) continue; // a commit not visible yet cannot be: look again
      throw new ProducerLostError(
        `Cannot read entry ${id}: its producer's context (a tab, a worker) ended before it committed`,
      );
    }
  } finally {
    signal.removeEventListener("abort", abort);
    stop.abort();
    inbox.close();
  }
}
