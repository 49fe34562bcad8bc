/**
 * The optional capabilities of a store that several processes share (a
 * fleet): *claiming* a key, so that one process in the whole fleet produces
 * it, and *following* an entry another process writes, so this process's
 * readers stream it as it grows. A {@linkcode StreamCache} over a store that
 * has `claim` and `follow` keeps the single-writer promise (SEMANTICS 1)
 * across processes; stores without them work as before, one producer per
 * process.
 *
 * @module
 */

import { StreamCacheError } from "./errors.ts";
import type {
  EntryLifetime,
  EntryMeta,
  StoreCreateOptions,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

/**
 * This process holds the key's lease and produces it: `create` makes its
 * entry (as `Store.create` does, under the lease), or `abandon` gives the
 * lease up when the producer failed before its entry existed.
 *
 * @example A claim as a single-process store could give it
 * ```ts
 * import { MemoryStore } from "@streamcache/streamcache";
 * import type { ProduceClaim } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const claim: ProduceClaim = {
 *   kind: "produce",
 *   create: (key, meta, options) => store.create(key, meta, options),
 *   abandon: () => Promise.resolve(),
 * };
 * const writer = await claim.create("report", undefined, {});
 * await writer.write(new TextEncoder().encode("done"));
 * assert.equal((await writer.commit()).size, 4); // a shared store gives its lease up here
 * await store.close();
 * ```
 */
export interface ProduceClaim {
  /** This process produces the key. */
  readonly kind: "produce";
  /**
   * Creates the entry under the lease; arguments as `Store.create`'s.
   *
   * @param key The key claimed.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer whose appends and commit hold only while the lease does.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options?: StoreCreateOptions,
  ): Promise<StoreWriter>;
  /**
   * Gives the lease up without an entry (the producer failed first), or
   * fails the entry if it was created and is not committed.
   *
   * @param reason Why, for the followers.
   */
  abandon(reason?: unknown): Promise<void>;
}

/**
 * Another process produces the key (or has just committed it): follow the
 * entry `id` with `Store.follow`.
 *
 * @example What a follower learns with the claim
 * ```ts
 * import type { FollowClaim } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const claim: FollowClaim = { kind: "follow", id: "42.9f1c", meta: { type: "text/csv" }, lifetime: undefined };
 * assert.equal(claim.meta?.type, "text/csv"); // known before the first byte
 * ```
 */
export interface FollowClaim {
  /** Another process produces the key. */
  readonly kind: "follow";
  /** The entry's storage identity. */
  readonly id: string;
  /** The entry's metadata, as its producer created it. */
  readonly meta: EntryMeta | undefined;
  /** The entry's own lifetime, if any. */
  readonly lifetime: EntryLifetime | undefined;
}

/**
 * The answer of `Store.claim`.
 *
 * @example Telling the two answers apart
 * ```ts
 * import type { StoreClaim } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const claim: StoreClaim = { kind: "follow", id: "7", meta: undefined, lifetime: undefined };
 * assert.equal(claim.kind === "follow" ? claim.id : undefined, "7");
 * ```
 */
export type StoreClaim = ProduceClaim | FollowClaim;

/**
 * What `Store.follow` reports of an entry written elsewhere: its size so
 * far, and its committed record once complete (the last report).
 *
 * @example Progress of a complete entry
 * ```ts
 * import type { StoreProgress } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const progress: StoreProgress = { size: 3 };
 * assert.equal(progress.record, undefined); // still written
 * ```
 */
export interface StoreProgress {
  /** The bytes readable so far. */
  readonly size: number;
  /** The committed record, once the entry is complete. */
  readonly record?: StoreRecord;
}

/**
 * The process producing an entry that this process follows lost its lease
 * (it died, hung past the lease, or lost its connection) before completing
 * the entry: the entry is incomplete for good, and readers error with this,
 * never a clean end (SEMANTICS 5). The next request produces the key afresh.
 *
 * @example Recognising a lost producer
 * ```ts
 * import { ProducerLostError, StreamCacheError } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const error = new ProducerLostError("Cannot read entry \"k\": its producer was lost");
 * assert.ok(error instanceof StreamCacheError);
 * assert.equal(error.name, "ProducerLostError");
 * ```
 */
export class ProducerLostError extends StreamCacheError {
  /**
   * Creates the error.
   *
   * @param message Which entry, and what became of its producer.
   * @param options The standard `ErrorOptions`, e.g. `{ cause }`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProducerLostError";
  }
}
