// The chunk marks the benches write and every reader checks: chunk i of a
// stream starts with byte i & 255 and ends with byte (i >> 8) & 255, so a
// reader can tell a lost, repeated or reordered chunk wherever it joined.

/** Marks `source` as chunk `i` (its length is the chunk size). */
export function mark(source: Uint8Array, i: number): void {
  source[0] = i & 255;
  source[source.length - 1] = (i >> 8) & 255;
}

/**
 * Checks every chunk mark inside `value`, which holds the stream's bytes from
 * `offset`, for chunks of `chunk` bytes; calls `whole(i, at)` for each chunk
 * `i` that `value` holds whole, starting at `value[at]`.
 */
export function checkMarks(
  value: Uint8Array,
  offset: number,
  chunk: number,
  whole?: (i: number, at: number) => void,
): void {
  const end = offset + value.byteLength;
  for (let at = Math.ceil(offset / chunk) * chunk; at < end; at += chunk) {
    const i = at / chunk;
    if (value[at - offset] !== (i & 255)) {
      throw new Error(`chunk ${i}: wrong first byte at offset ${at}`);
    }
    if (whole && at + chunk <= end) whole(i, at - offset);
  }
  const lastMark = Math.ceil((offset + 1) / chunk) * chunk - 1;
  for (let at = lastMark; at < end; at += chunk) {
    const i = (at + 1) / chunk - 1;
    if (value[at - offset] !== ((i >> 8) & 255)) {
      throw new Error(`chunk ${i}: wrong last byte at offset ${at}`);
    }
  }
}
