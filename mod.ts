/**
 * streamcache: generate once, stream to everyone.
 *
 * The first request for a missing key becomes its single writer; every other
 * request gets a reader at once, even while the entry is still being
 * generated. Every reader gets the complete stream from byte 0 at its own
 * pace, waits (without polling) when it catches up with the writer, and ends
 * only when the writer has finished. A failed producer is never mistaken for
 * a complete entry.
 *
 * @example One producer run for many concurrent requests
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * let runs = 0;
 * const request = () =>
 *   cache.getOrCreate("report.csv", async function* () {
 *     runs++;
 *     yield new TextEncoder().encode("id,total\n");
 *     yield new TextEncoder().encode("1,42\n");
 *   });
 * const [first, second] = await Promise.all([request(), request()]);
 * assert.equal(await new Response(first.readable()).text(), "id,total\n1,42\n");
 * assert.equal(await new Response(second.readable()).text(), "id,total\n1,42\n");
 * assert.equal(runs, 1);
 * ```
 *
 * @module
 */

export { StreamCache } from "./src/stream_cache.ts";
export type {
  CacheOutcome,
  CacheStatus,
  GetOrCreateOptions,
  OpenOptions,
  OpenResult,
  StreamCacheOptions,
} from "./src/stream_cache_options.ts";
export { CacheEvent } from "./src/cache_events.ts";
export type {
  CacheEventInit,
  CacheEventType,
  CacheStats,
  EvictionReason,
} from "./src/cache_events.ts";
export type { Entry, EntryState, ReadableOptions } from "./src/entry.ts";
export type {
  ProducedEntry,
  Producer,
  ProducerBody,
  ProducerContext,
  ProducerResult,
} from "./src/producer.ts";
export { MemoryStore } from "./src/memory_store.ts";
export type { MemoryStoreOptions } from "./src/memory_store.ts";
export { LayeredStore } from "./src/layered_store.ts";
export type { LayeredStoreOptions } from "./src/layered_store.ts";
export { PartitionedStore } from "./src/partitioned_store.ts";
export type { PartitionedStoreOptions } from "./src/partitioned_store.ts";
export type {
  EntryLifetime,
  EntryMeta,
  JsonValue,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "./src/store.ts";
export {
  CacheClosedError,
  EntryNotFoundError,
  StreamCacheError,
} from "./src/errors.ts";
export { ProducerLostError } from "./src/shared_store.ts";
export type {
  FollowClaim,
  ProduceClaim,
  StoreClaim,
  StoreProgress,
} from "./src/shared_store.ts";
