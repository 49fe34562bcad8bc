/**
 * The storage backend interface. A store keeps entries' bytes and metadata;
 * the cache coordinates writers, readers and removal on top of it. A store
 * never decides what to cache: it only stores.
 *
 * The life of an entry in a store:
 *
 * 1. `create(key, meta)` allocates new storage under a fresh `id` and returns
 *    a {@linkcode StoreWriter}. Its bytes are readable by `id` as they are
 *    written, but `lookup(key)` does not see them yet.
 * 2. `writer.commit()` makes the entry *the* entry for its key, atomically.
 *    Until then a crash or restart must never expose it (SEMANTICS 13, 14).
 * 3. `remove(key, id)` unlinks the key, so the next `lookup` misses; the bytes
 *    stay readable by `id` until `release(id)`.
 * 4. `release(id)` frees the storage. The cache calls it once no reader or
 *    writer of that entry is open in the cache, also for entries that failed
 *    or were never committed.
 *
 * Because storage is addressed by `id`, an entry deleted while it is read and
 * its successor under the same key never share storage (SEMANTICS 10).
 *
 * @module
 */

import type { StoreClaim, StoreProgress } from "./shared_store.ts";

/**
 * A JSON value, as entry metadata holds.
 *
 * @example Nested values in metadata
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { JsonValue } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const tags: JsonValue = ["csv", { year: 2024, final: true }, null];
 * await using cache = new StreamCache();
 * const entry = await cache.getOrCreate("report", () => new Uint8Array(1), { meta: { tags } });
 * assert.deepEqual(entry.meta?.tags, tags);
 * assert.ok(Object.isFrozen(entry.meta?.tags)); // the cache keeps a frozen copy
 * ```
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * An entry's metadata: a JSON-serialisable object set when the entry is
 * created (e.g. an HTTP status and headers). The cache freezes a copy.
 *
 * @example Serving an entry with its content type
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { EntryMeta } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const meta: EntryMeta = { type: "text/plain; charset=utf-8" };
 * await using cache = new StreamCache();
 * const entry = await cache.getOrCreate("hello.txt", () => new TextEncoder().encode("hi"), { meta });
 * assert.notEqual(entry.meta, meta); // a frozen copy
 * const headers = { "content-type": String(entry.meta?.type) };
 * const response = new Response(entry.readable(), { headers });
 * assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
 * assert.equal(await response.text(), "hi");
 * ```
 */
export type EntryMeta = { readonly [key: string]: JsonValue };

/**
 * What a store knows of a committed entry.
 *
 * @example Looking up a committed entry
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { StoreRecord } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const writer = await store.create("a.txt", { type: "text/plain" });
 * await writer.write(new TextEncoder().encode("abc"));
 * await writer.commit();
 * const record: StoreRecord | undefined = await store.lookup("a.txt");
 * assert.equal(record?.id, writer.id);
 * assert.equal(record?.size, 3);
 * assert.deepEqual(record?.meta, { type: "text/plain" });
 * await store.close();
 * ```
 */
export interface StoreRecord {
  /** The key the entry was stored under, exactly as given. */
  readonly key: string;
  /** The storage identity; unique for every `create`, never reused. */
  readonly id: string;
  /** The metadata given to `create`, if any. */
  readonly meta: EntryMeta | undefined;
  /** The number of bytes committed. */
  readonly size: number;
  /**
   * When the entry was created, in milliseconds since the epoch: the
   * `created` given to `create`, else the store's clock at `create`.
   */
  readonly created: number;
  /**
   * When the entry was last read, as the latest `touch(id, time)` recorded
   * it (to the store's resolution), else `created`. Only stores that have
   * `touch` keep it; others may leave it out.
   */
  readonly accessed?: number;
  /** The lifetime given to `create`, if any. */
  readonly lifetime?: EntryLifetime;
}

/**
 * How long one entry stays fresh, when it differs from the cache's defaults.
 * Stores keep it with the entry, so a restart keeps it too. All times are in
 * milliseconds.
 *
 * @example An entry fresh for a minute, served stale for ten more while it is refreshed
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { EntryLifetime } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const lifetime: EntryLifetime = { maxAge: 60_000, staleWhileRevalidate: 600_000 };
 * const store = new MemoryStore();
 * const writer = await store.create("feed.xml", undefined, { lifetime });
 * await writer.commit();
 * assert.deepEqual((await store.lookup("feed.xml"))?.lifetime, lifetime);
 * await store.close();
 * ```
 */
export interface EntryLifetime {
  /** Idle time since the last access after which the entry is stale. */
  readonly ttl?: number;
  /** Time since creation after which the entry is stale. */
  readonly maxAge?: number;
  /**
   * Time after going stale during which the entry is still served, at once,
   * while one refresh runs in the background.
   */
  readonly staleWhileRevalidate?: number;
  /** Time after going stale during which the entry is served when its refresh fails. */
  readonly staleIfError?: number;
  /**
   * Time after going stale during which the entry is kept, no longer served
   * as it is, for a refresh: `getOrCreate` waits for one refresh per key,
   * whose producer gets the entry (`context.stale`) to revalidate it (an
   * HTTP conditional request). Past its stale windows, within `keepStale`.
   */
  readonly keepStale?: number;
}

/**
 * What a cache tells a store about a new entry besides its key and metadata.
 *
 * @example Recording the cache's clock and a lifetime
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { StoreCreateOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: StoreCreateOptions = { created: 1_000, lifetime: { ttl: 5_000 } };
 * const store = new MemoryStore();
 * const record = await (await store.create("k", undefined, options)).commit();
 * assert.equal(record.created, 1_000);
 * assert.deepEqual(record.lifetime, { ttl: 5_000 });
 * await store.close();
 * ```
 */
export interface StoreCreateOptions {
  /** The creation time to record (the cache's clock), in ms since the epoch. */
  readonly created?: number;
  /** The entry's own lifetime, to keep with it. */
  readonly lifetime?: EntryLifetime;
}

/**
 * Fills one new entry. The cache calls `write` one chunk at a time (it never
 * overlaps calls) and then `commit` once; or, if the producer fails, neither
 * again and `release(id)` instead.
 *
 * @example Driving a MemoryStore writer
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { StoreWriter } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const writer: StoreWriter = await store.create("log", undefined);
 * for (const line of ["one\n", "two\n"]) await writer.write(new TextEncoder().encode(line));
 * assert.equal(await store.lookup("log"), undefined); // not visible before commit
 * const record = await writer.commit();
 * assert.equal(record.size, 8);
 * assert.equal((await store.lookup("log"))?.id, writer.id);
 * await store.close();
 * ```
 */
export interface StoreWriter {
  /** The storage identity of the entry being written. */
  readonly id: string;
  /**
   * Appends `chunk`. The store must copy it (or otherwise own its bytes)
   * before the promise resolves: the producer may reuse its buffer after.
   *
   * @param chunk Bytes to append; never empty.
   */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Makes the entry the committed one for its key in one atomic step,
   * replacing any previous one: readers already open on that one keep
   * reading, and the cache then releases it.
   *
   * @returns The committed record.
   */
  commit(): Promise<StoreRecord>;
}

/**
 * Reads one entry's bytes by offset; opened per cache reader.
 *
 * @example Reading an entry by offset
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { StoreReader } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const writer = await store.create("k", undefined);
 * await writer.write(new TextEncoder().encode("abcdef"));
 * const reader: StoreReader = await store.openReader(writer.id);
 * assert.equal(new TextDecoder().decode(await reader.read(0, 4)), "abcd");
 * assert.equal(new TextDecoder().decode(await reader.read(4, 4)), "ef"); // fewer at the end
 * await reader.close();
 * await store.close();
 * ```
 */
export interface StoreReader {
  /**
   * Reads bytes `[offset, offset + length)`; fewer only where the entry has
   * fewer bytes so far (at the end of what has been written, or where an
   * operating-system read returns short, but never none while bytes remain
   * at `offset`). The returned array must belong to the caller alone:
   * no other reader, nor the store, may see changes made to it (SEMANTICS 7).
   *
   * @param offset The first byte to read.
   * @param length The most bytes to return; at least 1.
   * @returns The bytes read.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads bytes from `offset` straight into `view`, the caller's
   * own memory, as a BYOB reader of {@linkcode Entry.readable} asks; without
   * it the cache copies what `read` returns. The same bytes as `read(offset,
   * view.byteLength)` would give, with the same rule for fewer: never none
   * while bytes remain at `offset`. The store must not keep `view` after the
   * promise settles.
   *
   * @example Reading into a buffer the caller reuses
   * ```ts
   * import { MemoryStore } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * const store = new MemoryStore();
   * const writer = await store.create("k", undefined);
   * await writer.write(new TextEncoder().encode("abcdef"));
   * const reader = await store.openReader(writer.id);
   * const buffer = new Uint8Array(4);
   * assert.equal(await reader.readInto?.(2, buffer), 4);
   * assert.equal(new TextDecoder().decode(buffer), "cdef");
   * assert.equal(await reader.readInto?.(4, buffer), 2); // fewer at the end
   * await reader.close();
   * await store.close();
   * ```
   *
   * @param offset The first byte to read.
   * @param view Where the bytes go; at least 1 byte long.
   * @returns The number of bytes read into the start of `view`.
   */
  readInto?(offset: number, view: Uint8Array): Promise<number>;
  /** Releases what the reader holds (a file handle, say). Called once. */
  close(): Promise<void>;
}

/**
 * A storage backend for {@linkcode StreamCache}. Implement these seven
 * methods to keep entries anywhere; run the conformance suite in
 * `tests/_store_conformance.ts` against the implementation.
 *
 * Errors a store throws reach the caller of the cache operation that caused
 * them, or fail the one entry being written or read; they must not harm other
 * entries.
 *
 * @example Driving a store directly
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { Store } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store: Store = new MemoryStore();
 * const writer = await store.create("greeting", { type: "text/plain" });
 * await writer.write(new TextEncoder().encode("hello"));
 * assert.equal(await store.lookup("greeting"), undefined); // not committed yet
 * const record = await writer.commit();
 * assert.equal(record.size, 5);
 *
 * const reader = await store.openReader(record.id);
 * assert.equal(new TextDecoder().decode(await reader.read(0, 64)), "hello");
 * await reader.close();
 * await store.close();
 * ```
 */
export interface Store {
  /**
   * Allocates storage for a new entry under a fresh id.
   *
   * @param key The entry's key: any string, including hostile ones (SEMANTICS 15).
   * @param meta The entry's metadata, to be returned by `lookup` once committed.
   * @param options Its creation time and lifetime, to be returned in its record.
   * @returns A writer for the new entry.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options?: StoreCreateOptions,
  ): Promise<StoreWriter>;
  /**
   * Finds the committed entry for `key`.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined` if no committed entry has that key.
   */
  lookup(key: string): Promise<StoreRecord | undefined>;
  /**
   * Opens a reader over the bytes of entry `id`, committed or still written.
   *
   * It must reject with {@linkcode EntryNotFoundError} when the entry's
   * storage is gone for good: an id never created, released, or (in a store
   * several caches share) replaced by another cache's commit. That error
   * alone tells the cache the entry is gone; any other error (a full file
   * table, an I/O error) fails only the reader that met it.
   *
   * @param id The storage identity from `create` or `lookup`.
   * @returns A reader.
   * @throws {EntryNotFoundError} If entry `id` has no storage.
   */
  openReader(id: string): Promise<StoreReader>;
  /**
   * Unlinks `key` so that `lookup(key)` misses, only if it still names entry
   * `id`. The bytes stay readable until `release(id)`. Idempotent.
   *
   * @param key The key to unlink.
   * @param id The entry the caller means to unlink.
   */
  remove(key: string, id: string): Promise<void>;
  /**
   * Frees the storage of entry `id`, which is no longer linked to a key (it
   * was removed, replaced, failed or never committed). Idempotent.
   *
   * @param id The storage identity to free.
   */
  release(id: string): Promise<void>;
  /**
   * Lists the keys of committed entries.
   *
   * @returns The keys, each once, in no particular order.
   */
  keys(): AsyncIterable<string>;
  /**
   * Optional: records that entry `id` was read at `time`, so a restart can
   * rebuild the cache's least-recently-used order. The cache calls it on
   * every access; a store may keep only some of them (to a resolution it
   * documents) and must stay cheap. Unknown ids are ignored. Failures are
   * ignored by the cache.
   *
   * @param id The entry's storage identity.
   * @param time When it was read, in ms since the epoch (the cache's clock).
   */
  touch?(id: string, time: number): Promise<void>;
  /**
   * Optional: lists the records of every committed entry, with `accessed`,
   * without reading any entry's bytes, in one pass. A cache uses it once
   * after a restart to rebuild its byte count and recency order.
   *
   * @returns Each committed entry's record once, in no particular order.
   */
  records?(): AsyncIterable<StoreRecord>;
  /**
   * Optional, for a store several processes share: claims `key` for this
   * process, which then produces it under a lease, or learns which entry
   * another process is producing (or has just committed) for it. The cache
   * calls it when a lookup missed, before running a producer. See
   * `src/shared_store.ts`.
   *
   * @param key The key to produce.
   * @returns Who produces it.
   */
  claim?(key: string): Promise<StoreClaim>;
  /**
   * Optional, with `claim`: reports entry `id` as another process writes it,
   * without polling: its growing size, then its committed record (last).
   * Throws `ProducerLostError` if its producer is lost, or an
   * error with the producer's reason if it failed.
   *
   * @param id The entry a `claim` named.
   * @param signal Stops following.
   * @returns The entry's progress.
   */
  follow?(id: string, signal: AbortSignal): AsyncIterable<StoreProgress>;
  /** Releases what the store holds (handles, connections). Called once, last. */
  close(): Promise<void>;
}
