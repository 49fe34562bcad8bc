// Where IndexedDbStore keeps what, in the one object store of its database.
// Every IndexedDB key is an array whose first element names the kind of
// record, so one store holds them all and a key range lists one kind:
//
//   ["k", key]          → LinkRecord: the committed entry of a key (its
//                         StoreRecord); lookup, keys() and records() read
//                         these alone
//   ["e", id]           → EntryState: one entry's storage, written or
//                         committed, or released while another context
//                         still read it (what openReader, touch, follow
//                         and the sweeps read)
//   ["w", id]           → the key: entry `id` is being written; removed
//                         when it commits or is released, so the sweep of
//                         dead writers lists these alone
//   ["p", key]          → ProducingRecord: the entry a claim of the key
//                         created, while it is written (and why it failed,
//                         if it did); followers in other contexts find it
//                         here. Removed when it commits.
//   ["c", id, n]        → Uint8Array: the entry's n-th chunk of chunkSize
//                         bytes (the last one may be shorter)
//
// Keys are data (SEMANTICS 15): an entry's key is an element of an
// IndexedDB key, never parsed. Arrays sort after strings and numbers, so
// `[kind, id, []]` bounds every key that starts with `[kind, id]`.

import type { EntryLifetime, EntryMeta, StoreRecord } from "../store.ts";
import { bound, type IdbKey, type IdbKeyRange } from "./_idb_types.ts";

/** The committed record of a key, as `lookup` returns it. */
export type LinkRecord = StoreRecord;

/**
 * One entry's storage: being written by a live or dead writer, committed,
 * or released by its cache while a reader in another context still reads it
 * (then the last reader, or a sweep, deletes it).
 */
export interface EntryState {
  readonly key: string;
  readonly state: "writing" | "committed" | "released";
  /** The size of its chunks (the store's at `create`). */
  readonly chunkSize: number;
  /** Its size once committed; 0 while written. */
  readonly size: number;
  /** What a follower's record needs (absent in entries of older versions). */
  readonly meta?: EntryMeta;
  readonly created?: number;
  readonly lifetime?: EntryLifetime;
}

/** The entry a claim of a key created, and its failure if it failed. */
export interface ProducingRecord {
  readonly id: string;
  readonly failed?: string;
}

export const linkKey = (key: string): IdbKey => ["k", key];
export const entryKey = (id: string): IdbKey => ["e", id];
export const writingKey = (id: string): IdbKey => ["w", id];
export const producingKey = (key: string): IdbKey => ["p", key];
export const chunkKey = (id: string, index: number): IdbKey => [
  "c",
  id,
  index,
];

/** Every link record. */
export const links = (): IdbKeyRange => bound(["k"], ["k", []]);
/** Every entry's state. */
export const entries = (): IdbKeyRange => bound(["e"], ["e", []]);
/** Every claim's record of the entry it created. */
export const producings = (): IdbKeyRange => bound(["p"], ["p", []]);
/** Every marker of an entry being written. */
export const writings = (): IdbKeyRange => bound(["w"], ["w", []]);
/** Chunks `first` to `last` (inclusive) of entry `id`. */
export const chunkRange = (
  id: string,
  first: number,
  last: number,
): IdbKeyRange => bound(["c", id, first], ["c", id, last]);
/** Every chunk of entry `id`. */
export const allChunks = (id: string): IdbKeyRange =>
  bound(["c", id], ["c", id, []]);
