// The cache's one table: a slot per key, with everything the cache knows of
// that key in one place, in order of recency (least recently used first), so
// eviction walks it from the front. A slot holds:
//
// - `log`: the entry callers get, being written or complete;
// - `known`: its committed record (size, times, lifetime), also for entries
//   the cache has only listed from a persistent store and never loaded;
// - `pending`: a lookup or creation in flight, which later callers wait for;
// - `refresh`: a background refresh of a stale entry.
//
// An empty slot is removed. Entries that left the table but are still read
// (deleted, evicted, replaced) live on in their readers alone.

import type { EntryLog } from "./_entry_log.ts";
import type { EntryTimes } from "./_lifetime.ts";
import type { StoreRecord } from "./store.ts";

/** A committed entry as the cache keeps it: no metadata, so a large index stays small. */
export interface Known extends EntryTimes {
  readonly id: string;
  readonly size: number;
  accessed: number;
  /** Set when a refresh of it failed: the staleIfError window applies. */
  refreshFailed: boolean;
}

/**
 * What the cache keeps of a committed record; `previous`, what it knew of
 * the same key before, keeps its own later access time.
 */
export function knownOf(record: StoreRecord, previous?: Known): Known {
  const listed = record.accessed ?? record.created;
  return {
    id: record.id,
    size: record.size,
    created: record.created,
    accessed: previous?.id === record.id
      ? Math.max(listed, previous.accessed)
      : listed,
    lifetime: record.lifetime,
    refreshFailed: false,
  };
}

/** A lookup or creation of one key in flight; later callers for the key wait for it. */
export interface Pending {
  /**
   * The entry found or created (and whether a creation made it); `undefined`
   * for a miss, and for a creation's callers to try again.
   */
  promise: Promise<{ log: EntryLog; created: boolean } | undefined>;
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

/** The background refresh of a stale entry (stale-while-revalidate). */
export interface Refresh {
  /** Settles once the producer has returned: with the new entry, or nothing if it failed. */
  started: Promise<EntryLog | undefined>;
  /** The new entry, being written; it takes the stale one's place when committed. */
  log: EntryLog | undefined;
  /** Set when the key is deleted meanwhile: the refresh is then not kept. */
  cancelled: boolean;
  /** Set when the producer threw: callers waiting for the refresh get its reason. */
  failure?: { readonly reason: unknown };
}

/** Everything the cache knows of one key. */
export interface Slot {
  readonly key: string;
  log: EntryLog | undefined;
  known: Known | undefined;
  pending: Pending | undefined;
  refresh: Refresh | undefined;
}

/** The slots of every key, least recently used first. */
export class EntryTable {
  readonly #slots = new Map<string, Slot>();
  #committed = 0;

  /** The number of committed entries known (slots with `known`). */
  get committed(): number {
    return this.#committed;
  }

  get(key: string): Slot | undefined {
    return this.#slots.get(key);
  }

  /** The slot of `key`, made (as the most recently used) if there is none. */
  slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = {
        key,
        log: undefined,
        known: undefined,
        pending: undefined,
        refresh: undefined,
      };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /** Makes `slot` the most recently used. */
  touch(slot: Slot): void {
    if (this.#slots.get(slot.key) !== slot) return;
    this.#slots.delete(slot.key);
    this.#slots.set(slot.key, slot);
  }

  /** Sets or clears a slot's committed record, keeping the count. */
  setKnown(slot: Slot, known: Known | undefined): void {
    if (this.#slots.get(slot.key) === slot) {
      if (slot.known && !known) this.#committed--;
      if (!slot.known && known) this.#committed++;
    }
    slot.known = known;
    if (!known) this.#dropIfEmpty(slot);
  }

  /** Clears a slot's entry; the slot goes once nothing is left in it. */
  setLog(slot: Slot, log: EntryLog | undefined): void {
    slot.log = log;
    if (!log) this.#dropIfEmpty(slot);
  }

  setPending(slot: Slot, pending: Pending | undefined): void {
    slot.pending = pending;
    if (!pending) this.#dropIfEmpty(slot);
  }

  setRefresh(slot: Slot, refresh: Refresh | undefined): void {
    slot.refresh = refresh;
    if (!refresh) this.#dropIfEmpty(slot);
  }

  /** Empties a slot and removes it (delete, clear). */
  drop(slot: Slot): void {
    if (this.#slots.get(slot.key) !== slot) return;
    if (slot.known) this.#committed--;
    slot.log =
      slot.known =
      slot.pending =
      slot.refresh =
        undefined;
    this.#slots.delete(slot.key);
  }

  /**
   * Puts listed entries in front of the slots there are, as the least
   * recently used, in the order given (oldest first).
   */
  adoptOlder(entries: readonly { key: string; known: Known }[]): void {
    const slots = [...this.#slots.values()];
    this.#slots.clear();
    for (const { key, known } of entries) {
      this.#slots.set(key, {
        key,
        log: undefined,
        known,
        pending: undefined,
        refresh: undefined,
      });
      this.#committed++;
    }
    for (const slot of slots) this.#slots.set(slot.key, slot);
  }

  /** The slots, least recently used first; safe to change the table meanwhile. */
  oldestFirst(): Slot[] {
    return [...this.#slots.values()];
  }

  keys(): IterableIterator<string> {
    return this.#slots.keys();
  }

  clear(): void {
    this.#slots.clear();
    this.#committed = 0;
  }

  #dropIfEmpty(slot: Slot): void {
    if (slot.log || slot.known || slot.pending || slot.refresh) return;
    if (this.#slots.get(slot.key) === slot) this.#slots.delete(slot.key);
  }
}
