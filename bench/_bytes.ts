/**
 * The byte pattern the workload benches write, and a byte-for-byte check of
 * what a reader got: chunk `i` of a stream is {@linkcode PATTERN} with the
 * marks of bench/_marks.ts (its first and last byte encode `i`), so a
 * reader can be checked wherever it joined and however its chunks are cut.
 * The check compares with `Buffer.compare` (memcmp), so checking every byte
 * costs every subject the same small share. Not a benchmark itself.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { checkMarks, mark } from "./_marks.ts";

/** The chunk size of the workloads: 64 KiB. */
export const CHUNK = 64 * 1024;

/** One chunk of the pattern, unmarked: byte k is (k * 31) & 255. */
export const PATTERN: Uint8Array = new Uint8Array(CHUNK).map((_, k) =>
  (k * 31) & 255
);
const patternBuffer = Buffer.from(
  PATTERN.buffer,
  PATTERN.byteOffset,
  PATTERN.byteLength,
);

/** A new buffer for a writer to mark and write again and again. */
export function newSource(): Uint8Array {
  return PATTERN.slice();
}

/** Marks `source` as chunk `i` (see bench/_marks.ts). */
export { mark };

/**
 * Follows one reader's stream: `add(value)` checks every byte of `value`
 * against the pattern at the reader's offset and advances it.
 */
export class ByteCheck {
  offset: number;

  constructor(start = 0) {
    this.offset = start;
  }

  /** Checks `value`, the stream's next bytes, and moves past them. */
  add(value: Uint8Array): void {
    const offset = this.offset;
    checkMarks(value, offset, CHUNK);
    const got = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const end = offset + value.byteLength;
    for (let at = offset; at < end;) {
      const within = at % CHUNK;
      // The marks are checked above; compare the bytes between them.
      const from = Math.max(within, 1);
      const to = Math.min(CHUNK - 1, within + (end - at));
      if (
        from < to &&
        got.compare(
            patternBuffer,
            from,
            to,
            at - offset + (from - within),
            at - offset + (to - within),
          ) !== 0
      ) {
        throw new Error(`wrong bytes in chunk ${Math.floor(at / CHUNK)}`);
      }
      at += CHUNK - within;
    }
    this.offset = end;
  }

  /** Throws unless the stream ended at `total`. */
  end(total: number): number {
    if (this.offset !== total) {
      throw new Error(`a reader got ${this.offset} bytes, expected ${total}`);
    }
    return this.offset;
  }
}

/** Reads a web stream to its end with a default reader, checking every byte. */
export async function consumeWeb(
  readable: ReadableStream<Uint8Array>,
  total: number,
): Promise<number> {
  const reader = readable.getReader();
  const check = new ByteCheck();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    check.add(value);
  }
  return check.end(total);
}

/**
 * Reads a byte stream to its end with a BYOB reader into one reused
 * `CHUNK`-byte buffer, checking every byte.
 */
export async function consumeByob(
  readable: ReadableStream<Uint8Array>,
  total: number,
): Promise<number> {
  const reader = readable.getReader({ mode: "byob" });
  const check = new ByteCheck();
  let buffer = new ArrayBuffer(CHUNK);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    check.add(value);
    buffer = value.buffer as ArrayBuffer; // the same memory, handed back
  }
  return check.end(total);
}

/** Reads an async iterable of chunks (a Node stream) to its end, checking every byte. */
export async function consumeIterable(
  chunks: AsyncIterable<Uint8Array>,
  total: number,
): Promise<number> {
  const check = new ByteCheck();
  for await (const value of chunks) check.add(value);
  return check.end(total);
}
