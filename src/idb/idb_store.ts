/**
 * A store that keeps entries in IndexedDB, for browsers and service workers.
 *
 * @module
 */

import {
  checkOffset,
  describeValue,
  freezeMeta,
  quoteKey,
} from "../_validate.ts";
import { EntryNotFoundError, StreamCacheError } from "../errors.ts";
import { checkCreateOptions } from "../_record_lifetime.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { Pending, readPending, readStored } from "./_chunks.ts";
import { Connection } from "./_connection.ts";
import { request } from "./_idb_types.ts";
import {
  allChunks,
  chunkKey,
  entryKey,
  type EntryState,
  linkKey,
  type LinkRecord,
  links,
  writingKey,
  writings,
} from "./_layout.ts";
import { holdWriter, ifWriterDead, type WriterHold } from "./_liveness.ts";

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
 * Several stores (tabs, workers) may share a database: commits replace
 * each other atomically, and each store's sweep spares the others' live
 * writers.
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
  /** Entries this store is writing, by id; their readers share the object. */
  readonly #pending = new Map<string, Pending>();
  readonly #holds = new Map<string, WriterHold>();
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
    this.#name = name;
    this.#chunkSize = chunkSize;
    this.#resolution = accessResolution;
    this.#db = new Connection(name);
    this.#swept = this.sweep().catch(() => {});
  }

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
  async create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions = {},
  ): Promise<StoreWriter> {
    const action = "create entry in IndexedDbStore";
    this.#checkOpen(action);
    meta = freezeMeta(meta, action);
    const { created, lifetime } = checkCreateOptions(options, action);
    const id = crypto.randomUUID();
    const hold = await holdWriter(this.#name, id);
    const chunkSize = this.#chunkSize;
    const state: EntryState = { key, state: "writing", chunkSize, size: 0 };
    try {
      await this.#db.run("readwrite", (store) => {
        store.put(state, entryKey(id));
        store.put(key, writingKey(id));
      });
    } catch (error) {
      hold.end();
      throw this.#failure("create entry", key, error);
    }
    const pending = new Pending(chunkSize);
    this.#pending.set(id, pending);
    this.#holds.set(id, hold);
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
      await this.#db.run("readwrite", (store) => {
        for (const [i, bytes] of full.entries()) {
          store.put(bytes, chunkKey(record.id, first + i));
        }
      });
    } catch (error) {
      throw this.#failure("write entry", record.key, error);
    }
    pending.storedFull(full.length);
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
    };
    // Whole chunks are stored by write(); what is left is the tail.
    const last = pending.tailLength
      ? pending.tail.slice(0, pending.tailLength)
      : undefined;
    const index = pending.stored / pending.chunkSize;
    try {
      await this.#db.run("readwrite", (store) => {
        if (last) store.put(last, chunkKey(id, index));
        store.put(state, entryKey(id));
        store.delete(writingKey(id));
        store.put(committed, linkKey(key));
      });
    } catch (error) {
      throw this.#failure("commit entry", key, error);
    }
    pending.storedAll();
    this.#pending.delete(id);
    this.#holds.get(id)?.end();
    this.#holds.delete(id);
    this.#access.set(id, { time: record.created, written: record.created });
    return committed;
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
        quoteKey(this.#name)
      }: ${String(name ?? "Error")}${why ? `: ${why}` : ""}`,
      { cause: error },
    );
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
    const pending = this.#pending.get(id);
    const db = this.#db;
    if (pending) {
      return {
        read: (offset, length) =>
          readPending(db, id, pending, offset, offset + length),
        close: () => Promise.resolve(),
      };
    }
    const state = await db.run(
      "readonly",
      (store) => request<EntryState | undefined>(store.get(entryKey(id))),
    );
    if (state === undefined) {
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
      close: () => Promise.resolve(),
    };
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
    this.#pending.delete(id);
    this.#access.delete(id);
    try {
      await this.#db.run("readwrite", (store) => {
        store.delete(entryKey(id));
        store.delete(writingKey(id));
        store.delete(allChunks(id));
      });
    } finally {
      this.#holds.get(id)?.end();
      this.#holds.delete(id);
    }
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
    const ids = (await this.#db.run(
      "readonly",
      (store) => request<[string, string][]>(store.getAllKeys(writings())),
    )).map((key) => key[1])
      .filter((id) => !this.#pending.has(id));
    let reclaimed = 0;
    for (const id of ids) {
      const dead = await ifWriterDead(
        this.#name,
        id,
        () =>
          this.#db.run("readwrite", async (store) => {
            // Committed or released since it was listed: not ours to touch.
            const marker = await request(store.get(writingKey(id)));
            if (marker === undefined) return false;
            store.delete(entryKey(id));
            store.delete(writingKey(id));
            store.delete(allChunks(id));
            return true;
          }),
      );
      if (dead) reclaimed++;
    }
    return reclaimed;
  }

  /**
   * Writes the access times kept in memory, lets go of unfinished writers
   * (their entries are swept as a dead writer's), and closes the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#swept;
    this.#closed = true;
    try {
      for (const [id, access] of this.#access) {
        if (access.time > access.written) {
          await this.#writeAccess(id, access.time);
        }
      }
    } finally {
      for (const hold of this.#holds.values()) hold.end();
      this.#holds.clear();
      this.#pending.clear();
      this.#access.clear();
      await this.#db.close();
    }
  }
}
