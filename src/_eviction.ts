// Keeping a cache within its bounds (SEMANTICS 16, 17): eviction passes that
// walk the table from the least recently used, skip entries in use (which
// still count), expire what is past its lifetime, and take only the evicted
// key's turn, so no get, open or read ever waits for them (SEMANTICS 2).
// Also the index a persistent store's records give after a restart.

import type { ByteCount } from "./_byte_count.ts";
import type { EntryLog } from "./_entry_log.ts";
import {
  type EntryTable,
  type Known,
  knownOf,
  type Slot,
} from "./_entry_table.ts";
import type { KeyTurns } from "./_key_turns.ts";
import { freshness } from "./_lifetime.ts";
import type { Limits } from "./_options.ts";
import type {
  CacheEventInit,
  CacheEventType,
  EvictionReason,
} from "./cache_events.ts";
import type { EntryLifetime, Store, StoreRecord } from "./store.ts";

/** What eviction needs of the cache. */
export interface EvictionHost {
  readonly store: Store;
  readonly table: EntryTable;
  readonly bytes: ByteCount;
  readonly turns: KeyTurns;
  /** Every entry whose storage is not yet released. */
  readonly live: ReadonlyMap<string, EntryLog>;
  readonly limits: Limits;
  readonly lifetime: EntryLifetime;
  clock(): number;
  closing(): boolean;
  emit(type: CacheEventType, init: CacheEventInit): void;
  /** Runs `task`, a removal of `key` from the store, marked as under way. */
  removing<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** The bytes of entries being read or written. */
  pinnedBytes(): number;
}

export class Evictor {
  /** Entries evicted so far, by reason. */
  readonly counts: Record<EvictionReason, number> = {
    bytes: 0,
    entries: 0,
    ttl: 0,
    maxAge: 0,
    oversize: 0,
  };
  readonly #host: EvictionHost;
  /** Settles once a persistent store's records are in the table. */
  readonly indexed: Promise<void>;
  /** Keys deleted or evicted while the index loads: their listed records are stale. */
  #indexing: Set<string> | undefined;
  /** Eviction passes, one after another. */
  #passes: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set when a pass ended over budget with nothing left to evict: growth alone does not try again. */
  #stuck = false;
  /** Set once `overbudget` was said, until the cache is within budget again. */
  #saidOverBudget = false;

  constructor(host: EvictionHost) {
    this.#host = host;
    this.indexed = host.store.records ? this.#loadIndex() : Promise.resolve();
  }

  /** Whether the cache holds more entries or bytes than its limits. */
  overBudget(): boolean {
    const { table, bytes, limits } = this.#host;
    return table.committed > limits.maxEntries ||
      bytes.total > limits.maxBytes;
  }

  /** An entry grew: evict soon if over budget, unless nothing can go. */
  grew(): void {
    if (!this.#stuck) this.schedule();
  }

  /** An entry committed or went idle: something may go now. */
  changed(): void {
    this.#stuck = false;
    this.schedule();
  }

  /** Notes that `key` left the cache, so a listing still loading forgets it. */
  gone(key: string): void {
    this.#indexing?.add(key);
  }

  /**
   * Runs an eviction pass soon, if the cache is over budget. "Soon" is the
   * next task, not now: a caller that has just been handed an entry opens its
   * reader first, so an entry is never evicted between the two. The timer
   * fires at once, so it holds a process no longer than the pass itself.
   */
  schedule(): void {
    if (this.#host.closing() || this.#timer || !this.overBudget()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.pass(false).catch(() => {});
    }, 0);
  }

  /**
   * Runs an eviction pass after those already queued. A full pass (prune)
   * also expires entries past their windows wherever they are in the order.
   */
  pass(full: boolean): Promise<void> {
    const run = this.#passes.then(() => this.#run(full));
    this.#passes = run.catch(() => {});
    return run;
  }

  /** Stops scheduling, and resolves once the passes under way are done. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.indexed;
    await this.#passes;
  }

  /**
   * Evicts a committed entry: out of the table at once, so nobody new gets
   * it; then, in its key's turn, out of the store, and then the `evict` event
   * says so. Readers already open finish it, and its storage goes when they
   * are done (SEMANTICS 10, 17).
   */
  async evict(slot: Slot, known: Known, reason: EvictionReason): Promise<void> {
    const { table, bytes } = this.#host;
    const log = slot.log;
    this.gone(slot.key);
    table.setKnown(slot, undefined);
    if (log) table.setLog(slot, undefined);
    this.counts[reason]++;
    if (!log) bytes.remove(known.id);
    await this.#removeFromStore(slot.key, known.id, log);
    this.#host.emit("evict", {
      key: slot.key,
      id: known.id,
      size: known.size,
      reason,
    });
  }

  /** Evicts an entry a lookup found expired, before it was ever in the table. */
  async evictFound(
    log: EntryLog,
    known: Known,
    reason: "ttl" | "maxAge",
  ): Promise<void> {
    this.counts[reason]++;
    await this.#removeFromStore(log.key, known.id, log);
    this.#host.emit("evict", {
      key: log.key,
      id: known.id,
      size: known.size,
      reason,
    });
  }

  /** Counts an entry that streamed to its readers but was too large to keep. */
  oversize(log: EntryLog): void {
    this.counts.oversize++;
    this.#host.emit("evict", {
      key: log.key,
      id: log.id,
      size: log.size,
      reason: "oversize",
    });
  }

  /** One pass: from the least recently used, skipping entries in use. */
  async #run(full: boolean): Promise<void> {
    await this.indexed;
    const { table, bytes, limits, lifetime } = this.#host;
    for (const slot of table.oldestFirst()) {
      if (this.#host.closing()) return;
      if (!full && !this.overBudget()) break;
      const known = slot.known;
      if (!known || table.get(slot.key) !== slot) continue;
      if (slot.pending || slot.refresh || slot.log?.inUse) continue;
      const state = freshness(known, lifetime, this.#host.clock(), {
        failed: known.refreshFailed,
      });
      const reason: EvictionReason | undefined = state.state === "expired"
        ? state.reason
        : table.committed > limits.maxEntries
        ? "entries"
        : bytes.total > limits.maxBytes
        ? "bytes"
        : undefined;
      if (reason) await this.evict(slot, known, reason);
    }
    // Over budget with nothing left to evict: growth alone does not try
    // again (an entry going idle or committing does), and it is said once
    // until the cache is within budget again.
    this.#stuck = this.overBudget();
    if (this.#stuck && !this.#saidOverBudget) {
      this.#saidOverBudget = true;
      this.#host.emit("overbudget", {
        bytes: bytes.total,
        pinnedBytes: this.#host.pinnedBytes(),
      });
    } else if (!this.#stuck) {
      this.#saidOverBudget = false;
    }
  }

  /** Unlinks `id` from `key` in the store, then frees it (through `log`, when its readers are done). */
  async #removeFromStore(
    key: string,
    id: string,
    log: EntryLog | undefined,
  ): Promise<void> {
    const { store, turns, live } = this.#host;
    try {
      await this.#host.removing(key, () =>
        turns.run(key, async () => {
          await store.remove(key, id);
          if (!log && !live.has(id)) await store.release(id);
        }));
    } catch {
      // Left in the store: garbage, not a wrong answer (it is out of the
      // table, and a later lookup judges it afresh).
    } finally {
      log?.detach();
    }
  }

  /**
   * Puts a persistent store's records in the table, least recently used
   * first, behind the entries the cache has met since it started: a restart
   * keeps the byte count and the recency order.
   */
  async #loadIndex(): Promise<void> {
    const { store, table, bytes, live } = this.#host;
    const gone = this.#indexing = new Set();
    try {
      const records: StoreRecord[] = [];
      for await (const record of store.records!()) {
        if (this.#host.closing()) return;
        records.push(record);
      }
      records.sort((a, b) =>
        (a.accessed ?? a.created) - (b.accessed ?? b.created)
      );
      const listed = records.filter((record) =>
        !gone.has(record.key) && !live.has(record.id) &&
        !table.get(record.key)
      ).map((record) => ({ key: record.key, known: knownOf(record) }));
      table.adoptOlder(listed);
      for (const { known: { id, size } } of listed) bytes.add(id, size);
    } catch {
      // The index stays partial: budgets count what the cache has met.
    } finally {
      this.#indexing = undefined;
    }
    this.schedule();
  }
}
