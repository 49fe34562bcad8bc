/**
 * PartitionedStore: keys spread over several stores by rendezvous hashing,
 * so that adding a store moves only about 1/(N+1) of the keys.
 *
 * @module
 */

import {
  closeAll,
  outerClaim,
  outerProgress,
  outerRecord,
  outerWriter,
  recordsOf,
  splitId,
} from "./_composite_id.ts";
import { Rendezvous } from "./_rendezvous.ts";
import { EntryNotFoundError } from "./errors.ts";
import type { StoreClaim, StoreProgress } from "./shared_store.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

/**
 * Options for {@linkcode PartitionedStore}.
 *
 * @example Three disks, by name
 * ```ts
 * import { MemoryStore, PartitionedStore } from "@streamcache/streamcache";
 * import type { PartitionedStoreOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: PartitionedStoreOptions = {
 *   partitions: { "disk-a": new MemoryStore(), "disk-b": new MemoryStore(), "disk-c": new MemoryStore() },
 * };
 * const store = new PartitionedStore(options);
 * assert.ok(["disk-a", "disk-b", "disk-c"].includes(store.partitionOf("report.csv")));
 * await store.close();
 * ```
 */
export interface PartitionedStoreOptions {
  /**
   * The stores, by name; at least one. A key's store is the one whose name
   * and the key hash highest, so it depends on the names, not their order:
   * keep a store's name when the set changes, and only the keys the new set
   * gives to another store move.
   */
  readonly partitions: Readonly<Record<string, Store>>;
}

/**
 * A store made of several stores, each key kept in one of them, chosen by
 * rendezvous (highest random weight) hashing of the key and the stores'
 * names. Every method for a key goes to that key's store, every method for
 * an id to the store that made it (an id is `<index>/<the store's id>`), and
 * `keys` and `records` list every store.
 *
 * Adding a store moves about 1/(N+1) of the keys to it (and removing one
 * moves only its keys): a moved key is a miss in its new store, produced
 * afresh, while its entry in the old store is neither found nor listed any
 * more; it stays there until that store expires it (a RedisStore's `ttl`)
 * or it is cleared by other means.
 *
 * `claim` and `follow` are there when every store has them (a partitioned
 * fleet, say RedisStores on several Redis servers); then each key is
 * claimed in its own store.
 *
 * @example Keys spread over two stores
 * ```ts
 * import { MemoryStore, PartitionedStore, StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const a = new MemoryStore();
 * const b = new MemoryStore();
 * await using cache = new StreamCache({ store: new PartitionedStore({ partitions: { a, b } }) });
 * for (const key of ["one", "two", "three", "four"]) {
 *   const entry = await cache.getOrCreate(key, () => new TextEncoder().encode(key));
 *   await entry.done; // committed
 * }
 * let inA = 0;
 * for await (const _ of a.keys()) inA++;
 * let inB = 0;
 * for await (const _ of b.keys()) inB++;
 * assert.equal(inA + inB, 4); // each key in exactly one store
 * ```
 */
export class PartitionedStore implements Store {
  readonly #names: readonly string[];
  readonly #stores: readonly Store[];
  readonly #rendezvous: Rendezvous;
  /** Claims each key in its own store; there when every store can claim. */
  declare readonly claim?: (key: string) => Promise<StoreClaim>;
  /** Follows an entry in the store that made it; there with `claim`. */
  declare readonly follow?: (
    id: string,
    signal: AbortSignal,
  ) => AsyncIterable<StoreProgress>;

  /**
   * Creates a store over the given stores.
   *
   * @param options The stores, by name.
   */
  constructor(options: PartitionedStoreOptions) {
    const partitions = options?.partitions;
    if (typeof partitions !== "object" || partitions === null) {
      throw new TypeError(
        "Cannot create PartitionedStore: partitions must be an object of stores by name",
      );
    }
    const entries = Object.entries(partitions);
    if (entries.length === 0) {
      throw new RangeError(
        "Cannot create PartitionedStore: partitions must name at least one store",
      );
    }
    for (const [name, store] of entries) {
      if (typeof store?.create !== "function") {
        throw new TypeError(
          `Cannot create PartitionedStore: partition ${
            JSON.stringify(name)
          } is not a store`,
        );
      }
    }
    this.#names = entries.map(([name]) => name);
    this.#stores = entries.map(([, store]) => store);
    this.#rendezvous = new Rendezvous(this.#names);
    if (this.#stores.every((store) => store.claim && store.follow)) {
      this.claim = async (key) => {
        const index = this.#rendezvous.pick(key);
        return outerClaim(index, await this.#stores[index]!.claim!(key));
      };
      this.follow = (id, signal) => this.#follow(id, signal);
    }
  }

  /**
   * The name of the store that keeps `key`.
   *
   * @param key A key.
   * @returns The name of its store, as given in the options.
   */
  partitionOf(key: string): string {
    return this.#names[this.#rendezvous.pick(key)]!;
  }

  /**
   * Starts a new entry in the key's store; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer.
   */
  async create(
    key: string,
    meta: EntryMeta | undefined,
    options?: StoreCreateOptions,
  ): Promise<StoreWriter> {
    const index = this.#rendezvous.pick(key);
    const store = this.#stores[index]!;
    return outerWriter(index, await store.create(key, meta, options));
  }

  /**
   * Finds the committed entry for `key` in its store; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    const index = this.#rendezvous.pick(key);
    const record = await this.#stores[index]!.lookup(key);
    return record && outerRecord(index, record);
  }

  /**
   * Opens a reader over entry `id` in the store that made it; see
   * {@linkcode Store.openReader}.
   *
   * @param id The entry's storage identity.
   * @returns That store's reader.
   * @throws {EntryNotFoundError} If no store has entry `id`.
   */
  async openReader(id: string): Promise<StoreReader> {
    const at = splitId(id, this.#stores.length);
    if (!at) throw new EntryNotFoundError(this.#unknown("open reader", id));
    return await this.#stores[at.index]!.openReader(at.inner);
  }

  /**
   * Unlinks `key` if it names entry `id`, in the store that made `id`; see
   * {@linkcode Store.remove}.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    const at = splitId(id, this.#stores.length);
    if (at) await this.#stores[at.index]!.remove(key, at.inner);
  }

  /**
   * Frees entry `id` in the store that made it; see {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    const at = splitId(id, this.#stores.length);
    if (at) await this.#stores[at.index]!.release(at.inner);
  }

  /**
   * Lists the keys each store has and keeps (those hashed to it); see
   * {@linkcode Store.keys}.
   *
   * @returns The keys of committed entries.
   */
  async *keys(): AsyncIterable<string> {
    for (const [index, store] of this.#stores.entries()) {
      for await (const key of store.keys()) {
        if (this.#rendezvous.pick(key) === index) yield key;
      }
    }
  }

  /**
   * Records that entry `id` was read, in the store that made it (if it has
   * `touch`); see {@linkcode Store.touch}.
   *
   * @param id The entry's storage identity.
   * @param time When it was read.
   */
  async touch(id: string, time: number): Promise<void> {
    const at = splitId(id, this.#stores.length);
    if (at) await this.#stores[at.index]!.touch?.(at.inner, time);
  }

  /**
   * Lists the records each store has and keeps (of the keys hashed to it),
   * by `records()` where a store has it, else by looking each key up; see
   * {@linkcode Store.records}.
   *
   * @returns The records of committed entries.
   */
  async *records(): AsyncIterable<StoreRecord> {
    for (const [index, store] of this.#stores.entries()) {
      for await (const record of recordsOf(store)) {
        if (this.#rendezvous.pick(record.key) === index) {
          yield outerRecord(index, record);
        }
      }
    }
  }

  /** Closes every store (all of them, even if one fails). */
  async close(): Promise<void> {
    await closeAll(this.#stores);
  }

  async *#follow(
    id: string,
    signal: AbortSignal,
  ): AsyncIterable<StoreProgress> {
    const at = splitId(id, this.#stores.length);
    if (!at) throw new EntryNotFoundError(this.#unknown("follow", id));
    const store = this.#stores[at.index]!;
    yield* outerProgress(at.index, store.follow!(at.inner, signal));
  }

  #unknown(action: string, id: string): string {
    return `Cannot ${action}: PartitionedStore has no entry with id ${id}`;
  }
}
