// Who produces a key among the contexts of an origin, for IndexedDbStore's
// `claim` (SEMANTICS 1, 19). A claim is a Web Lock named for the key (its
// SHA-256), asked for `ifAvailable`: the context granted it produces, and
// holds it until its entry commits or fails (the browser lets it go if the
// context dies). Any other context looks in the database for the entry the
// claim created (["p", key]) and follows it; if the claimer has not created
// it yet, it waits, without polling, for the claimer's "created" message or
// for the claim itself, granted once the claimer gives up or dies (then it
// produces). A key committed meanwhile is followed as it is.

import type { FollowClaim } from "../shared_store.ts";
import { request } from "./_idb_types.ts";
import {
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  producingKey,
  type ProducingRecord,
} from "./_layout.ts";
import { writerLock } from "./_liveness.ts";
import { type Hold, hold, ifFree } from "./_locks.ts";
import { Inbox } from "./_messages.ts";
import type { FollowContext } from "./_follow.ts";

/** This context won the claim: it holds the key's lock. */
export interface Won {
  readonly kind: "won";
  readonly hold: Hold;
  /** The key's hash, as "created" messages name it. */
  readonly hash: string;
}

/** The hex SHA-256 of a key's UTF-8 bytes. */
async function keyHash(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(key),
  );
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Following entry `id`, whose state (or committed record) is known. */
function follow(id: string, of: EntryState | LinkRecord): FollowClaim {
  return { kind: "follow", id, meta: of.meta, lifetime: of.lifetime };
}

/**
 * Claims `key`: resolves with the claim's hold if this context produces it,
 * or with the entry to follow. `closing` gives up a wait (the store closed);
 * `checkOpen` then throws.
 */
export async function claimKey(
  context: FollowContext,
  key: string,
  closing: AbortSignal,
  checkOpen: () => void,
): Promise<Won | FollowClaim> {
  const hash = await keyHash(key);
  const name = `streamcache:idb:${context.database}:claim:${hash}`;
  let won = await hold(context.locks, name, { ifAvailable: true });
  for (;;) {
    checkOpen();
    if (won) {
      // Committed between the cache's lookup and this claim: follow that.
      const link = await context.db.run(
        "readonly",
        (store) => request<LinkRecord | undefined>(store.get(linkKey(key))),
      );
      if (!link) return { kind: "won", hold: won, hash };
      won.end();
      return follow(link.id, link);
    }
    // Listening before looking: a "created" said in between is queued.
    const inbox = new Inbox(
      context.messages,
      (message) => message.kind === "created" && message.hash === hash,
    );
    const wait = new AbortController();
    const stop = () => {
      wait.abort();
      inbox.interrupt();
    };
    closing.addEventListener("abort", stop, { once: true });
    try {
      const found = await producer(context, key);
      if (found) return found;
      // The claimer has not created its entry yet: wait for it to, or for
      // the claim to be free (the claimer gave up, or died).
      const granted = hold(context.locks, name, { signal: wait.signal });
      granted.then(() => inbox.interrupt(), () => inbox.interrupt());
      await inbox.next();
      wait.abort();
      won = await granted.catch(() => undefined);
    } finally {
      closing.removeEventListener("abort", stop);
      inbox.close();
    }
  }
}

/**
 * The entry another context's claim of `key` is writing, if its writer is
 * alive, or the key's committed entry; `undefined` if there is neither.
 */
async function producer(
  context: FollowContext,
  key: string,
): Promise<FollowClaim | undefined> {
  const { db } = context;
  const { producing, state, link } = await db.run("readonly", async (store) => {
    const producing = await request<ProducingRecord | undefined>(
      store.get(producingKey(key)),
    );
    const state = producing && !producing.failed
      ? await request<EntryState | undefined>(
        store.get(entryKey(producing.id)),
      )
      : undefined;
    const link = await request<LinkRecord | undefined>(
      store.get(linkKey(key)),
    );
    return { producing, state, link };
  });
  if (producing && state?.state === "writing") {
    const id = producing.id;
    // Its writer holds its lock while it lives; free, it has just
    // committed, or it died (a claimer before this one's leftover).
    const ended = await ifFree(
      context.locks,
      writerLock(context.database, id),
      async () => ({
        now: await db.run(
          "readonly",
          (store) => request<EntryState | undefined>(store.get(entryKey(id))),
        ),
      }),
    );
    if (ended === undefined) return follow(id, state);
    if (ended.now?.state === "committed") return follow(id, ended.now);
  }
  return link ? follow(link.id, link) : undefined;
}
