/**
 * The errors streamcache throws for conditions a caller may want to catch.
 *
 * Bad arguments get the built-in `TypeError` or `RangeError`; these classes
 * name the conditions that are not a caller's mistake.
 *
 * @module
 */

/**
 * The base class of every error streamcache defines; catch it to handle them all.
 *
 * @example Telling streamcache's errors apart
 * ```ts
 * import { CacheClosedError, StreamCacheError } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheClosedError("Cannot open entry: the cache is closed");
 * assert.ok(error instanceof StreamCacheError);
 * assert.equal(error.name, "CacheClosedError");
 * ```
 */
export class StreamCacheError extends Error {
  /**
   * Creates an error with a message and an optional cause.
   *
   * @param message What went wrong, and where.
   * @param options The standard `ErrorOptions`, e.g. `{ cause }`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StreamCacheError";
  }
}

/**
 * Thrown by every operation on a closed cache, and the reason with which
 * `close()` aborts in-progress writers and errors open readers.
 *
 * @example Using a cache after closing it
 * ```ts
 * import { CacheClosedError, StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const cache = new StreamCache();
 * await cache.close();
 * await assert.rejects(cache.get("report"), CacheClosedError);
 * ```
 */
export class CacheClosedError extends StreamCacheError {
  /**
   * Creates the error.
   *
   * @param message What was attempted on the closed cache.
   * @param options The standard `ErrorOptions`, e.g. `{ cause }`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheClosedError";
  }
}

/**
 * The store has no storage for an entry id: it never existed, it was
 * released, or (in a store shared by several caches) another cache replaced
 * it. Stores throw it from `openReader`; it is the only error that tells the
 * cache an entry is gone. Any other error (a full file table, an I/O error)
 * fails only the one reader that met it (SEMANTICS 6).
 *
 * @example Opening a reader for an unknown id
 * ```ts
 * import { EntryNotFoundError, MemoryStore, StreamCacheError } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * await assert.rejects(store.openReader("no-such-id"), (error) => {
 *   assert.ok(error instanceof EntryNotFoundError);
 *   assert.ok(error instanceof StreamCacheError);
 *   assert.equal(error.name, "EntryNotFoundError");
 *   return true;
 * });
 * await store.close();
 * ```
 */
export class EntryNotFoundError extends StreamCacheError {
  /**
   * Creates the error.
   *
   * @param message Which entry was not found, and where.
   * @param options The standard `ErrorOptions`, e.g. `{ cause }`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EntryNotFoundError";
  }
}
