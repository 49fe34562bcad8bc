/**
 * LayeredStore: a fast local store over a slower or shared one (an FsStore
 * over a RedisStore, say), as one store.
 *
 * @module
 */

import {
  closeAll,
  composeId,
  outerProgress,
  outerRecord,
  recordsOf,
  settleAll,
  splitId,
} from "./_composite_id.ts";
import {
  committed,
  type Copy,
  type CopySource,
  copyUp,
} from "./_layer_copy.ts";
import { EntryNotFoundError } from "./errors.ts";
import type {
  ProduceClaim,
  StoreClaim,
  StoreProgress,
} from "./shared_store.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

/**
 * Options for {@linkcode LayeredStore}.
 *
 * @example A memory layer over a disk
 * ```ts
 * import { LayeredStore, MemoryStore } from "@streamcache/streamcache";
 * import type { LayeredStoreOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: LayeredStoreOptions = { layers: [new MemoryStore(), new MemoryStore()] };
 * const store = new LayeredStore(options);
 * assert.equal(store.claim, undefined); // no layer is shared
 * await store.close();
 * ```
 */
export interface LayeredStoreOptions {
  /**
   * The stores, top first: the fastest (local) one first, the shared or
   * slowest one last. At least one.
   */
  readonly layers: readonly Store[];
}

/** Another layer's entry made along with an entry of the layered store. */
interface Sibling {
  readonly index: number;
  readonly inner: string;
  readonly key: string;
}

/**
 * A store made of layers, top (fast, local) first and bottom (shared)
 * last, as fscache's `NewLayered`:
 *
 * - `lookup` asks the layers top down. A hit in a lower layer is served at
 *   once, from that layer, and copied up into the layers above it in the
 *   background, once however many lookups hit it meanwhile (an entry
 *   `records()` listed from a lower layer, when it is first read); readers
 *   opened on it after the copy committed read the top layer's copy. A copy that
 *   fails, or finds the key taken (created, removed) before it commits, is
 *   dropped: neither the readers nor the lower entry depend on it.
 * - `create` writes every layer (the bottom one created first), and
 *   `commit` commits them bottom up, so the top holds an entry only once
 *   the shared layer does. A failure in any layer fails the entry.
 * - `remove(key, id)` takes the key out of every layer: it unlinks entry
 *   `id` in its own layer and whatever the other layers hold for the key,
 *   unless `id`'s layer has a newer entry for the key (then nothing). So a
 *   cache's delete, or eviction, is a miss in every layer after.
 * - `release(id)` frees `id`, and the other layers' entries written with
 *   it (by its `create` or a copy of it) that are no longer their layer's
 *   entry for the key.
 * - `keys` and `records` list every layer, each key once, with the record
 *   of the topmost layer that has it; `touch` goes to the layer of the id.
 *   A cache's bounds (`maxBytes`, `ttl`) thus count and evict the entries
 *   of all layers together.
 * - `claim` and `follow` are the bottom layer's, when it has them: one
 *   process in the fleet produces the key (writing every layer of its own
 *   store), and the others follow the entry in the bottom layer, reading it
 *   from there as it grows while copying it up into their own layers.
 *
 * An id is `<layer>/<the layer's id>`. Layers are caches of each other, not
 * replicas: an upper layer keeps its copy when another process replaces
 * the key in a shared layer, until the copy expires or is removed.
 *
 * @example A hit below is served at once and copied up once
 * ```ts
 * import { LayeredStore, MemoryStore, StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const top = new MemoryStore();
 * const bottom = new MemoryStore();
 * const writer = await bottom.create("report", { type: "text/csv" });
 * await writer.write(new TextEncoder().encode("id,total\n"));
 * await writer.commit(); // made elsewhere: only the bottom layer has it
 *
 * const layered = new LayeredStore({ layers: [top, bottom] });
 * await using cache = new StreamCache({ store: layered });
 * const entry = await cache.getOrCreate("report", () => {
 *   throw new Error("not produced: the bottom layer has it");
 * });
 * assert.equal(await new Response(entry.readable()).text(), "id,total\n");
 * await layered.whenCopied();
 * assert.equal((await top.lookup("report"))?.size, 9); // copied up
 * ```
 */
export class LayeredStore implements Store {
  readonly #layers: readonly Store[];
  /** Entries of other layers written with an entry, by its (outer) id. */
  readonly #siblings = new Map<string, Sibling[]>();
  /** The top layer's copy of a lower entry, once committed: by the entry's id. */
  readonly #copied = new Map<string, string>();
  /**
   * Entries `records()` listed from a lower layer, by id: copied up when
   * first read (a cache learns of them at start, and looks none of them up).
   */
  readonly #listed = new Map<string, StoreRecord>();
  /** Copies up running, by key: one per key. */
  readonly #copies = new Map<string, Copy>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  /** The bottom layer's `claim`, when it has one: see {@linkcode Store.claim}. */
  declare readonly claim?: (key: string) => Promise<StoreClaim>;
  /** The bottom layer's `follow`, with `claim`: see {@linkcode Store.follow}. */
  declare readonly follow?: (
    id: string,
    signal: AbortSignal,
  ) => AsyncIterable<StoreProgress>;

  /**
   * Creates a store over the given layers.
   *
   * @param options The layers, top first.
   */
  constructor(options: LayeredStoreOptions) {
    const layers = options?.layers;
    if (!Array.isArray(layers)) {
      throw new TypeError(
        "Cannot create LayeredStore: layers must be an array of stores, top first",
      );
    }
    if (layers.length === 0) {
      throw new RangeError(
        "Cannot create LayeredStore: layers must hold at least one store",
      );
    }
    layers.forEach((store, index) => {
      if (typeof store?.create !== "function") {
        throw new TypeError(
          `Cannot create LayeredStore: layer ${index} is not a store`,
        );
      }
    });
    this.#layers = [...layers];
    const bottom = this.#layers.at(-1)!;
    if (bottom.claim && bottom.follow) {
      this.claim = (key) => this.#claim(key);
      this.follow = (id, signal) => this.#follow(id, signal);
    }
  }

  /**
   * Starts a new entry in every layer; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer that writes every layer; its id is the top layer's entry.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options?: StoreCreateOptions,
  ): Promise<StoreWriter> {
    const bottom = this.#layers.at(-1)!;
    return this.#create(
      key,
      meta,
      options,
      (...args) => bottom.create(...args),
    );
  }

  /**
   * Finds the committed entry for `key` in the topmost layer that has one,
   * and copies a lower layer's up; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, from the layer it was found in, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    for (const [index, layer] of this.#layers.entries()) {
      const record = await layer.lookup(key);
      if (!record) continue;
      if (index > 0) this.#copyCommitted(index, record);
      return outerRecord(index, record);
    }
    return undefined;
  }

  /**
   * Opens a reader over entry `id`: over its copy in the top layer once one
   * is committed (the same bytes), else in its own layer; see
   * {@linkcode Store.openReader}.
   *
   * @param id The entry's storage identity.
   * @returns A reader of the top layer's copy, or of the entry's own layer.
   * @throws {EntryNotFoundError} If no layer has entry `id`.
   */
  async openReader(id: string): Promise<StoreReader> {
    const at = splitId(id, this.#layers.length);
    if (!at) {
      throw new EntryNotFoundError(
        `Cannot open reader: LayeredStore has no entry with id ${id}`,
      );
    }
    const listed = this.#listed.get(id);
    if (listed) {
      this.#listed.delete(id);
      this.#copyCommitted(at.index, listed);
    }
    const copy = this.#copied.get(id);
    if (copy !== undefined) {
      try {
        return await this.#layers[0]!.openReader(copy);
      } catch (error) {
        if (!(error instanceof EntryNotFoundError)) throw error;
        this.#copied.delete(id); // gone: read the entry itself
      }
    }
    return await this.#layers[at.index]!.openReader(at.inner);
  }

  /**
   * Takes `key` out of every layer, unless the layer of `id` has a newer
   * entry for it; see {@linkcode Store.remove}.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    const at = splitId(id, this.#layers.length);
    if (!at) return;
    const current = await this.#layers[at.index]!.lookup(key);
    if (current && current.id !== at.inner) return; // replaced: keep it
    this.#cancelCopy(key);
    await Promise.all(this.#layers.map(async (layer, index) => {
      if (index === at.index) return await layer.remove(key, at.inner);
      const held = await layer.lookup(key);
      if (held) await layer.remove(key, held.id);
    }));
  }

  /**
   * Frees entry `id`, and the entries written with it in other layers that
   * are no longer their layer's entry for the key; see {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    const at = splitId(id, this.#layers.length);
    if (!at) return;
    const siblings = this.#siblings.get(id) ?? [];
    this.#siblings.delete(id);
    this.#copied.delete(id);
    this.#listed.delete(id);
    await settleAll([
      this.#layers[at.index]!.release(at.inner),
      ...siblings.map(async ({ index, inner, key }) => {
        const layer = this.#layers[index]!;
        if ((await layer.lookup(key))?.id !== inner) await layer.release(inner);
      }),
    ]);
  }

  /**
   * Lists the keys of every layer, each once; see {@linkcode Store.keys}.
   *
   * @returns The keys of committed entries.
   */
  async *keys(): AsyncIterable<string> {
    const seen = new Set<string>();
    for (const layer of this.#layers) {
      for await (const key of layer.keys()) {
        if (seen.has(key)) continue;
        seen.add(key);
        yield key;
      }
    }
  }

  /**
   * Records an access in the layer of `id`, if it has `touch`; see
   * {@linkcode Store.touch}.
   *
   * @param id The entry's storage identity.
   * @param time When it was read.
   */
  async touch(id: string, time: number): Promise<void> {
    const at = splitId(id, this.#layers.length);
    if (at) await this.#layers[at.index]!.touch?.(at.inner, time);
  }

  /**
   * Lists, for every key in any layer, the record of the topmost layer that
   * has it; see {@linkcode Store.records}.
   *
   * @returns The records, with their access times where the layer keeps them.
   */
  async *records(): AsyncIterable<StoreRecord> {
    const seen = new Set<string>();
    for (const [index, layer] of this.#layers.entries()) {
      for await (const record of recordsOf(layer)) {
        if (seen.has(record.key)) continue;
        seen.add(record.key);
        const outer = outerRecord(index, record);
        if (index > 0 && !this.#closed) this.#listed.set(outer.id, record);
        yield outer;
      }
    }
  }

  /**
   * Resolves once every copy up running now has ended, kept or dropped.
   *
   * @example Waiting for a copy up
   * ```ts
   * import { LayeredStore, MemoryStore } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * const top = new MemoryStore();
   * const bottom = new MemoryStore();
   * await (await bottom.create("k", undefined)).commit();
   * const store = new LayeredStore({ layers: [top, bottom] });
   * assert.match((await store.lookup("k"))!.id, /^1\//); // found in layer 1
   * await store.whenCopied();
   * assert.match((await store.lookup("k"))!.id, /^0\//); // now in layer 0
   * await store.close();
   * ```
   *
   * @returns A promise that resolves (never rejects) when they have ended.
   */
  async whenCopied(): Promise<void> {
    while (this.#running.size) await Promise.all(this.#running);
  }

  /** Stops the copies up, then closes every layer (all, even if one fails). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const copy of this.#copies.values()) {
      copy.cancelled = true;
      copy.stop.abort();
    }
    await this.whenCopied();
    this.#siblings.clear();
    this.#copied.clear();
    this.#listed.clear();
    await closeAll(this.#layers);
  }

  /** Creates `key` in every layer, its bottom entry by `createBottom`. */
  async #create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions | undefined,
    createBottom: ProduceClaim["create"],
  ): Promise<StoreWriter> {
    this.#cancelCopy(key); // a copy of an older entry must not cover this one
    const last = this.#layers.length - 1;
    const writers: StoreWriter[] = [];
    try {
      writers[last] = await createBottom(key, meta, options);
      for (let index = 0; index < last; index++) {
        writers[index] = await this.#layers[index]!.create(key, meta, options);
      }
    } catch (error) {
      await Promise.allSettled(
        writers.map((writer, index) => this.#layers[index]!.release(writer.id)),
      );
      throw error;
    }
    const id = composeId(0, writers[0]!.id);
    this.#siblings.set(
      id,
      writers.slice(1).map((writer, at) => ({
        index: at + 1,
        inner: writer.id,
        key,
      })),
    );
    return {
      id,
      write: async (chunk) => {
        await Promise.all(writers.map((writer) => writer.write(chunk)));
      },
      commit: async () => {
        // The shared layer decides; the top holds the entry last.
        let top: StoreRecord | undefined;
        for (let index = last; index >= 0; index--) {
          top = await writers[index]!.commit();
        }
        this.#cancelCopy(key);
        return outerRecord(0, top!);
      },
    };
  }

  async #claim(key: string): Promise<StoreClaim> {
    const last = this.#layers.length - 1;
    const bottom = this.#layers[last]!;
    const claim = await bottom.claim!(key);
    if (claim.kind === "follow") {
      this.#copyUp(key, last, {
        store: bottom,
        id: claim.id,
        meta: claim.meta,
        lifetime: claim.lifetime,
        progress: (signal) => bottom.follow!(claim.id, signal),
      });
      return { ...claim, id: composeId(last, claim.id) };
    }
    return {
      kind: "produce",
      create: (key, meta, options) =>
        this.#create(key, meta, options, (...args) => claim.create(...args)),
      abandon: (reason) => claim.abandon(reason),
    };
  }

  async *#follow(
    id: string,
    signal: AbortSignal,
  ): AsyncIterable<StoreProgress> {
    const at = splitId(id, this.#layers.length);
    const layer = at && this.#layers[at.index]!;
    if (!at || !layer?.follow) {
      throw new EntryNotFoundError(
        `Cannot follow entry: LayeredStore has no shared entry with id ${id}`,
      );
    }
    yield* outerProgress(at.index, layer.follow(at.inner, signal));
  }

  /** Copies a committed entry of layer `index` up. */
  #copyCommitted(index: number, record: StoreRecord): void {
    this.#copyUp(record.key, index, {
      store: this.#layers[index]!,
      id: record.id,
      meta: record.meta,
      lifetime: record.lifetime,
      created: record.created,
      progress: committed(record),
    });
  }

  /**
   * Copies an entry of layer `from` up into the layers above, once per key.
   * The copies are released with the entry (its other layers' copies, by
   * its outer id) and the top copy with the entry and the other copies.
   */
  #copyUp(key: string, from: number, source: CopySource): void {
    if (this.#closed || from === 0 || this.#copies.has(key)) return;
    const copy: Copy = { cancelled: false, stop: new AbortController() };
    this.#copies.set(key, copy);
    const outer = composeId(from, source.id);
    const made: Sibling[] = [];
    const running = copyUp(
      key,
      source,
      this.#layers.slice(0, from),
      copy,
      (index, inner) => made.push({ index, inner, key }),
    ).catch(() => false).then((kept) => {
      if (!kept) return;
      const [top, ...others] = made;
      this.#copied.set(outer, top!.inner);
      this.#addSiblings(outer, made);
      this.#addSiblings(composeId(0, top!.inner), [
        { index: from, inner: source.id, key },
        ...others,
      ]);
    }).finally(() => {
      if (this.#copies.get(key) === copy) this.#copies.delete(key);
      this.#running.delete(running);
    });
    this.#running.add(running);
  }

  #addSiblings(id: string, siblings: readonly Sibling[]): void {
    this.#siblings.set(id, [...(this.#siblings.get(id) ?? []), ...siblings]);
  }

  /** A create or remove of `key`: a copy up running must not be kept. */
  #cancelCopy(key: string): void {
    const copy = this.#copies.get(key);
    if (copy) copy.cancelled = true;
  }
}
