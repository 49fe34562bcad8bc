// The entries an IndexedDbStore writes: their chunks gathered in memory
// (which this store's readers read), the Web Locks that keep them alive in
// every context's eyes, and, for an entry made under a claim, what the
// other contexts are told: "created", "grew" after each chunk transaction,
// "committed", or "failed" with the reason, which is also kept in the key's
// claim record for followers that look after the message (SEMANTICS 1, 5,
// 14, 19).

import { freezeMeta, quoteKey } from "../_validate.ts";
import { StreamCacheError } from "../errors.ts";
import { checkCreateOptions } from "../_record_lifetime.ts";
import type { ProduceClaim } from "../shared_store.ts";
import type {
  EntryMeta,
  StoreCreateOptions,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { Pending } from "./_chunks.ts";
import type { Won } from "./_claim.ts";
import type { Connection } from "./_connection.ts";
import { request } from "./_idb_types.ts";
import {
  chunkKey,
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  producingKey,
  type ProducingRecord,
  writingKey,
} from "./_layout.ts";
import { type EntryHold, holdWriter } from "./_liveness.ts";
import type { Hold, Locks } from "./_locks.ts";
import type { Messages } from "./_messages.ts";

/** What the writers need of their store. */
export interface WritersInit {
  readonly db: Connection;
  /** The database's name. */
  readonly database: string;
  readonly chunkSize: number;
  readonly locks: Locks | undefined;
  readonly messages: Messages | undefined;
  /** Called once entry `id` is committed, created at `created`. */
  readonly committed: (id: string, created: number) => void;
}

/** A key this store claimed, whose entry it created and writes. */
interface Claimed {
  readonly key: string;
  readonly hold: Hold;
  /** The failure, once it is being recorded. */
  failing?: Promise<void>;
}

/** The entries one store writes. */
export class Writers {
  readonly #init: WritersInit;
  /** Entries being written, by id; their readers share the object. */
  readonly pending: Map<string, Pending> = new Map();
  /** The liveness holds of the entries being written, by id. */
  readonly #holds = new Map<string, EntryHold>();
  /** Entries written under a claim, by id. */
  readonly #claimed = new Map<string, Claimed>();
  /** Claims won whose entry is not created yet. */
  readonly #unused = new Set<Hold>();

  constructor(init: WritersInit) {
    this.#init = init;
  }

  /** Whether this store writes entry `id` (it has neither committed nor been released). */
  writes(id: string): boolean {
    return this.#holds.has(id);
  }

  /**
   * Starts a new entry; under `claim`, where followers in other contexts
   * find it. Its writer holds a Web Lock until it commits or is released.
   */
  async create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions,
    claim: Won | undefined,
  ): Promise<StoreWriter> {
    const action = "create entry in IndexedDbStore";
    meta = freezeMeta(meta, action);
    const { created, lifetime } = checkCreateOptions(options, action);
    const { db, database, chunkSize } = this.#init;
    const id = crypto.randomUUID();
    const hold = await holdWriter(this.#init.locks, database, id);
    const state: EntryState = {
      key,
      state: "writing",
      chunkSize,
      size: 0,
      ...(meta ? { meta } : {}),
      created,
      ...(lifetime ? { lifetime } : {}),
    };
    try {
      await db.run("readwrite", (store) => {
        store.put(state, entryKey(id));
        store.put(key, writingKey(id));
        if (claim) store.put({ id } as ProducingRecord, producingKey(key));
      });
    } catch (error) {
      hold.end();
      throw this.#failure("create entry", key, error);
    }
    const pending = new Pending(chunkSize);
    this.pending.set(id, pending);
    this.#holds.set(id, hold);
    if (claim) {
      this.#claimed.set(id, { key, hold: claim.hold });
      this.#init.messages?.post({ kind: "created", hash: claim.hash, id });
    }
    const record: LinkRecord = {
      key,
      id,
      meta,
      size: 0,
      created,
      accessed: created,
      ...(lifetime ? { lifetime } : {}),
    };
    return {
      id,
      write: (chunk) => this.#write(record, pending, chunk),
      commit: () => this.#commit(record, pending),
    };
  }

  /** The claim this store won: it creates the key's entry, or gives it up. */
  produce(claim: Won): ProduceClaim {
    this.#unused.add(claim.hold);
    const unclaim = () => {
      this.#unused.delete(claim.hold);
      claim.hold.end();
    };
    let created: string | undefined;
    return {
      kind: "produce",
      create: async (key, meta, options = {}) => {
        try {
          const writer = await this.create(key, meta, options, claim);
          created = writer.id;
          this.#unused.delete(claim.hold); // the entry's now
          return writer;
        } catch (error) {
          unclaim();
          throw error;
        }
      },
      abandon: async (reason) => {
        if (created === undefined) unclaim();
        else await this.failClaimed(created, describe(reason));
      },
    };
  }

  async #write(
    record: LinkRecord,
    pending: Pending,
    chunk: Uint8Array,
  ): Promise<void> {
    pending.append(chunk);
    const full = pending.full.slice();
    if (!full.length) return;
    const first = pending.stored / pending.chunkSize;
    try {
      await this.#init.db.run("readwrite", (store) => {
        for (const [i, bytes] of full.entries()) {
          store.put(bytes, chunkKey(record.id, first + i));
        }
      });
    } catch (error) {
      throw this.#failure("write entry", record.key, error);
    }
    pending.storedFull(full.length);
    this.#init.messages?.post({
      kind: "grew",
      id: record.id,
      size: pending.stored,
    });
  }

  async #commit(record: LinkRecord, pending: Pending): Promise<StoreRecord> {
    const { id, key } = record;
    const size = pending.size;
    const committed: LinkRecord = { ...record, size };
    const state: EntryState = {
      key,
      state: "committed",
      chunkSize: pending.chunkSize,
      size,
      ...(record.meta ? { meta: record.meta } : {}),
      created: record.created,
      ...(record.lifetime ? { lifetime: record.lifetime } : {}),
    };
    const claimed = this.#claimed.get(id);
    // Whole chunks are stored by write(); what is left is the tail.
    const last = pending.tailLength
      ? pending.tail.slice(0, pending.tailLength)
      : undefined;
    const index = pending.stored / pending.chunkSize;
    try {
      await this.#init.db.run("readwrite", async (store) => {
        if (last) store.put(last, chunkKey(id, index));
        store.put(state, entryKey(id));
        store.delete(writingKey(id));
        store.put(committed, linkKey(key));
        if (claimed) {
          const producing = await request<ProducingRecord | undefined>(
            store.get(producingKey(key)),
          );
          if (producing?.id === id) store.delete(producingKey(key));
        }
      });
    } catch (error) {
      throw this.#failure("commit entry", key, error);
    }
    pending.storedAll();
    this.pending.delete(id);
    this.#init.messages?.post({ kind: "committed", id, size });
    this.end(id);
    this.#init.committed(id, record.created);
    return committed;
  }

  /**
   * Ends the claim of an entry this store writes that failed: its followers
   * learn why (in the database too, for those that look after the message),
   * then its locks go. Once, whoever asks first (abandon, release, close).
   */
  failClaimed(id: string, reason: string): Promise<void> {
    const claimed = this.#claimed.get(id);
    if (!claimed) return Promise.resolve();
    claimed.failing ??= (async () => {
      try {
        await this.#init.db.run("readwrite", async (store) => {
          const producing = await request<ProducingRecord | undefined>(
            store.get(producingKey(claimed.key)),
          );
          if (producing?.id === id) {
            const failed: ProducingRecord = { id, failed: reason };
            store.put(failed, producingKey(claimed.key));
          }
        });
      } catch {
        // Followers still learn it from the message, or as a lost producer.
      }
      this.#init.messages?.post({ kind: "failed", id, reason });
      this.end(id);
    })();
    return claimed.failing;
  }

  /** Lets go of entry `id`'s locks (committed, failed or released). */
  end(id: string): void {
    this.pending.delete(id);
    this.#holds.get(id)?.end();
    this.#holds.delete(id);
    this.#claimed.get(id)?.hold.end();
    this.#claimed.delete(id);
  }

  /** The store closes: followers learn its claimed entries fail; every lock goes. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.#claimed.keys()].map((id) =>
        this.failClaimed(id, "its store was closed")
      ),
    );
    for (const hold of this.#unused) hold.end();
    this.#unused.clear();
    for (const id of [...this.#holds.keys()]) this.end(id);
  }

  /** The error a failed write, commit or create rejects with (SEMANTICS 18). */
  #failure(action: string, key: string, error: unknown): StreamCacheError {
    const { name, message } = (error ?? {}) as {
      name?: unknown;
      message?: unknown;
    };
    const why = String(message ?? error);
    return new StreamCacheError(
      `Cannot ${action} ${quoteKey(key)} in IndexedDB database ${
        quoteKey(this.#init.database)
      }: ${String(name ?? "Error")}${why ? `: ${why}` : ""}`,
      { cause: error },
    );
  }
}

/** A failure's reason, as followers are told it. */
function describe(reason: unknown): string {
  return reason instanceof Error
    ? `${reason.name}: ${reason.message}`
    : String(reason ?? "aborted");
}
