/**
 * What a {@linkcode StreamCache} tells about itself: events as they happen,
 * and counters on demand, so a server can log and export metrics without
 * polling.
 *
 * @module
 */

/**
 * Why an entry left the cache by itself: `bytes` and `entries` (the budget),
 * `ttl` (idle too long), `maxAge` (too old), `oversize` (larger than
 * `maxEntryBytes`: it streamed to its readers, but was not kept).
 *
 * @example Counting evictions by reason
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { CacheEvent, EvictionReason } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache({ maxEntries: 1 });
 * const reasons: EvictionReason[] = [];
 * cache.addEventListener("evict", (event) => reasons.push((event as CacheEvent).reason!));
 * for (const key of ["a", "b"]) await (await cache.getOrCreate(key, () => new Uint8Array(1))).done;
 * await cache.prune();
 * assert.deepEqual(reasons, ["entries"]);
 * ```
 */
export type EvictionReason =
  | "bytes"
  | "entries"
  | "ttl"
  | "maxAge"
  | "oversize";

/**
 * The names of the events a {@linkcode StreamCache} dispatches:
 *
 * - `commit`: an entry is complete and kept (`key`, `id`, `size`);
 * - `fail`: an entry failed (`key`, `id`, `error`);
 * - `evict`: an entry left by itself (`key`, `id`, `size`, `reason`);
 * - `overbudget`: the entries that are being read or written alone exceed
 *   `maxBytes` or `maxEntries`, so the cache is over its budget until they
 *   are done (`bytes`, `pinnedBytes`); said once until it is within budget.
 *
 * @example Listening to every kind
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { CacheEvent, CacheEventType } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const seen: string[] = [];
 * const types: CacheEventType[] = ["commit", "fail", "evict", "overbudget"];
 * for (const type of types) {
 *   cache.addEventListener(type, (event) => seen.push(`${event.type} ${(event as CacheEvent).key}`));
 * }
 * await (await cache.getOrCreate("ok", () => new Uint8Array(1))).done;
 * const bad = await cache.getOrCreate("bad", () => new ReadableStream({ pull: (c) => c.error(new Error("no")) }));
 * await bad.done.catch(() => {});
 * assert.deepEqual(seen, ["commit ok", "fail bad"]);
 * ```
 */
export type CacheEventType = "commit" | "fail" | "evict" | "overbudget";

/**
 * An event of a {@linkcode StreamCache}; which fields are set depends on
 * its `type` (see {@linkcode CacheEventType}).
 *
 * @example Logging evictions
 * ```ts
 * import { CacheEvent, StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache({ maxBytes: 4 });
 * const log: string[] = [];
 * cache.addEventListener("evict", (event) => {
 *   assert.ok(event instanceof CacheEvent);
 *   log.push(`${event.key}: ${event.size} bytes (${event.reason})`);
 * });
 * for (const key of ["a", "b"]) {
 *   await (await cache.getOrCreate(key, () => new TextEncoder().encode("abc"))).done;
 * }
 * await cache.prune();
 * assert.deepEqual(log, ["a: 3 bytes (bytes)"]);
 * ```
 */
export class CacheEvent extends Event {
  /** The entry's key (all but `overbudget`). */
  readonly key: string | undefined;
  /** The entry's storage id (all but `overbudget`). */
  readonly id: string | undefined;
  /** The entry's size in bytes (`commit`, `evict`). */
  readonly size: number | undefined;
  /** Why the entry left (`evict`). */
  readonly reason: EvictionReason | undefined;
  /** What the entry failed with (`fail`). */
  readonly error: unknown;
  /** The bytes the cache holds (`overbudget`). */
  readonly bytes: number | undefined;
  /** The bytes of entries being read or written (`overbudget`). */
  readonly pinnedBytes: number | undefined;

  /**
   * Creates an event.
   *
   * @param type Which event.
   * @param init Its fields.
   */
  constructor(type: CacheEventType, init: CacheEventInit = {}) {
    super(type);
    this.key = init.key;
    this.id = init.id;
    this.size = init.size;
    this.reason = init.reason;
    this.error = init.error;
    this.bytes = init.bytes;
    this.pinnedBytes = init.pinnedBytes;
  }
}

/**
 * The fields of a {@linkcode CacheEvent}.
 *
 * @example Making an event by hand, as a test double might
 * ```ts
 * import { CacheEvent } from "@streamcache/streamcache";
 * import type { CacheEventInit } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const init: CacheEventInit = { key: "k", id: "1", size: 3 };
 * const event = new CacheEvent("commit", init);
 * assert.equal(event.type, "commit");
 * assert.equal(event.size, 3);
 * ```
 */
export interface CacheEventInit {
  /** The entry's key. */
  readonly key?: string;
  /** The entry's storage id. */
  readonly id?: string;
  /** The entry's size in bytes. */
  readonly size?: number;
  /** Why the entry left. */
  readonly reason?: EvictionReason;
  /** What the entry failed with. */
  readonly error?: unknown;
  /** The bytes the cache holds. */
  readonly bytes?: number;
  /** The bytes of entries being read or written. */
  readonly pinnedBytes?: number;
}

/**
 * A snapshot of a cache's counters, from {@linkcode StreamCache.stats}.
 *
 * @example Reading the counters
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { CacheStats } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * await (await cache.getOrCreate("k", () => new Uint8Array(10))).done;
 * await cache.getOrCreate("k", () => new Uint8Array(10));
 * const stats: CacheStats = cache.stats();
 * assert.equal(stats.entries, 1);
 * assert.equal(stats.bytes, 10);
 * assert.deepEqual([stats.misses, stats.hits], [1, 1]);
 * ```
 */
export interface CacheStats {
  /** Committed entries the cache knows of. */
  readonly entries: number;
  /**
   * Body bytes of every entry whose storage the cache holds: complete, being
   * written, and deleted or evicted but still read.
   */
  readonly bytes: number;
  /** The part of `bytes` in entries being read or written, which no eviction touches. */
  readonly pinnedBytes: number;
  /** Entries being written. */
  readonly inProgress: number;
  /** Calls served a complete, fresh entry. */
  readonly hits: number;
  /** Calls that ran a producer (or got a writer) for a missing entry. */
  readonly misses: number;
  /** Calls served an entry still being written by another call's producer. */
  readonly joins: number;
  /** Calls served a stale entry (while a refresh ran, or after it failed). */
  readonly stale: number;
  /** Entries that failed (producer threw, stream errored, store failed). */
  readonly failures: number;
  /** Entries that left by themselves, by reason. */
  readonly evictions: { readonly [reason in EvictionReason]: number };
}
