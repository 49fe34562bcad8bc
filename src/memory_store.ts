/**
 * The in-memory store: the default store of a {@linkcode StreamCache}.
 *
 * @module
 */

import { BlockLog } from "./_block_log.ts";
import { checkOffset } from "./_validate.ts";
import { EntryNotFoundError } from "./errors.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

/**
 * Options for {@linkcode MemoryStore}.
 *
 * @example Holding bytes in small blocks
 * ```ts
 * import { MemoryStore, StreamCache } from "@streamcache/streamcache";
 * import type { MemoryStoreOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: MemoryStoreOptions = { blockSize: 4 };
 * await using cache = new StreamCache({ store: new MemoryStore(options) });
 * const entry = await cache.getOrCreate("digits", () => new TextEncoder().encode("0123456789"));
 * assert.equal(await new Response(entry.readable()).text(), "0123456789"); // across 3 blocks
 * assert.throws(() => new MemoryStore({ blockSize: 0 }), RangeError);
 * ```
 */
export interface MemoryStoreOptions {
  /**
   * The size of the blocks bytes are held in. Writes of any size are copied
   * into blocks of this size, so memory is allocated in bounded pieces.
   *
   * @default {65536}
   */
  blockSize?: number;
}

const DEFAULT_BLOCK_SIZE = 64 * 1024;

/**
 * Keeps entries in memory, in blocks of a bounded size. Writes and reads copy,
 * so neither a producer reusing its buffer nor a reader changing a chunk it
 * received can change what anyone else sees (SEMANTICS 7). Nothing survives
 * the process.
 *
 * @example A cache in memory
 * ```ts
 * import { MemoryStore, StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache({ store: new MemoryStore({ blockSize: 16 * 1024 }) });
 * const entry = await cache.getOrCreate("hi", () => new TextEncoder().encode("hi"));
 * assert.equal(await entry.done, 2);
 * assert.equal(await new Response(entry.readable()).text(), "hi");
 * ```
 */
export class MemoryStore implements Store {
  readonly #blockSize: number;
  readonly #logs = new Map<string, BlockLog>();
  readonly #records = new Map<string, StoreRecord>();
  /** The key each committed id is the record of. */
  readonly #keyOf = new Map<string, string>();
  readonly #prefix = crypto.randomUUID();
  #nextId = 0;

  /**
   * Creates an empty store.
   *
   * @param options How to hold the bytes.
   */
  constructor(options: MemoryStoreOptions = {}) {
    const { blockSize = DEFAULT_BLOCK_SIZE } = options;
    checkOffset(blockSize, "blockSize", "create MemoryStore");
    if (blockSize === 0) {
      throw new RangeError(
        "Cannot create MemoryStore: blockSize must be a positive integer: received 0",
      );
    }
    this.#blockSize = blockSize;
  }

  /**
   * Starts a new entry; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer whose bytes are readable at once and looked up after commit.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions = {},
  ): Promise<StoreWriter> {
    // Unique beyond this process too: ids are used as HTTP validators.
    const id = `${this.#prefix}-${++this.#nextId}`;
    const log = new BlockLog(this.#blockSize);
    this.#logs.set(id, log);
    const { created = Date.now(), lifetime } = options;
    const records = this.#records;
    const keyOf = this.#keyOf;
    return Promise.resolve({
      id,
      write(chunk: Uint8Array): Promise<void> {
        log.append(chunk);
        return Promise.resolve();
      },
      commit(): Promise<StoreRecord> {
        log.seal();
        const record: StoreRecord = {
          key,
          id,
          meta,
          size: log.size,
          created,
          accessed: created,
          ...(lifetime ? { lifetime } : {}),
        };
        const replaced = records.get(key);
        if (replaced) keyOf.delete(replaced.id);
        records.set(key, record);
        keyOf.set(id, key);
        return Promise.resolve(record);
      },
    });
  }

  /**
   * Finds the committed entry for `key`; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined`.
   */
  lookup(key: string): Promise<StoreRecord | undefined> {
    return Promise.resolve(this.#records.get(key));
  }

  /**
   * Opens a reader over entry `id`; see {@linkcode Store.openReader}.
   *
   * @param id The entry's storage identity.
   * @returns A reader that copies bytes out, into a new array or the caller's.
   * @throws {EntryNotFoundError} If the store has no entry `id` (never created, or released).
   */
  openReader(id: string): Promise<StoreReader> {
    const log = this.#logs.get(id);
    if (log === undefined) {
      return Promise.reject(
        new EntryNotFoundError(
          `Cannot open reader: MemoryStore has no entry with id ${id}`,
        ),
      );
    }
    return Promise.resolve({
      read: (offset: number, length: number) =>
        Promise.resolve(log.read(offset, length)),
      readInto: (offset: number, view: Uint8Array) =>
        Promise.resolve(log.readInto(offset, view)),
      close: () => Promise.resolve(),
    });
  }

  /**
   * Unlinks `key` if it names entry `id`; see {@linkcode Store.remove}.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  remove(key: string, id: string): Promise<void> {
    if (this.#records.get(key)?.id === id) {
      this.#records.delete(key);
      this.#keyOf.delete(id);
    }
    return Promise.resolve();
  }

  /**
   * Frees entry `id`'s bytes; see {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  release(id: string): Promise<void> {
    this.#logs.delete(id);
    return Promise.resolve();
  }

  /**
   * Lists committed keys; see {@linkcode Store.keys}.
   *
   * @returns The keys of committed entries.
   */
  async *keys(): AsyncIterable<string> {
    yield* [...this.#records.keys()];
  }

  /**
   * Records that entry `id` was read at `time`, to the millisecond; see
   * {@linkcode Store.touch}.
   *
   * @param id The entry's storage identity.
   * @param time When it was read.
   */
  touch(id: string, time: number): Promise<void> {
    const key = this.#keyOf.get(id);
    const record = key === undefined ? undefined : this.#records.get(key);
    if (key !== undefined && record !== undefined) {
      const accessed = Math.max(record.accessed ?? 0, time);
      this.#records.set(key, { ...record, accessed });
    }
    return Promise.resolve();
  }

  /**
   * Lists every committed entry's record; see {@linkcode Store.records}.
   *
   * @returns The records, with their access times.
   */
  async *records(): AsyncIterable<StoreRecord> {
    yield* [...this.#records.values()];
  }

  /** Drops every entry. */
  close(): Promise<void> {
    this.#logs.clear();
    this.#records.clear();
    this.#keyOf.clear();
    return Promise.resolve();
  }
}
