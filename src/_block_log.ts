/**
 * A growable byte log held as fixed-size blocks: appends copy into the tail
 * block, reads copy out of one or two blocks. Small writes coalesce and large
 * ones split, so no block is larger than `blockSize` and finding the block of
 * an offset is a division, whatever the history of writes.
 */
export class BlockLog {
  readonly blockSize: number;
  #blocks: Uint8Array[] = [];
  #size = 0;

  constructor(blockSize: number) {
    this.blockSize = blockSize;
  }

  /** The number of bytes appended. */
  get size(): number {
    return this.#size;
  }

  /** Copies `chunk` onto the end of the log. */
  append(chunk: Uint8Array): void {
    let from = 0;
    while (from < chunk.byteLength) {
      const within = this.#size % this.blockSize;
      if (within === 0) this.#blocks.push(new Uint8Array(this.blockSize));
      const tail = this.#blocks[this.#blocks.length - 1]!;
      const count = Math.min(this.blockSize - within, chunk.byteLength - from);
      tail.set(chunk.subarray(from, from + count), within);
      from += count;
      this.#size += count;
    }
  }

  /** Shrinks the tail block to the bytes it holds, once no append will follow. */
  seal(): void {
    const within = this.#size % this.blockSize;
    const last = this.#blocks.length - 1;
    if (within !== 0) this.#blocks[last] = this.#blocks[last]!.slice(0, within);
  }

  /** Returns a new array with up to `length` bytes from `offset`. */
  read(offset: number, length: number): Uint8Array {
    const count = Math.max(0, Math.min(length, this.#size - offset));
    const first = this.#blocks[Math.floor(offset / this.blockSize)];
    const within = offset % this.blockSize;
    if (first && within + count <= first.byteLength) {
      return first.slice(within, within + count); // the common case: one block
    }
    const out = new Uint8Array(count);
    this.readInto(offset, out);
    return out;
  }

  /** Copies up to `view.byteLength` bytes from `offset` into `view`; returns how many. */
  readInto(offset: number, view: Uint8Array): number {
    const count = Math.max(0, Math.min(view.byteLength, this.#size - offset));
    for (let done = 0; done < count;) {
      const at = offset + done;
      const block = this.#blocks[Math.floor(at / this.blockSize)]!;
      const from = at % this.blockSize;
      const part = Math.min(block.byteLength - from, count - done);
      view.set(block.subarray(from, from + part), done);
      done += part;
    }
    return count;
  }
}
