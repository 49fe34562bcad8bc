/**
 * The cache: one writer per missing key, any number of readers while it
 * writes, bounded by count, bytes and time without ever evicting what is
 * being read.
 *
 * @module
 */

import { ByteCount } from "./_byte_count.ts";
import { type EntryHost, EntryLog } from "./_entry_log.ts";
import {
  EntryTable,
  type Known,
  knownOf,
  type Pending,
  type Refresh,
  type Slot,
} from "./_entry_table.ts";
import { Evictor } from "./_eviction.ts";
import { KeyTurns } from "./_key_turns.ts";
import { claimAndCreate, followEntry } from "./_shared_entry.ts";
import { freshness } from "./_lifetime.ts";
import { checkCacheOptions, checkLifetime } from "./_options.ts";
import { unrefInterval } from "./_unref_timer.ts";
import { checkKey, freezeMeta } from "./_validate.ts";
import { createWritable } from "./_writer.ts";
import {
  CacheEvent,
  type CacheEventInit,
  type CacheEventType,
  type CacheStats,
} from "./cache_events.ts";
import type { Entry } from "./entry.ts";
import { CacheClosedError } from "./errors.ts";
import { MemoryStore } from "./memory_store.ts";
import { type Producer, toBody } from "./producer.ts";
import type { ProduceClaim } from "./shared_store.ts";
import type { EntryLifetime, EntryMeta, Store, StoreRecord } from "./store.ts";
import type {
  CacheOutcome,
  GetOrCreateOptions,
  OpenOptions,
  OpenResult,
  StreamCacheOptions,
} from "./stream_cache_options.ts";

/** One caller's answer: the entry, and how it was served. */
interface Served {
  readonly log: EntryLog;
  readonly outcome: CacheOutcome;
}

/** What a pending slot settles with: an entry, and whether a creation made it. */
interface Settled {
  readonly log: EntryLog;
  readonly created: boolean;
}

/** Settles a pending slot's `exists`. */
interface Answer {
  resolve(exists: boolean): void;
  reject(reason: unknown): void;
}

/**
 * A creation for the key, run by the first caller that misses, or by a
 * refresh (then given the stale entry it replaces); under the store's claim
 * when the store is shared (src/_shared_entry.ts).
 */
type Create = (
  stale?: EntryLog,
  claim?: ProduceClaim,
) => Promise<EntryLog>;

/** What `#serve` says of an entry kept only for a revalidation. */
const REVALIDATE = "revalidate";
/** What `#serve` says of such an entry to a call that cannot revalidate nor create (get). */
const NOT_SERVED = "not served";
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
export class StreamCache extends EventTarget implements AsyncDisposable {
  readonly #store: Store;
  readonly #lifetime: EntryLifetime;
  readonly #clock: () => number;
  readonly #table = new EntryTable();
  readonly #bytes = new ByteCount();
  readonly #turns = new KeyTurns();
  /** Every entry whose storage is not yet released, including deleted ones still read. */
  readonly #live = new Map<string, EntryLog>();
  /** Producers that may still be running, aborted by close(). */
  readonly #producers = new Set<AbortController>();
  /** Background work (removals, store touches) that close() awaits. */
  readonly #background = new Set<Promise<unknown>>();
  readonly #host: EntryHost;
  readonly #evictor: Evictor;
  readonly #counts = { hits: 0, misses: 0, joins: 0, stale: 0, failures: 0 };
  /** Keys being removed from the store (deleted, evicted): no longer listed. */
  readonly #removing = new Map<string, number>();
  #stopSweep: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #closed!: (reason: CacheClosedError) => void;
  /** Rejects when the cache closes, so callers waiting for a producer stop waiting. */
  readonly #whenClosed = new Promise<never>((_, reject) =>
    this.#closed = reject
  );

  /**
   * Creates a cache.
   *
   * @param options The store to keep entries in, and the cache's bounds.
   */
  constructor(options: StreamCacheOptions = {}) {
    super();
    const checked = checkCacheOptions(options);
    this.#store = checked.store ?? new MemoryStore();
    const limits = checked.limits;
    this.#lifetime = checked.lifetime;
    this.#clock = checked.clock;
    this.#whenClosed.catch(() => {});
    this.#host = {
      store: this.#store,
      exclusive: (key, task) => this.#turns.run(key, task),
      forget: (log, failure) => this.#forget(log, failure),
      grew: (log, count) => {
        this.#bytes.grow(log.id, count);
        this.#evictor.grew();
      },
      keeps: (log) => this.#keeps(log, limits.maxEntryBytes),
      committed: (log, record, replaced) =>
        this.#committed(log, record, replaced),
      idle: (log) => this.#idle(log),
      releasing: (log) => this.#bytes.remove(log.id),
      released: (log) => {
        if (this.#live.get(log.id) === log) this.#live.delete(log.id);
      },
    };
    this.#evictor = new Evictor({
      store: this.#store,
      table: this.#table,
      bytes: this.#bytes,
      turns: this.#turns,
      live: this.#live,
      limits,
      lifetime: this.#lifetime,
      clock: this.#clock,
      closing: () => this.#closing !== undefined,
      emit: (type, init) => this.#emit(type, init),
      removing: (key, task) => this.#whileRemoving(key, task),
      pinnedBytes: () => this.stats().pinnedBytes,
    });
    if (checked.sweepInterval !== undefined) {
      this.#stopSweep = unrefInterval(() => {
        this.prune().catch(() => {}); // closed meanwhile: nothing to do
      }, checked.sweepInterval);
    }
  }

  /**
   * Gets the entry for `key`, creating it if it is missing; the caller that
   * creates it also gets its writer (fscache's `Get`). Exactly one caller
   * gets the writer however many ask at once (SEMANTICS 1). A stale entry
   * within its stale window is returned as it is: `open` cannot refresh it.
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
   * @param options Metadata and lifetime for a new entry.
   * @returns The entry, and its writer if this call created it.
   */
  async open(key: string, options: OpenOptions = {}): Promise<OpenResult> {
    const action = "open entry";
    checkKey(key, action);
    const meta = freezeMeta(options.meta, action);
    const lifetime = checkLifetime(options, action);
    let writable: WritableStream<Uint8Array> | undefined;
    const served = await this.#acquire(key, action, async (_stale, claim) => {
      const writer = await (claim ?? this.#store).create(key, meta, {
        created: this.#clock(),
        ...(lifetime ? { lifetime } : {}),
      });
      const log = this.#adopt(
        new EntryLog(this.#host, {
          key,
          id: writer.id,
          meta,
          lifetime,
        }),
      );
      writable = createWritable(log, writer);
      return log;
    }, undefined);
    this.#count(served!.outcome);
    const entry = served!.log;
    return writable ? { entry, writable } : { entry };
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
   * An entry past its lifetime but within its `staleWhileRevalidate` window
   * is returned at once while `producer` refreshes it in the background,
   * once per key however many callers ask; the refresh replaces it when
   * complete (readers of the old one finish it). If the refresh fails, the
   * stale entry is served on within `staleIfError`, then dropped.
   *
   * Past those windows but within `keepStale` (or `staleIfError`), the
   * entry is not served as
   * it is: the call waits for the one refresh of the key, whose producer gets
   * the stale entry (`context.stale`) to revalidate it. If that refresh
   * fails, the stale entry is served within `staleIfError`, else the call
   * rejects with the producer's error and the entry is kept for the next
   * attempt.
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
   * @param producer Makes the entry's bytes if the key is missing or stale.
   * @param options Metadata and lifetime for a new entry, and a status to fill in.
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
    const meta = freezeMeta(options.meta, action);
    const lifetime = checkLifetime(options, action);
    const produce: Create = (stale, claim) =>
      this.#produce(key, producer, { meta, lifetime }, action, stale, claim);
    const served = await this.#acquire(key, action, produce, produce);
    this.#count(served!.outcome);
    if (options.status) options.status.outcome = served!.outcome;
    return served!.log;
  }

  /**
   * Gets the entry for `key`, complete or still being written, without
   * creating one. It waits for a producer that is running for the key to
   * return (the producer decides the entry's metadata), never for its body.
   * A stale entry within its stale window is returned as it is.
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
    const served = await this.#acquire(key, "get entry", undefined, undefined);
    if (served) this.#count(served.outcome);
    return served?.log;
  }

  /**
   * Tells whether `key` has an entry, complete or still being written, or a
   * producer running for it. It never waits for a producer (SEMANTICS 2), so
   * it answers `true` while one runs, even if that producer then throws.
   * It does not count as an access: the entry's recency stays as it was.
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
    const slot = this.#table.get(key);
    if (slot?.log) {
      const servable = this.#servable(slot);
      if (servable === "yes") return true;
      if (servable === "kept") return slot.refresh !== undefined;
    }
    if (slot?.refresh || slot?.pending?.creating) return true;
    const pending = slot?.pending ?? this.#begin(key, undefined);
    return await Promise.race([pending.exists, this.#whenClosed]);
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
    this.#evictor.gone(key);
    let found = false;
    const slot = this.#table.get(key);
    if (slot) {
      if (slot.pending) slot.pending.detached = true;
      if (slot.refresh) {
        slot.refresh.cancelled = true;
        slot.refresh.log?.detach();
      }
      found = Boolean(slot.pending || slot.log || slot.known);
      const log = slot.log;
      this.#table.drop(slot);
      log?.detach();
    }
    const removed = await this.#whileRemoving(
      key,
      () => this.#removeStored(key),
    );
    return removed || found;
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
    const keys = new Set(this.#table.keys());
    for await (const key of this.#store.keys()) keys.add(key);
    await Promise.all([...keys].map((key) => this.delete(key)));
  }

  /**
   * Lists the keys that have an entry: complete and fresh (or within a stale
   * window), being written, or being produced.
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
    for (const slot of this.#table.oldestFirst()) {
      seen.add(slot.key); // an expired one is gone from the store's list too
      const producing = slot.refresh || slot.pending?.creating;
      if ((slot.log && this.#servable(slot) === "yes") || producing) {
        yield slot.key;
      } else if (slot.known && !slot.log && this.#fresh(slot.known)) {
        yield slot.key;
      }
    }
    for await (const key of this.#store.keys()) {
      if (!seen.has(key) && !this.#removing.has(key)) {
        seen.add(key);
        yield key;
      }
    }
  }

  /**
   * Evicts and expires now: entries past their lifetime and stale windows
   * go, then the least recently used idle entries until the cache is within
   * `maxEntries` and `maxBytes`. Entries being read or written are never
   * touched (SEMANTICS 17); if they alone exceed the budget, an `overbudget`
   * event says so. Resolves once done. The cache also does this by itself,
   * in the background, as entries commit and grow and as readers close.
   *
   * @example Pruning with an injected clock
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * let now = 0;
   * await using cache = new StreamCache({ ttl: 1000, clock: () => now });
   * await (await cache.getOrCreate("k", () => new Uint8Array(1))).done;
   * now = 5000;
   * await cache.prune();
   * assert.equal(cache.stats().entries, 0);
   * ```
   */
  async prune(): Promise<void> {
    this.#assertOpen("prune cache");
    await this.#evictor.indexed;
    await this.#evictor.pass(true);
  }

  /**
   * Tells the cache's counters: entries, bytes (and how many are pinned by
   * readers and writers), calls by outcome, failures and evictions by reason.
   *
   * @example Exporting a gauge
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * await (await cache.getOrCreate("k", () => new Uint8Array(100))).done;
   * const { bytes, entries } = cache.stats();
   * assert.equal(`streamcache_bytes ${bytes}\nstreamcache_entries ${entries}`, "streamcache_bytes 100\nstreamcache_entries 1");
   * ```
   *
   * @returns A snapshot of the counters.
   */
  stats(): CacheStats {
    let pinnedBytes = 0;
    let inProgress = 0;
    for (const log of this.#live.values()) {
      if (log.state === "writing") inProgress++;
      if (!log.released && (log.inUse || log.detached)) pinnedBytes += log.size;
    }
    return {
      entries: this.#table.committed,
      bytes: this.#bytes.total,
      pinnedBytes,
      inProgress,
      ...this.#counts,
      evictions: { ...this.#evictor.counts },
    };
  }

  /**
   * Tells the time by the cache's clock (`StreamCacheOptions.clock`), which
   * judges every entry's lifetime: code that stores times beside entries
   * (the HTTP wrapper's `Date` and `Age`) uses it too.
   *
   * @example An injected clock
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * let now = 1_000;
   * await using cache = new StreamCache({ clock: () => now });
   * assert.equal(cache.now(), 1_000);
   * now = 5_000;
   * assert.equal(cache.now(), 5_000);
   * ```
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number {
    return this.#clock();
  }

  /**
   * Closes the cache: in-progress writers are aborted and open readers
   * errored with a {@linkcode CacheClosedError}, timers are stopped,
   * background work is awaited, and the store is closed. Every later call
   * rejects with a `CacheClosedError`. Calling it again returns the same
   * promise (SEMANTICS 12).
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
    this.#stopSweep?.();
    // Callers waiting for a producer to start reject now; a creation still in
    // flight sees the cache closed when it finishes, and fails its entry.
    this.#closed(reason);
    for (const producer of this.#producers) producer.abort(reason);
    const logs = [...this.#live.values()];
    for (const log of logs) log.shutdown(reason);
    await this.#evictor.stop();
    await this.#turns.settled();
    await Promise.all(logs.map((log) => log.settled()));
    while (this.#background.size > 0) await Promise.all(this.#background);
    this.#table.clear();
    this.#live.clear();
    this.#bytes.clear();
    await this.#store.close();
  }

  #assertOpen(action: string): void {
    if (this.#closing) {
      throw new CacheClosedError(`Cannot ${action}: the cache is closed`);
    }
  }

  // ---- finding, creating and serving entries ---------------------------

  /**
   * Finds the entry for `key`: in the table, else in the store; if there is
   * none and `create` is given, the first caller runs it and the others wait
   * for it. A stale entry is served, and refreshed if `refresh` is given.
   */
  async #acquire(
    key: string,
    action: string,
    create: Create | undefined,
    refresh: Create | undefined,
  ): Promise<Served | undefined> {
    let ran = false;
    const mine: Create | undefined = create &&
      ((stale, claim) => {
        ran = true;
        return create(stale, claim);
      });
    for (;;) {
      this.#assertOpen(action);
      const slot = this.#table.get(key);
      if (slot?.log) {
        const served = this.#serve(slot, refresh, create !== undefined);
        if (served === NOT_SERVED) return undefined;
        if (served === REVALIDATE) {
          const revalidated = await this.#revalidate(slot, refresh!);
          if (revalidated) return revalidated;
          continue; // deleted meanwhile
        }
        if (served) return served;
        continue; // it expired, and is gone now
      }
      if (slot?.refresh && !slot.pending) {
        // The stale entry is gone, but its refresh runs: join it.
        const log = await Promise.race([
          slot.refresh.started,
          this.#whenClosed,
        ]);
        if (log && this.#table.get(key) === slot && !slot.log) {
          this.#table.setLog(slot, log);
        }
        continue;
      }
      const pending = slot?.pending ?? this.#begin(key, mine);
      const settled = await Promise.race([pending.promise, this.#whenClosed]);
      if (settled?.created) {
        const { log } = settled;
        const outcome = ran ? "miss" : log.complete ? "hit" : "join";
        return { log, outcome };
      }
      // A lookup found it (serve it next turn of the loop), or found nothing
      // or an entry deleted meanwhile: a caller that can create tries again,
      // and creates unless someone did.
      if (!settled && !create) return undefined;
    }
  }

  /**
   * Serves the entry of a slot, or expires it (and returns nothing) if it is
   * past every window. An entry kept only for a revalidation is for the
   * caller to revalidate (`REVALIDATE`) if it can refresh, is not served to
   * `get` (`NOT_SERVED`), and goes for `open`, which makes a new one.
   */
  #serve(
    slot: Slot,
    refresh: Create | undefined,
    creates: boolean,
  ): Served | typeof REVALIDATE | typeof NOT_SERVED | undefined {
    const log = slot.log!;
    const known = slot.known;
    if (!known) return { log, outcome: "join" }; // being written
    const now = this.#clock();
    const state = this.#freshness(slot, known, now);
    if (state.state === "revalidate") {
      if (refresh) return REVALIDATE;
      if (!creates) return NOT_SERVED;
    }
    if (state.state === "expired" || state.state === "revalidate") {
      this.#track(this.#evictor.evict(slot, known, state.reason));
      return undefined;
    }
    this.#accessed(slot, known, now);
    if (state.state === "stale") {
      if (refresh) this.#refresh(slot, refresh);
      return { log, outcome: "stale" };
    }
    return { log, outcome: log.complete ? "hit" : "join" };
  }

  /** Records an access to a served entry: its time, recency, and the store's copy. */
  #accessed(slot: Slot, known: Known, now: number): void {
    known.accessed = now;
    this.#table.touch(slot);
    const touching = this.#store.touch?.(known.id, now);
    if (touching) this.#track(touching);
  }

  /**
   * Waits for the one refresh of an entry kept for a revalidation, starting
   * it unless it runs: its caller gets a `miss`, the others a `join`. If it
   * fails, the stale entry is served within `staleIfError`, else every
   * waiting caller rejects with its reason (also if its producer deleted the
   * key). `undefined`: the key was deleted meanwhile, look again.
   */
  async #revalidate(slot: Slot, produce: Create): Promise<Served | undefined> {
    const mine = slot.refresh === undefined;
    this.#refresh(slot, produce);
    const refresh = slot.refresh;
    if (!refresh) return undefined; // closing: the next turn says so
    const log = await Promise.race([refresh.started, this.#whenClosed]);
    if (log) {
      return { log, outcome: mine ? "miss" : log.complete ? "hit" : "join" };
    }
    const { failure } = refresh;
    if (!failure) return undefined;
    const known = slot.known;
    if (this.#table.get(slot.key) === slot && slot.log && known) {
      const now = this.#clock();
      if (this.#freshness(slot, known, now).state === "stale") {
        this.#accessed(slot, known, now);
        return { log: slot.log, outcome: "stale" };
      }
    }
    throw failure.reason;
  }

  /**
   * Whether a slot with an entry can be served now (`kept`: only after a
   * revalidation); expires it if it is past every window.
   */
  #servable(slot: Slot): "yes" | "kept" | "no" {
    const known = slot.known;
    if (!known) return "yes"; // being written
    const state = this.#freshness(slot, known, this.#clock());
    if (state.state === "revalidate") return "kept";
    if (state.state !== "expired") return "yes";
    this.#track(this.#evictor.evict(slot, known, state.reason));
    return "no";
  }

  /** Whether a committed entry is fresh, stale or expired; in use, it is not idle. */
  #freshness(slot: Slot, known: Known, now: number) {
    return freshness(known, this.#lifetime, now, {
      failed: known.refreshFailed,
      inUse: slot.log?.inUse ?? false,
    });
  }

  #fresh(known: Known): boolean {
    const state = freshness(known, this.#lifetime, this.#clock(), {
      failed: known.refreshFailed,
    });
    return state.state === "fresh" || state.state === "stale";
  }

  /** Starts the lookup (and, if it misses, the creation) of `key`, as its pending slot. */
  #begin(key: string, create: Create | undefined): Pending {
    let exists!: Answer;
    const pending: Pending = {
      promise: undefined!,
      exists: new Promise<boolean>((resolve, reject) =>
        exists = { resolve, reject }
      ),
      detached: false,
      creating: false,
    };
    this.#table.setPending(this.#table.slot(key), pending);
    pending.promise = this.#settle(key, create, pending, exists);
    // Whoever waits for it gets a failure; has() waits for `exists` alone.
    pending.promise.catch(() => {});
    pending.exists.catch(() => {});
    return pending;
  }

  async #settle(
    key: string,
    create: Create | undefined,
    pending: Pending,
    exists: Answer,
  ): Promise<Settled | undefined> {
    try {
      const found = await this.#turns.run(key, async () => {
        const record = await this.#store.lookup(key);
        if (!record) return undefined;
        const log = this.#adopt(new EntryLog(this.#host, record));
        return { log, record };
      });
      if (found) {
        const known = knownOf(found.record, this.#table.get(key)?.known);
        const state = freshness(known, this.#lifetime, this.#clock());
        if (pending.detached || state.state === "expired") {
          // Deleted while it was looked up, or past every window: a miss,
          // never an entry whose storage goes away before its caller can
          // read it (SEMANTICS 10).
          if (state.state === "expired" && !pending.detached) {
            this.#track(
              this.#evictor.evictFound(found.log, known, state.reason),
            );
          } else {
            found.log.detach();
          }
          exists.resolve(false);
          return undefined;
        }
        const slot = this.#table.slot(key);
        slot.log = found.log;
        this.#table.setKnown(slot, known);
        exists.resolve(true);
        this.#evictor.schedule(); // it counts now
        return { log: found.log, created: false };
      }
      if (!create) {
        exists.resolve(false);
        return undefined;
      }
      pending.creating = true;
      exists.resolve(true);
      const log = await claimAndCreate(
        this.#store,
        key,
        (claim) => create(undefined, claim),
        (claim) => this.#adopt(followEntry(this.#host, key, claim)),
      );
      if (this.#closing) {
        log.shutdown(
          new CacheClosedError("Cannot create entry: the cache is closed"),
        );
      }
      if (pending.detached) log.detach();
      // An entry that failed already (its producer's stream was unusable) is
      // handed to the callers that asked for it, but not kept.
      else if (log.state !== "failed") {
        this.#table.setLog(this.#table.slot(key), log);
      }
      return { log, created: true };
    } catch (error) {
      exists.reject(error); // a no-op once answered
      throw error;
    } finally {
      const slot = this.#table.get(key);
      if (slot?.pending === pending) this.#table.setPending(slot, undefined);
    }
  }

  /** Registers a new entry's storage: it counts, and close() stops it. */
  #adopt(log: EntryLog): EntryLog {
    this.#live.set(log.id, log);
    this.#bytes.add(log.id, log.size);
    return log;
  }

  /** Runs a producer and starts piping its body into a new entry. */
  async #produce(
    key: string,
    producer: Producer,
    defaults: {
      meta: EntryMeta | undefined;
      lifetime: EntryLifetime | undefined;
    },
    action: string,
    stale: EntryLog | undefined,
    claim?: ProduceClaim,
  ): Promise<EntryLog> {
    this.#assertOpen(action); // no producer starts once the cache closes
    const abort = new AbortController();
    this.#producers.add(abort);
    let pumping = false;
    try {
      const context = stale
        ? { key, signal: abort.signal, stale }
        : { key, signal: abort.signal };
      const produced = toBody(await producer(context), key);
      try {
        this.#assertOpen(action);
        const meta = produced.hasMeta ? produced.meta : defaults.meta;
        const lifetime = produced.lifetime || defaults.lifetime
          ? { ...defaults.lifetime, ...produced.lifetime }
          : undefined;
        const writer = await (claim ?? this.#store).create(key, meta, {
          created: this.#clock(),
          ...(lifetime ? { lifetime } : {}),
        });
        const log = this.#adopt(
          new EntryLog(this.#host, { key, id: writer.id, meta, lifetime }),
        );
        log.done.catch((reason) => abort.abort(reason));
        pumping = true;
        pump(produced.body, createWritable(log, writer))
          .finally(() => this.#producers.delete(abort));
        return log;
      } catch (error) {
        produced.body.cancel(error).catch(() => {});
        throw error;
      }
    } finally {
      if (!pumping) this.#producers.delete(abort);
    }
  }

  /** Starts the one background refresh of a stale entry, unless it runs. */
  #refresh(slot: Slot, produce: Create): void {
    if (slot.refresh || this.#closing) return;
    const refresh: Refresh = {
      started: undefined!,
      log: undefined,
      cancelled: false,
    };
    this.#table.setRefresh(slot, refresh);
    const stale = slot.log;
    refresh.started = (async () => {
      try {
        const log = await produce(stale);
        if (refresh.cancelled || this.#closing) {
          log.detach();
          return undefined;
        }
        refresh.log = log;
        return log;
      } catch (error) {
        refresh.failure = { reason: error };
        this.#refreshFailed(slot, refresh, error);
        return undefined;
      }
    })();
  }

  /** A refresh failed: the stale entry is served on within staleIfError. */
  #refreshFailed(slot: Slot, refresh: Refresh, error: unknown): void {
    if (slot.refresh !== refresh) return;
    this.#table.setRefresh(slot, undefined);
    if (slot.known) slot.known.refreshFailed = true;
    if (refresh.log === undefined) {
      // The producer threw before an entry existed: say so as for an entry.
      this.#counts.failures++;
      this.#emit("fail", { key: slot.key, error });
    }
  }

  // ---- what entries tell the cache ----------------------------------------

  #forget(log: EntryLog, failure: { reason: unknown } | undefined): void {
    const slot = this.#table.get(log.key);
    if (slot?.refresh?.log === log) {
      this.#refreshFailed(slot, slot.refresh, failure?.reason);
    }
    if (slot?.log === log) {
      if (slot.known?.id === log.id) this.#table.setKnown(slot, undefined);
      this.#table.setLog(slot, undefined);
    }
    if (failure) {
      this.#counts.failures++;
      this.#emit("fail", { key: log.key, id: log.id, error: failure.reason });
    }
  }

  /** Whether to commit an entry: one larger than maxEntryBytes only streams. */
  #keeps(log: EntryLog, maxEntryBytes: number): boolean {
    if (log.size <= maxEntryBytes) return true;
    const slot = this.#table.get(log.key);
    if (slot?.log === log) this.#table.setLog(slot, undefined);
    this.#evictor.oversize(log);
    return false;
  }

  #committed(
    log: EntryLog,
    record: StoreRecord,
    replaced: string | undefined,
  ): void {
    const slot = this.#table.get(log.key);
    const known: Known = {
      id: log.id,
      size: record.size,
      created: record.created,
      accessed: this.#clock(),
      lifetime: record.lifetime ?? log.lifetime,
      refreshFailed: false,
    };
    if (slot && slot.refresh?.log === log) {
      // A refresh: it takes the place of the stale entry, whose readers
      // finish it (SEMANTICS 10).
      const stale = slot.log;
      slot.log = log;
      this.#table.setRefresh(slot, undefined);
      this.#table.setKnown(slot, known);
      if (stale !== log) stale?.detach();
    } else if (slot?.log === log) {
      this.#table.setKnown(slot, known);
    }
    if (slot) this.#table.touch(slot);
    if (replaced !== undefined) this.#freeReplaced(replaced);
    // Said once the entry is complete for its readers too.
    log.done.then(() =>
      this.#emit("commit", { key: log.key, id: log.id, size: record.size })
    );
    this.#evictor.changed();
  }

  /**
   * Frees the storage an earlier commit held, now unlinked from its key: at
   * once, unless an entry of this cache still reads it (then when it is done).
   */
  #freeReplaced(id: string): void {
    const holder = this.#live.get(id);
    if (holder) {
      holder.detach();
      return;
    }
    this.#bytes.remove(id);
    // Cleanup, not part of the commit: if it fails, the commit stands (a
    // persistent store reclaims the space at its next start).
    this.#track(this.#store.release(id));
  }

  /** An entry's last reader or writer is gone: it may expire or be evicted now. */
  #idle(log: EntryLog): void {
    const slot = this.#table.get(log.key);
    if (slot?.log === log && slot.known && !this.#closing) {
      const state = this.#freshness(slot, slot.known, this.#clock());
      if (state.state === "expired") {
        this.#track(this.#evictor.evict(slot, slot.known, state.reason));
        return;
      }
    }
    this.#evictor.changed();
  }

  /** Unlinks the stored entry for `key`, releasing it unless a live entry still holds it. */
  #removeStored(key: string): Promise<boolean> {
    return this.#turns.run(key, async () => {
      const record = await this.#store.lookup(key);
      if (!record) return false;
      await this.#store.remove(key, record.id);
      if (!this.#live.has(record.id)) {
        this.#bytes.remove(record.id);
        await this.#store.release(record.id);
      }
      return true;
    });
  }

  /** Runs `task`, a removal of `key` from the store; meanwhile `keys()` omits the key. */
  async #whileRemoving<T>(key: string, task: () => Promise<T>): Promise<T> {
    this.#removing.set(key, (this.#removing.get(key) ?? 0) + 1);
    try {
      return await task();
    } finally {
      const left = this.#removing.get(key)! - 1;
      if (left > 0) this.#removing.set(key, left);
      else this.#removing.delete(key);
    }
  }

  // ---- small things -------------------------------------------------------

  #count(outcome: CacheOutcome): void {
    const counter = outcome === "hit"
      ? "hits"
      : outcome === "miss"
      ? "misses"
      : outcome === "join"
      ? "joins"
      : "stale";
    this.#counts[counter]++;
  }

  #emit(type: CacheEventType, init: CacheEventInit): void {
    this.dispatchEvent(new CacheEvent(type, init));
  }

  /** Keeps background work for close() to await; its failure is ignored. */
  #track(task: Promise<unknown>): void {
    const tracked = task.catch(() => {}).finally(() =>
      this.#background.delete(tracked)
    );
    this.#background.add(tracked);
  }
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
