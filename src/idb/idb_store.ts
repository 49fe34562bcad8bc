/**
 * A store that keeps entries in IndexedDB, for browsers and service workers.
 *
 * @module
 */

import { checkOffset, describeValue, quoteKey } from "../_validate.ts";
import { EntryNotFoundError, StreamCacheError } from "../errors.ts";
import type { StoreClaim, StoreProgress } from "../shared_store.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { readPending, readStored } from "./_chunks.ts";
import { claimKey } from "./_claim.ts";
import { Connection } from "./_connection.ts";
import { type FollowContext, followEntry } from "./_follow.ts";
import { request } from "./_idb_types.ts";
import {
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  links,
  writingKey,
} from "./_layout.ts";
import {
  type EntryHold,
  holdReader,
  ifUnread,
  ifWriterDead,
} from "./_liveness.ts";
import { globalLocks, type Locks } from "./_locks.ts";
import { Messages } from "./_messages.ts";
import { deleteEntry, sweep } from "./_sweep.ts";
import { Writers } from "./_writers.ts";
import { defaultSharing, type IndexedDbSharing } from "./idb_sharing.ts";

const DEFAULT_NAME = "streamcache";
const DEFAULT_CHUNK_SIZE = 64 * 1024;
const DEFAULT_ACCESS_RESOLUTION = 60_000;

/**
 * Options for {@linkcode IndexedDbStore}.
 *
 * @example A database of its own, in 16 KiB chunks
 * ```ts
 * import "fake-indexeddb/auto"; // Deno has no IndexedDB; a browser needs no such line
 * import { StreamCache } from "@streamcache/streamcache";
 * import { IndexedDbStore } from "@streamcache/streamcache/idb";
 * import type { IndexedDbStoreOptions } from "@streamcache/streamcache/idb";
 * import assert from "node:assert/strict";
 *
 * const options: IndexedDbStoreOptions = { name: "downloads", chunkSize: 16 * 1024 };
 * await using cache = new StreamCache({ store: new IndexedDbStore(options) });
 * const entry = await cache.getOrCreate("a.bin", () => new Uint8Array(40_000));
 * assert.equal(await entry.done, 40_000); // 3 chunks
 * assert.throws(() => new IndexedDbStore({ chunkSize: 0 }), RangeError);
 * ```
 */
export interface IndexedDbStoreOptions {
  /**
   * The name of the IndexedDB database; the store keeps it to itself (one
   * object store, made when the database is created).
   *
   * @default {"streamcache"}
   */
  name?: string;
  /**
   * The size of the chunks bytes are stored in: writes are gathered into
   * chunks of this size, and a read of a byte range reads only the chunks
   * it covers. Entries keep the chunk size they were written with.
   *
   * @default {65536}
   */
  chunkSize?: number;
  /**
   * The resolution of the access times kept in the database, in
   * milliseconds: `touch` writes an entry's access time when it moves on by
   * at least this much since the time last written, so a popular entry costs
   * at most one write per resolution; later touches are kept in memory,
   * returned by this store's lookups and listings, and written on `close()`.
   * `0` writes every touch that moves the time on.
   *
   * @default {60000}
   */
  accessResolution?: number;
  /**
   * How stores in other contexts of the origin (tabs, workers, the service
   * worker) are told of this one's writes, so that each key is produced
   * once between them: Web Locks and broadcast channels. By default the
   * realm's own `navigator.locks` and `BroadcastChannel`, where it has both
   * (browsers, Deno, Node 24); `false`, or a realm without them (Bun, Node
   * 20 and 22), gives a store without `claim` and `follow`: one producer per key
   * per context, as every store had before.
   */
  sharing?: IndexedDbSharing | false;
}

/** A touched entry's latest access time, and the one last written. */
interface Access {
  time: number;
  written: number;
}

/**
 * Keeps entries in an IndexedDB database, through `idb-keyval`'s
 * `createStore`, so a page or service worker keeps what it generated across
 * reloads and browser restarts (SEMANTICS 13-15):
 *
 * - Bytes are `Uint8Array` chunks of a fixed size, never Blobs (which some
 *   browsers cannot store, and which a Range read would load whole): small
 *   writes are gathered in memory into whole chunks, each stored once; a
 *   read of a byte range reads only its chunks. Readers of this store read
 *   the chunk still gathered from memory, so bytes are readable as soon as
 *   they are written.
 * - A commit is one transaction that stores the last chunk and makes the
 *   entry the key's (SEMANTICS 14). Transactions await IndexedDB requests
 *   and nothing else, so none commits early.
 * - A writer holds a Web Lock for its entry until it commits or is
 *   released; the browser lets a context's locks go when the context ends.
 *   An entry still written whose lock is free had a writer that died (a tab
 *   closed, a worker stopped, the browser killed): it is never served, since
 *   only commits link a key, and {@linkcode IndexedDbStore.sweep} reclaims
 *   its chunks, at start-up and when called. Without Web Locks (Bun, and
 *   Node's `fake-indexeddb`, where the database is this process's memory),
 *   the live writers are those this realm started and has not finished.
 * - A failed write (`QuotaExceededError` when the origin is out of space)
 *   fails only the entry being written, with a {@linkcode StreamCacheError}
 *   whose `cause` is the browser's error; the cache releases its chunks, and
 *   a bounded cache goes on evicting by its budget.
 * - A connection closed under the store (Safari closes idle ones) is opened
 *   again and the operation tried once more.
 * - Keys are data: any string is a valid key (SEMANTICS 15).
 *
 * Several stores (tabs, workers, the service worker) may share a database:
 * commits replace each other atomically, each store's sweep spares the
 * others' live writers and readers (readers hold a shared Web Lock, so an
 * entry released while another context reads it is deleted by its last
 * reader, or a sweep), and, with `claim` and `follow`, one context of the
 * origin produces each key while the others stream it (SEMANTICS 1, 19): the
 * claim is a Web Lock named for the key, followers wake on the writer's
 * `BroadcastChannel` messages, and a writer whose context died before it
 * committed is a `ProducerLostError` for them. Without Web Locks and
 * `BroadcastChannel` (Bun, Node 20 and 22; or {@linkcode IndexedDbStoreOptions.sharing}
 * `false`) the store has no `claim` and `follow`.
 *
 * @example A cache that survives a reload
 * ```ts
 * import "fake-indexeddb/auto"; // Deno has no IndexedDB; a browser needs no such line
 * import { StreamCache } from "@streamcache/streamcache";
 * import { IndexedDbStore } from "@streamcache/streamcache/idb";
 * import assert from "node:assert/strict";
 *
 * const name = "reload-example";
 * {
 *   await using cache = new StreamCache({ store: new IndexedDbStore({ name }) });
 *   await (await cache.getOrCreate("hello", () => new TextEncoder().encode("hi!"))).done;
 * }
 * await using cache = new StreamCache({ store: new IndexedDbStore({ name }) });
 * const entry = await cache.getOrCreate("hello", () => {
 *   throw new Error("not called: the entry is in IndexedDB");
 * });
 * assert.equal(await new Response(entry.readable()).text(), "hi!");
 * ```
 */
export class IndexedDbStore implements Store {
  readonly #name: string;
  readonly #chunkSize: number;
  readonly #resolution: number;
  readonly #db: Connection;
  /** The start-up sweep. */
  readonly #swept: Promise<unknown>;
  /** The entries this store writes. */
  readonly #writers: Writers;
  /** Web Locks, where there are: the liveness of writers and readers. */
  readonly #locks: Locks | undefined;
  /** What the other contexts are told, if the store is shared. */
  readonly #messages: Messages | undefined;
  /** The holds of this store's open readers. */
  readonly #readers = new Set<EntryHold>();
  /** Aborted on close: stops the claims waiting and the entries followed. */
  readonly #closing = new AbortController();
  /** Access times of committed entries this store touched or committed. */
  readonly #access = new Map<string, Access>();
  #closed = false;

  /**
   * Opens (or creates) the database and starts sweeping dead writers' entries.
   *
   * @param options The database's name, the chunk size and the access-time resolution.
   */
  constructor(options: IndexedDbStoreOptions = {}) {
    const action = "create IndexedDbStore";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${action}: options must be an object: received ${
          describeValue(options)
        }`,
      );
    }
    const {
      name = DEFAULT_NAME,
      chunkSize = DEFAULT_CHUNK_SIZE,
      accessResolution = DEFAULT_ACCESS_RESOLUTION,
      sharing = defaultSharing() ?? false,
    } = options;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Cannot ${action}: name must be a non-empty string: received ${
          name === "" ? '""' : describeValue(name)
        }`,
      );
    }
    checkOffset(chunkSize, "chunkSize", action);
    if (chunkSize === 0) {
      throw new RangeError(
        `Cannot ${action}: chunkSize must be a positive integer: received 0`,
      );
    }
    checkOffset(accessResolution, "accessResolution", action);
    if (
      sharing !== false &&
      (typeof sharing?.locks?.request !== "function" ||
        typeof sharing.channel !== "function")
    ) {
      throw new TypeError(
        `Cannot ${action}: sharing must be false or { locks, channel }: received ${
          describeValue(sharing)
        }`,
      );
    }
    this.#name = name;
    this.#locks = sharing ? sharing.locks : globalLocks();
    this.#chunkSize = chunkSize;
    this.#resolution = accessResolution;
    this.#db = new Connection(name);
    if (sharing) {
      const messages = new Messages(sharing, name);
      this.#messages = messages;
      const context: FollowContext = {
        db: this.#db,
        locks: sharing.locks,
        messages,
        database: name,
      };
      this.claim = (key) => this.#claim(key, context);
      this.follow = (id, signal) => this.#follow(id, signal, context);
    }
    this.#writers = new Writers({
      db: this.#db,
      database: name,
      chunkSize,
      locks: this.#locks,
      messages: this.#messages,
      committed: (id, created) =>
        this.#access.set(id, { time: created, written: created }),
    });
    this.#swept = this.sweep().catch(() => {});
  }

  /**
   * Claims `key` for this context, which then produces it, or names the
   * entry another context of the origin produces (or has just committed);
   * see {@linkcode Store.claim}. The claim is a Web Lock named for the key,
   * held until the entry commits or fails, or the context ends. Absent
   * without sharing ({@linkcode IndexedDbStoreOptions.sharing}).
   *
   * @param key The key to produce.
   * @returns Who produces it.
   */
  readonly claim?: (key: string) => Promise<StoreClaim>;

  /**
   * Reports entry `id`, written by another context, as it is stored: woken
   * by its writer's messages and by its writer's Web Lock, granted once the
   * writer is gone; a writer that died before committing is a
   * `ProducerLostError`. See {@linkcode Store.follow}. Absent without
   * sharing.
   *
   * @param id The entry a claim named.
   * @param signal Stops following.
   * @returns Its growing size, then its record.
   */
  readonly follow?: (
    id: string,
    signal: AbortSignal,
  ) => AsyncIterable<StoreProgress>;

  /** The name of the IndexedDB database. */
  get name(): string {
    return this.#name;
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new StreamCacheError(
        `Cannot ${action}: IndexedDbStore ${quoteKey(this.#name)} is closed`,
      );
    }
  }

  /**
   * Starts a new entry; see {@linkcode Store.create}. Its writer holds a Web
   * Lock until it commits or is released, so no sweep reclaims it meanwhile.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer whose bytes this store's readers see at once.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions = {},
  ): Promise<StoreWriter> {
    this.#checkOpen("create entry in IndexedDbStore");
    return this.#writers.create(key, meta, options, undefined);
  }

  async #claim(key: string, context: FollowContext): Promise<StoreClaim> {
    this.#checkOpen("claim a key");
    const claim = await claimKey(
      context,
      key,
      this.#closing.signal,
      () => this.#checkOpen("claim a key"),
    );
    return claim.kind === "follow" ? claim : this.#writers.produce(claim);
  }

  async *#follow(
    id: string,
    signal: AbortSignal,
    context: FollowContext,
  ): AsyncIterable<StoreProgress> {
    this.#checkOpen("follow an entry");
    const both = AbortSignal.any([signal, this.#closing.signal]);
    yield* followEntry(context, id, both);
  }

  /** `record` with the latest access time this store knows of. */
  #withAccess(record: LinkRecord): StoreRecord {
    const access = this.#access.get(record.id);
    return access && access.time > (record.accessed ?? record.created)
      ? { ...record, accessed: access.time }
      : record;
  }

  /**
   * Finds the committed entry for `key`; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    this.#checkOpen("look up entry");
    const record = await this.#db.run(
      "readonly",
      (store) => request<LinkRecord | undefined>(store.get(linkKey(key))),
    );
    return record && this.#withAccess(record);
  }

  /**
   * Opens a reader over entry `id`; see {@linkcode Store.openReader}.
   *
   * @param id The entry's storage identity.
   * @returns A reader that reads only the chunks a read covers.
   * @throws {EntryNotFoundError} If the database has no entry `id` (never created, or released).
   */
  async openReader(id: string): Promise<StoreReader> {
    this.#checkOpen("open reader");
    // Held while it is open: no context deletes the entry meanwhile.
    const hold = await holdReader(this.#locks, this.#name, id);
    this.#readers.add(hold);
    const close = () => this.#closeReader(id, hold);
    const db = this.#db;
    try {
      const pending = this.#writers.pending.get(id);
      if (pending) {
        return {
          read: (offset, length) =>
            readPending(db, id, pending, offset, offset + length),
          close,
        };
      }
      const state = await db.run(
        "readonly",
        (store) => request<EntryState | undefined>(store.get(entryKey(id))),
      );
      if (state === undefined || state.state === "released") {
        throw new EntryNotFoundError(
          `Cannot open reader: IndexedDbStore ${
            quoteKey(this.#name)
          } has no entry with id ${id}`,
        );
      }
      // Written by another store: as far as its stored chunks go.
      const size = state.state === "committed" ? state.size : Infinity;
      return {
        read: (offset, length) =>
          readStored(
            db,
            id,
            state.chunkSize,
            offset,
            Math.min(offset + length, size),
          ),
        close,
      };
    } catch (error) {
      await close();
      throw error;
    }
  }

  /**
   * A reader closed: if its entry was released while it read (by a store in
   * another context), the last reader deletes it.
   */
  async #closeReader(id: string, hold: EntryHold): Promise<void> {
    hold.end();
    if (!this.#readers.delete(hold) || this.#closed) return;
    try {
      await hold.released;
      await ifUnread(this.#locks, this.#name, id, async () => {
        const state = await this.#db.run(
          "readonly",
          (store) => request<EntryState | undefined>(store.get(entryKey(id))),
        );
        return state?.state === "released" && await this.#delete(id);
      });
    } catch {
      // Left for a sweep: closing a reader does not fail.
    }
  }

  /** Deletes every record of entry `id` (not its key's link). */
  #delete(id: string): Promise<true> {
    return this.#db.run("readwrite", (store) => {
      deleteEntry(store, id);
      return true as const;
    });
  }

  /**
   * Unlinks `key` if it names entry `id`; see {@linkcode Store.remove}.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    this.#checkOpen("remove entry");
    await this.#db.run("readwrite", async (store) => {
      const link = await request<LinkRecord | undefined>(
        store.get(linkKey(key)),
      );
      if (link?.id === id) store.delete(linkKey(key));
    });
  }

  /**
   * Deletes entry `id`'s chunks; see {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    this.#checkOpen("release entry");
    // A claimed entry that failed is released as it fails, and the cache
    // abandons its claim, with the failure's reason, a microtask later:
    // yield to that, so followers learn the reason.
    await undefined;
    await this.#writers.failClaimed(id, "its producer failed");
    this.#access.delete(id);
    try {
      if (this.#writers.writes(id)) await this.#reclaim(id);
      // Another context's live writer keeps its entry.
      else {
        await ifWriterDead(
          this.#locks,
          this.#name,
          id,
          () => this.#reclaim(id),
        );
      }
    } finally {
      this.#writers.end(id);
    }
  }

  /**
   * Deletes entry `id`, or, while a reader in another context still reads
   * it, marks it released: that reader, when it closes last, or a sweep
   * deletes it (SEMANTICS 10).
   */
  async #reclaim(id: string): Promise<boolean> {
    const unread = () =>
      ifUnread(this.#locks, this.#name, id, () => this.#delete(id));
    if (await unread()) return true;
    await this.#db.run("readwrite", async (store) => {
      const state = await request<EntryState | undefined>(
        store.get(entryKey(id)),
      );
      if (state) {
        const released: EntryState = { ...state, state: "released" };
        store.put(released, entryKey(id));
      }
      store.delete(writingKey(id));
    });
    // Its last reader may have closed before the mark: then it is ours.
    return await unread();
  }

  /**
   * Lists committed keys; see {@linkcode Store.keys}.
   *
   * @returns The keys of committed entries, read in one transaction.
   */
  async *keys(): AsyncIterable<string> {
    this.#checkOpen("list keys");
    const keys = await this.#db.run(
      "readonly",
      (store) => request<[string, string][]>(store.getAllKeys(links())),
    );
    for (const key of keys) yield key[1];
  }

  /**
   * Lists every committed entry's record; see {@linkcode Store.records}.
   *
   * @returns The records, with their access times, read in one transaction.
   */
  async *records(): AsyncIterable<StoreRecord> {
    this.#checkOpen("list records");
    const records = await this.#db.run(
      "readonly",
      (store) => request<LinkRecord[]>(store.getAll(links())),
    );
    for (const record of records) yield this.#withAccess(record);
  }

  /**
   * Records that entry `id` was read at `time`; see {@linkcode Store.touch}
   * and {@linkcode IndexedDbStoreOptions.accessResolution}.
   *
   * @param id The entry's storage identity.
   * @param time When it was read.
   */
  async touch(id: string, time: number): Promise<void> {
    this.#checkOpen("touch entry");
    const access = this.#access.get(id);
    if (access) {
      if (time <= access.time) return;
      access.time = time;
      if (time - access.written < this.#resolution) return;
    }
    if (await this.#writeAccess(id, time)) {
      this.#access.set(id, { time, written: time });
    }
  }

  /** Writes `time` as entry `id`'s access time if it is a committed key's and later; whether it is. */
  #writeAccess(id: string, time: number): Promise<boolean> {
    return this.#db.run("readwrite", async (store) => {
      const state = await request<EntryState | undefined>(
        store.get(entryKey(id)),
      );
      if (state?.state !== "committed") return false;
      const link = await request<LinkRecord | undefined>(
        store.get(linkKey(state.key)),
      );
      if (link?.id !== id) return false;
      if (time > (link.accessed ?? link.created)) {
        store.put({ ...link, accessed: time }, linkKey(state.key));
      }
      return true;
    });
  }

  /**
   * Reclaims the chunks of every entry whose writer died before it
   * committed, in any context of the origin (SEMANTICS 13). The store runs
   * it when it opens; call it again to reclaim what writers that died since
   * left behind. Live writers, in this context or another, are spared.
   *
   * @example Sparing a live writer, reclaiming a dead one's entry
   * ```ts
   * import "fake-indexeddb/auto"; // Deno has no IndexedDB; a browser needs no such line
   * import { IndexedDbStore } from "@streamcache/streamcache/idb";
   * import assert from "node:assert/strict";
   *
   * const first = new IndexedDbStore({ name: "sweep-example" });
   * const second = new IndexedDbStore({ name: "sweep-example" }); // another tab, say
   * const writer = await first.create("partial", undefined);
   * await writer.write(new Uint8Array(10));
   * assert.equal(await second.sweep(), 0); // its writer is alive
   * await first.close(); // its writer is gone: it never commits
   * assert.equal(await second.sweep(), 1);
   * assert.equal(await second.lookup("partial"), undefined);
   * await second.close();
   * ```
   *
   * @returns How many entries were reclaimed.
   */
  async sweep(): Promise<number> {
    this.#checkOpen("sweep");
    return await sweep({
      db: this.#db,
      locks: this.#locks,
      database: this.#name,
      busy: (id) => this.#writers.writes(id),
    });
  }

  /**
   * Writes the access times kept in memory, lets go of unfinished writers
   * (their entries are swept as a dead writer's), and closes the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#swept;
    this.#closed = true;
    this.#closing.abort();
    try {
      // Followers elsewhere learn that its entries will not be committed.
      await this.#writers.close();
      for (const [id, access] of this.#access) {
        if (access.time > access.written) {
          await this.#writeAccess(id, access.time);
        }
      }
    } finally {
      await this.#writers.close(); // if the access times failed first
      for (const hold of this.#readers) hold.end();
      this.#readers.clear();
      this.#messages?.close();
      this.#access.clear();
      await this.#db.close();
    }
  }
}
