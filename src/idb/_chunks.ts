// An entry's bytes as fixed-size chunks: the ones a writer holds in memory
// until they are stored (small writes coalesce into whole chunks), and
// reading a byte range from the chunks that are stored, so a Range read
// touches only its chunks. Every read returns bytes of the reader's own
// (SEMANTICS 7): a copy of memory, or a structured clone IndexedDB made.

import type { Connection } from "./_connection.ts";
import { request } from "./_idb_types.ts";
import { chunkRange } from "./_layout.ts";

/** An entry being written by this store: what is stored, and what is not yet. */
export class Pending {
  readonly chunkSize: number;
  /** Bytes stored in IndexedDB: whole chunks while written, all once committed. */
  stored = 0;
  /** Whole chunks not stored yet, in order, after `stored`. */
  full: Uint8Array[] = [];
  /** The partial chunk after them, and how much of it is filled. */
  tail: Uint8Array;
  tailLength = 0;

  constructor(chunkSize: number) {
    this.chunkSize = chunkSize;
    this.tail = new Uint8Array(chunkSize);
  }

  /** Every byte written so far. */
  get size(): number {
    return this.stored + this.full.length * this.chunkSize + this.tailLength;
  }

  /** Copies `bytes` in, filling chunks; whole ones move to `full`. */
  append(bytes: Uint8Array): void {
    const size = this.chunkSize;
    for (let at = 0; at < bytes.byteLength;) {
      const n = Math.min(size - this.tailLength, bytes.byteLength - at);
      this.tail.set(bytes.subarray(at, at + n), this.tailLength);
      this.tailLength += n;
      at += n;
      if (this.tailLength === size) {
        this.full.push(this.tail);
        this.tail = new Uint8Array(size);
        this.tailLength = 0;
      }
    }
  }

  /** Marks the first `count` whole chunks stored. */
  storedFull(count: number): void {
    this.full.splice(0, count);
    this.stored += count * this.chunkSize;
  }

  /** Marks everything stored (the tail too, at commit). */
  storedAll(): void {
    this.stored = this.size;
    this.full = [];
    this.tail = new Uint8Array(0);
    this.tailLength = 0;
  }

  /** A copy of bytes from `offset` (at least `stored`) within one chunk. */
  read(offset: number, length: number): Uint8Array {
    const relative = offset - this.stored;
    const index = Math.floor(relative / this.chunkSize);
    const start = relative - index * this.chunkSize;
    const [chunk, end] = index < this.full.length
      ? [this.full[index]!, this.chunkSize]
      : index === this.full.length
      ? [this.tail, this.tailLength]
      : [this.tail, 0];
    return chunk.slice(start, Math.max(start, Math.min(end, start + length)));
  }
}

/**
 * Reads bytes `[offset, end)` of entry `id` from its stored chunks in one
 * transaction: fewer where chunks are missing (not stored yet, or gone).
 */
export async function readStored(
  db: Connection,
  id: string,
  chunkSize: number,
  offset: number,
  end: number,
): Promise<Uint8Array> {
  if (offset >= end) return new Uint8Array(0);
  const first = Math.floor(offset / chunkSize);
  const last = Math.floor((end - 1) / chunkSize);
  const chunks = await db.run(
    "readonly",
    (store) =>
      request<Uint8Array[]>(
        store.getAll(chunkRange(id, first, last)),
      ),
  );
  const start = offset - first * chunkSize;
  // One chunk: a view of the clone IndexedDB made for this read alone.
  if (chunks.length === 1) {
    const chunk = chunks[0]!;
    return chunk.subarray(
      start,
      Math.max(start, Math.min(chunk.byteLength, end - first * chunkSize)),
    );
  }
  let available = 0;
  for (const chunk of chunks) available += chunk.byteLength;
  const out = new Uint8Array(
    Math.max(0, Math.min(available, end - first * chunkSize) - start),
  );
  let at = -start;
  for (const chunk of chunks) {
    if (at >= out.byteLength) break;
    const from = Math.max(0, -at);
    const piece = chunk.subarray(from, from + out.byteLength - Math.max(at, 0));
    out.set(piece, Math.max(at, 0));
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Reads bytes `[offset, end)` of an entry this store is writing: what is
 * stored from IndexedDB, the rest from memory, whole up to what is written.
 */
export async function readPending(
  db: Connection,
  id: string,
  pending: Pending,
  offset: number,
  end: number,
): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let at = offset; at < end;) {
    // A chunk may be stored while IndexedDB is read: `stored` is read anew.
    const piece = at >= pending.stored
      ? pending.read(at, end - at)
      : await readStored(
        db,
        id,
        pending.chunkSize,
        at,
        Math.min(end, pending.stored),
      );
    if (!piece.byteLength) break;
    pieces.push(piece);
    at += piece.byteLength;
  }
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}
