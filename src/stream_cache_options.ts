/**
 * The options of a {@linkcode StreamCache} and of its calls, and what they
 * tell back.
 *
 * @module
 */

import type { Entry } from "./entry.ts";
import type { EntryLifetime, EntryMeta, Store } from "./store.ts";

/**
 * Options for {@linkcode StreamCache}: where entries are kept, and the
 * bounds of the cache. Every bound is off unless given.
 *
 * @example A disk-friendly budget: 50 GiB, 10,000 entries, a day at most
 * ```ts
 * import { MemoryStore, StreamCache } from "@streamcache/streamcache";
 * import type { StreamCacheOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const options: StreamCacheOptions = {
 *   store: new MemoryStore({ blockSize: 1024 }),
 *   maxEntries: 10_000,
 *   maxBytes: 50 * 2 ** 30,
 *   maxEntryBytes: 2 ** 30,
 *   ttl: 3_600_000,
 *   maxAge: 86_400_000,
 * };
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
  /**
   * The most committed entries kept. Entries being read or written are
   * never evicted; they count, and the least recently used idle entries go.
   */
  maxEntries?: number;
  /**
   * The most body bytes held, counting every entry whose storage the cache
   * holds: complete, being written, and deleted or evicted but still read.
   * Least recently used idle entries go first; entries in use never do
   * (SEMANTICS 17).
   */
  maxBytes?: number;
  /**
   * The largest entry kept: a larger one still streams whole to its
   * readers, but is not committed (an `evict` event with reason `oversize`).
   */
  maxEntryBytes?: number;
  /** Idle time (ms since the last access) after which an entry is stale. */
  ttl?: number;
  /** Age (ms since creation) after which an entry is stale. */
  maxAge?: number;
  /**
   * How long (ms) a stale entry is still served at once while one refresh
   * per key runs in the background (`getOrCreate` only). Without it, a stale
   * entry is gone: the next call produces afresh.
   */
  staleWhileRevalidate?: number;
  /**
   * How long (ms) a stale entry is still served after its refresh failed.
   * Past its other windows, it is kept that long for a refresh that
   * `getOrCreate` waits for (as with `keepStale`), so that one can fail.
   */
  staleIfError?: number;
  /**
   * How long (ms) after going stale an entry is kept for a refresh that
   * `getOrCreate` waits for (past its stale windows): the producer gets the
   * stale entry as `context.stale`, so it can revalidate it instead of
   * making it anew. `get` and `open` no longer serve it.
   */
  keepStale?: number;
  /**
   * Runs `prune()` every so many ms, on a timer that never keeps the process
   * alive and that `close()` stops. Without it, expiry is checked on access
   * and in the eviction that commits and growth trigger.
   */
  sweepInterval?: number;
  /**
   * The clock, in ms since the epoch: inject one to test expiry without
   * sleeping.
   *
   * @default {Date.now}
   */
  clock?: () => number;
}

/**
 * Options for {@linkcode StreamCache.open}: the metadata and lifetime of the
 * entry, if this call creates it.
 *
 * @example Giving a new entry metadata
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { OpenOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const options: OpenOptions = { meta: { type: "text/csv" }, maxAge: 60_000 };
 * const { entry, writable } = await cache.open("report.csv", options);
 * await writable?.close();
 * assert.deepEqual(entry.meta, { type: "text/csv" });
 * const again = await cache.open("report.csv", { meta: { type: "text/plain" } });
 * assert.deepEqual(again.entry.meta, { type: "text/csv" }); // only the creator's counts
 * ```
 */
export interface OpenOptions extends EntryLifetime {
  /** Metadata for the entry, if this call creates it; ignored otherwise. */
  meta?: EntryMeta;
}

/**
 * How a call found its entry: `hit` (complete and fresh), `miss` (this call
 * produced it), `join` (another call's producer is writing it), `stale`
 * (past its lifetime but within a stale window; a refresh runs, or failed).
 *
 * @example Telling a hit from a miss
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { CacheOutcome, CacheStatus } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const outcomes: (CacheOutcome | undefined)[] = [];
 * for (let i = 0; i < 2; i++) {
 *   const status: CacheStatus = {};
 *   await (await cache.getOrCreate("k", () => new Uint8Array(1), { status })).done;
 *   outcomes.push(status.outcome);
 * }
 * assert.deepEqual(outcomes, ["miss", "hit"]);
 * ```
 */
export type CacheOutcome = "hit" | "miss" | "join" | "stale";

/**
 * Filled in by {@linkcode StreamCache.getOrCreate} (as lru-cache's `status`
 * is): how that one call was served.
 *
 * @example Reporting a stale serve
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { CacheStatus } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * await using cache = new StreamCache({ maxAge: 1000, staleWhileRevalidate: 5000, clock: () => now });
 * await (await cache.getOrCreate("k", () => new Uint8Array(1))).done;
 * now = 2000;
 * const status: CacheStatus = {};
 * await cache.getOrCreate("k", () => new Uint8Array(2), { status });
 * assert.equal(status.outcome, "stale"); // served at once; one refresh runs
 * ```
 */
export interface CacheStatus {
  /** How the call was served. */
  outcome?: CacheOutcome;
}

/**
 * Options for {@linkcode StreamCache.getOrCreate}: defaults for the entry, if
 * this call creates it (a producer's `{ body, meta, ttl, ... }` overrides
 * them), and a status to fill in.
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
export interface GetOrCreateOptions extends EntryLifetime {
  /**
   * Metadata for the entry, if this call creates it. A producer that returns
   * `{ body, meta }` overrides it.
   */
  meta?: EntryMeta;
  /** Filled in with how this call was served. */
  status?: CacheStatus;
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
