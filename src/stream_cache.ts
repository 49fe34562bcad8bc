/**
 * The cache: one writer per missing key, any number of readers while it writes.
 *
 * @module
 */

import { type EntryHost, EntryLog } from "./_entry_log.ts";
import { KeyTurns } from "./_key_turns.ts";
import {
  checkKey,
  checkStore,
  describeValue,
  freezeMeta,
} from "./_validate.ts";
import { createWritable } from "./_writer.ts";
import type { Entry } from "./entry.ts";
import { CacheClosedError } from "./errors.ts";
import { MemoryStore } from "./memory_store.ts";
import { type Producer, toBody } from "./producer.ts";
import type { EntryMeta, Store } from "./store.ts";

/**
 * Options for {@linkcode StreamCache}.
 *
 * @example Choosing the store
 * ```ts
 * import { MemoryStore, StreamCache } from "@streamcache/streamcache";
 * import type { StreamCacheOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: StreamCacheOptions = { store: new MemoryStore({ blockSize: 1024 }) };
 * await using cache = new StreamCache(options);
 * const entry = await cache.getOrCreate("zeros", () => new Uint8Array(3000));
 * assert.equal(await entry.done, 3000);
 * ```
 */
export interface StreamCacheOptions {
  /**
   * Where entries are kept.
   *
   * @default {new MemoryStore()}
   */
  store?: Store;
}

/**
 * Options for {@linkcode StreamCache.open}.
 *
 * @example Giving a new entry metadata
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { OpenOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const options: OpenOptions = { meta: { type: "text/csv" } };
 * const { entry, writable } = await cache.open("report.csv", options);
 * await writable?.close();
 * assert.deepEqual(entry.meta, { type: "text/csv" });
 * const again = await cache.open("report.csv", { meta: { type: "text/plain" } });
 * assert.deepEqual(again.entry.meta, { type: "text/csv" }); // only the creator's counts
 * ```
 */
export interface OpenOptions {
  /** Metadata for the entry, if this call creates it; ignored otherwise. */
  meta?: EntryMeta;
}

/**
 * Options for {@linkcode StreamCache.getOrCreate}.
 *
 * @example Default metadata that a producer may override
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { GetOrCreateOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const options: GetOrCreateOptions = { meta: { type: "application/octet-stream" } };
 * const plain = await cache.getOrCreate("a.bin", () => new Uint8Array(1), options);
 * const own = await cache.getOrCreate("b.png", () => ({
 *   body: new Uint8Array(1),
 *   meta: { type: "image/png" }, // overrides options.meta
 * }), options);
 * assert.deepEqual(plain.meta, { type: "application/octet-stream" });
 * assert.deepEqual(own.meta, { type: "image/png" });
 * ```
 */
export interface GetOrCreateOptions {
  /**
   * Metadata for the entry, if this call creates it. A producer that returns
   * `{ body, meta }` overrides it.
   */
  meta?: EntryMeta;
}

/**
 * What {@linkcode StreamCache.open} gives: the entry, and its writer if this call created it.
 *
 * @example Writing only when this call created the entry
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { OpenResult } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const { entry, writable }: OpenResult = await cache.open("greeting");
 * if (writable) await new Blob(["hello"]).stream().pipeTo(writable); // we are its writer
 * assert.equal(await new Response(entry.readable()).text(), "hello");
 *
 * const later: OpenResult = await cache.open("greeting");
 * assert.equal(later.writable, undefined); // it exists: no writer
 * assert.equal(later.entry, entry);
 * ```
 */
export interface OpenResult {
  /** The entry for the key, new or existing. */
  readonly entry: Entry;
  /**
   * The one writer of a new entry, given only to the caller that created it.
   * Close it to complete the entry, abort it to fail it; until then readers
   * wait for more bytes.
   */
  readonly writable?: WritableStream<Uint8Array>;
}

/** A lookup or creation of one key in flight; later callers for the key wait for it. */
interface Pending {
  /** The entry found or created; `undefined` for a miss, and for a creation's callers to try again. */
  promise: Promise<EntryLog | undefined>;
  /**
   * Whether the key has an entry or a creation under way, known as soon as
   * the lookup is done: `has()` never waits for a producer (SEMANTICS 2).
   */
  exists: Promise<boolean>;
  /** Set when the key is deleted meanwhile: the result is then not kept. */
  detached: boolean;
  /** Set once the lookup missed and a creation (a producer) has started. */
  creating: boolean;
}

/** Settles a pending slot's `exists`. */
interface Answer {
  resolve(exists: boolean): void;
  reject(reason: unknown): void;
}

/**
 * A stream cache. The first caller for a missing key becomes its single
 * writer; every other caller gets a reader at once, even while the entry is
 * being written, and every reader gets the whole stream from byte 0.
 *
 * Operations take a short per-key turn at most (a store lookup, commit or
 * removal): nobody waits for a producer, nor for another key (SEMANTICS 2).
 *
 * @example Generating once, streaming to everyone
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * let runs = 0;
 * const produce = async function* () {
 *   runs++;
 *   yield new TextEncoder().encode("expensive ");
 *   yield new TextEncoder().encode("result");
 * };
 * const entries = await Promise.all([1, 2, 3].map(() => cache.getOrCreate("report", produce)));
 * const bodies = await Promise.all(entries.map((entry) => new Response(entry.readable()).text()));
 * assert.equal(runs, 1);
 * assert.deepEqual(bodies, ["expensive result", "expensive result", "expensive result"]);
 * ```
 */
export class StreamCache implements AsyncDisposable {
  readonly #store: Store;
  readonly #entries = new Map<string, EntryLog>();
  readonly #pending = new Map<string, Pending>();
  readonly #turns = new KeyTurns();
  /** Every entry whose storage is not yet released, including deleted ones still read. */
  readonly #live = new Map<string, EntryLog>();
  /** Producers that may still be running, aborted by close(). */
  readonly #producers = new Set<AbortController>();
  readonly #host: EntryHost;
  #closing: Promise<void> | undefined;
  #closed!: (reason: CacheClosedError) => void;
  /** Rejects when the cache closes, so callers waiting for a producer stop waiting. */
  readonly #whenClosed = new Promise<never>((_, reject) =>
    this.#closed = reject
  );

  /**
   * Creates a cache.
   *
   * @param options The store to keep entries in.
   */
  constructor(options: StreamCacheOptions = {}) {
    this.#store = checkOptions(options).store ?? new MemoryStore();
    this.#whenClosed.catch(() => {});
    this.#host = {
      store: this.#store,
      exclusive: (key, task) => this.#turns.run(key, task),
      forget: (log) => {
        if (this.#entries.get(log.key) === log) this.#entries.delete(log.key);
      },
      released: (log) => {
        if (this.#live.get(log.id) === log) this.#live.delete(log.id);
      },
    };
  }

  /**
   * Gets the entry for `key`, creating it if it is missing; the caller that
   * creates it also gets its writer (fscache's `Get`). Exactly one caller
   * gets the writer however many ask at once (SEMANTICS 1).
   *
   * @example Writing an entry by hand
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * const first = await cache.open("a.txt", { meta: { type: "text/plain" } });
   * const second = await cache.open("a.txt");
   * assert.ok(first.writable);
   * assert.equal(second.writable, undefined);
   * assert.equal(first.entry, second.entry);
   *
   * const text = new Response(second.entry.readable()).text();
   * await new Blob(["hi"]).stream().pipeTo(first.writable);
   * assert.equal(await text, "hi");
   * ```
   *
   * @param key Any string.
   * @param options Metadata for a new entry.
   * @returns The entry, and its writer if this call created it.
   */
  async open(key: string, options: OpenOptions = {}): Promise<OpenResult> {
    checkKey(key, "open entry");
    const meta = freezeMeta(options.meta, "open entry");
    let writable: WritableStream<Uint8Array> | undefined;
    const log = await this.#acquire(key, "open entry", async () => {
      const writer = await this.#store.create(key, meta);
      const log = new EntryLog(this.#host, { key, id: writer.id, meta });
      writable = createWritable(log, writer);
      return log;
    });
    return writable ? { entry: log!, writable } : { entry: log! };
  }

  /**
   * Gets the entry for `key`, running `producer` to fill it if it is missing.
   * However many callers ask at once, the producer runs once and all of them
   * get the same entry (SEMANTICS 1). Resolves as soon as the producer has
   * returned (not when its stream ends); callers that arrive meanwhile wait
   * for that too, because the producer decides the entry's metadata.
   *
   * If the producer throws, every waiting caller rejects with that error; if
   * its stream errors later, every reader does (SEMANTICS 5). Either way the
   * entry is dropped and the next call runs the producer afresh.
   *
   * @example Read-through caching
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * const entry = await cache.getOrCreate("hello.txt", ({ key }) => ({
   *   body: new TextEncoder().encode(`contents of ${key}`),
   *   meta: { type: "text/plain" },
   * }));
   * assert.equal(await new Response(entry.readable()).text(), "contents of hello.txt");
   * assert.deepEqual(entry.meta, { type: "text/plain" });
   * ```
   *
   * @param key Any string.
   * @param producer Makes the entry's bytes if the key is missing.
   * @param options Metadata for a new entry.
   * @returns The entry, new or existing.
   */
  async getOrCreate(
    key: string,
    producer: Producer,
    options: GetOrCreateOptions = {},
  ): Promise<Entry> {
    const action = "get or create entry";
    checkKey(key, action);
    if (typeof producer !== "function") {
      throw new TypeError(
        `Cannot ${action}: producer must be a function: received ${typeof producer}`,
      );
    }
    const defaultMeta = freezeMeta(options.meta, action);
    const abort = new AbortController();
    this.#producers.add(abort);
    let pumping = false;
    try {
      const log = await this.#acquire(key, action, async () => {
        const produced = toBody(
          await producer({ key, signal: abort.signal }),
          key,
        );
        try {
          this.#assertOpen(action);
          const meta = produced.hasMeta ? produced.meta : defaultMeta;
          const writer = await this.#store.create(key, meta);
          const log = new EntryLog(this.#host, { key, id: writer.id, meta });
          log.done.catch((reason) => abort.abort(reason));
          pumping = true;
          pump(produced.body, createWritable(log, writer))
            .finally(() => this.#producers.delete(abort));
          return log;
        } catch (error) {
          produced.body.cancel(error).catch(() => {});
          throw error;
        }
      });
      return log!;
    } finally {
      if (!pumping) this.#producers.delete(abort);
    }
  }

  /**
   * Gets the entry for `key`, complete or still being written, without
   * creating one.
   *
   * @example Checking for an entry
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * assert.equal(await cache.get("missing"), undefined);
   * await cache.getOrCreate("present", () => new Uint8Array([1, 2, 3]));
   * assert.equal((await cache.get("present"))?.key, "present");
   * ```
   *
   * @param key Any string.
   * @returns The entry, or `undefined` if there is none.
   */
  async get(key: string): Promise<Entry | undefined> {
    checkKey(key, "get entry");
    return await this.#acquire(key, "get entry", undefined);
  }

  /**
   * Tells whether `key` has an entry, complete or still being written.
   *
   * @example Asking for a key
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * await cache.getOrCreate("k", () => new Uint8Array(1));
   * assert.equal(await cache.has("k"), true);
   * assert.equal(await cache.has("other"), false);
   * ```
   *
   * @param key Any string.
   * @returns Whether `get(key)` would find an entry.
   */
  async has(key: string): Promise<boolean> {
    const action = "check entry";
    checkKey(key, action);
    this.#assertOpen(action);
    if (this.#entries.has(key)) return true;
    const slot = this.#pending.get(key) ?? this.#begin(key, undefined);
    return await Promise.race([slot.exists, this.#whenClosed]);
  }

  /**
   * Deletes the entry for `key` at once: the next request is a miss and
   * creates a new entry with separate storage. Readers already open on the
   * old entry read it to its end, and a writer still filling it goes on for
   * them; its storage is released when the last of them is gone (SEMANTICS 10).
   *
   * @example Deleting while reading
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * const old = await cache.getOrCreate("k", () => new TextEncoder().encode("old"));
   * const reader = old.readable();
   * assert.equal(await cache.delete("k"), true);
   * await cache.getOrCreate("k", () => new TextEncoder().encode("new"));
   * assert.equal(await new Response(reader).text(), "old");
   * ```
   *
   * @param key Any string.
   * @returns Whether there was an entry to delete.
   */
  async delete(key: string): Promise<boolean> {
    checkKey(key, "delete entry");
    this.#assertOpen("delete entry");
    let found = false;
    const pending = this.#pending.get(key);
    if (pending) {
      pending.detached = true;
      this.#pending.delete(key);
      found = true;
    }
    const log = this.#entries.get(key);
    if (log) {
      this.#entries.delete(key);
      found = true;
      log.detach();
    }
    return (await this.#removeStored(key)) || found;
  }

  /**
   * Deletes every entry, as {@linkcode StreamCache.delete} does for one.
   *
   * @example Emptying the cache
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * await cache.getOrCreate("a", () => new Uint8Array(1));
   * await cache.clear();
   * assert.equal(await cache.has("a"), false);
   * ```
   */
  async clear(): Promise<void> {
    this.#assertOpen("clear cache");
    const keys = new Set([...this.#entries.keys(), ...this.#pending.keys()]);
    for await (const key of this.#store.keys()) keys.add(key);
    await Promise.all([...keys].map((key) => this.delete(key)));
  }

  /**
   * Lists the keys that have an entry, complete or being written.
   *
   * @example Listing keys
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * await cache.getOrCreate("a", () => new Uint8Array(1));
   * await cache.getOrCreate("b", () => new Uint8Array(1));
   * const keys = [];
   * for await (const key of cache.keys()) keys.push(key);
   * assert.deepEqual(keys.sort(), ["a", "b"]);
   * ```
   *
   * @returns Each key once, in no particular order.
   */
  async *keys(): AsyncGenerator<string, void, undefined> {
    this.#assertOpen("list keys");
    const seen = new Set<string>();
    const producing = [...this.#pending].filter(([, slot]) => slot.creating);
    for (const key of [...this.#entries.keys(), ...producing.map(([k]) => k)]) {
      if (seen.has(key)) continue;
      seen.add(key);
      yield key;
    }
    for await (const key of this.#store.keys()) {
      if (!seen.has(key)) {
        seen.add(key);
        yield key;
      }
    }
  }

  /**
   * Closes the cache: in-progress writers are aborted and open readers
   * errored with a {@linkcode CacheClosedError}, background work is awaited,
   * and the store is closed. Every later call rejects with a
   * `CacheClosedError`. Calling it again returns the same promise
   * (SEMANTICS 12).
   *
   * @example Closing with `await using`
   * ```ts
   * import { CacheClosedError, StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * let closed: StreamCache;
   * {
   *   await using cache = new StreamCache();
   *   await cache.getOrCreate("k", () => new Uint8Array(1));
   *   closed = cache;
   * } // closed here
   * await assert.rejects(closed.has("k"), CacheClosedError);
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Closes the cache; see {@linkcode StreamCache.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    const reason = new CacheClosedError("The cache was closed");
    // Callers waiting for a producer to start reject now; a creation still in
    // flight sees the cache closed when it finishes, and fails its entry.
    this.#closed(reason);
    for (const producer of this.#producers) producer.abort(reason);
    const logs = [...this.#live.values()];
    for (const log of logs) log.shutdown(reason);
    await this.#turns.settled();
    await Promise.all(logs.map((log) => log.settled()));
    this.#entries.clear();
    this.#live.clear();
    await this.#store.close();
  }

  #assertOpen(action: string): void {
    if (this.#closing) {
      throw new CacheClosedError(`Cannot ${action}: the cache is closed`);
    }
  }

  /**
   * Finds the entry for `key`: in memory, else in the store; if there is none
   * and `create` is given, the first caller runs it and the others wait for it.
   */
  async #acquire(
    key: string,
    action: string,
    create: (() => Promise<EntryLog>) | undefined,
  ): Promise<EntryLog | undefined> {
    for (;;) {
      this.#assertOpen(action);
      const known = this.#entries.get(key);
      if (known) {
        known.accessed = Date.now();
        return known;
      }
      const slot = this.#pending.get(key) ?? this.#begin(key, create);
      const log = await Promise.race([slot.promise, this.#whenClosed]);
      // A lookup that found nothing, or found an entry deleted meanwhile:
      // a caller that can create tries again, and creates unless someone did.
      if (log || !create) return log;
    }
  }

  /** Starts the lookup (and, if it misses, the creation) of `key`, as its pending slot. */
  #begin(
    key: string,
    create: (() => Promise<EntryLog>) | undefined,
  ): Pending {
    let exists!: Answer;
    const slot: Pending = {
      promise: undefined!,
      exists: new Promise<boolean>((resolve, reject) =>
        exists = { resolve, reject }
      ),
      detached: false,
      creating: false,
    };
    slot.promise = this.#settle(key, create, slot, exists);
    // Whoever waits for it gets a failure; has() waits for `exists` alone.
    slot.promise.catch(() => {});
    slot.exists.catch(() => {});
    this.#pending.set(key, slot);
    return slot;
  }

  async #settle(
    key: string,
    create: (() => Promise<EntryLog>) | undefined,
    slot: Pending,
    exists: Answer,
  ): Promise<EntryLog | undefined> {
    try {
      let log = await this.#turns.run(key, async () => {
        const record = await this.#store.lookup(key);
        if (!record) return undefined;
        const found = new EntryLog(this.#host, record);
        this.#live.set(found.id, found);
        return found;
      });
      if (log && slot.detached) {
        // Deleted while it was looked up: a miss, never an entry whose
        // storage goes away before its caller can read it (SEMANTICS 10).
        log.detach();
        exists.resolve(false);
        return undefined;
      }
      if (!log && create) {
        slot.creating = true;
        exists.resolve(true);
        log = await create();
        this.#live.set(log.id, log);
        if (this.#closing) {
          log.shutdown(
            new CacheClosedError("Cannot create entry: the cache is closed"),
          );
        }
      }
      exists.resolve(log !== undefined);
      if (!log) return undefined;
      if (slot.detached) log.detach();
      // An entry that failed already (its producer's stream was unusable) is
      // handed to the callers that asked for it, but not kept.
      else if (log.state !== "failed") this.#entries.set(key, log);
      return log;
    } catch (error) {
      exists.reject(error); // a no-op once answered
      throw error;
    } finally {
      if (this.#pending.get(key) === slot) this.#pending.delete(key);
    }
  }

  /** Unlinks the stored entry for `key`, releasing it unless a live entry still holds it. */
  #removeStored(key: string): Promise<boolean> {
    return this.#turns.run(key, async () => {
      const record = await this.#store.lookup(key);
      if (!record) return false;
      await this.#store.remove(key, record.id);
      if (!this.#live.has(record.id)) await this.#store.release(record.id);
      return true;
    });
  }
}

/** Throws a TypeError unless `options` is an options object with a usable store. */
function checkOptions(options: unknown): StreamCacheOptions {
  const action = "create StreamCache";
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${action}: options must be an object: received ${
        describeValue(options)
      }`,
    );
  }
  const { store } = options as StreamCacheOptions;
  if (store !== undefined) checkStore(store, action);
  return options;
}

/**
 * Pipes a producer's stream into its entry. A writer the pipe never reached
 * (the source was locked or disturbed) is aborted, so the entry fails instead
 * of waiting forever.
 */
function pump(
  body: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): Promise<void> {
  return body.pipeTo(writable).catch((error) => {
    if (!writable.locked) writable.abort(error).catch(() => {});
  });
}
