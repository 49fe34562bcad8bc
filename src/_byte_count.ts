// The body bytes a cache holds, counted per storage id from the moment the
// cache knows of the storage (created, looked up, listed) until it is
// released: entries being written, complete ones, and deleted or evicted
// ones that readers still read all count (SEMANTICS 17: a budget that stops
// counting what it cannot evict is no budget).

export class ByteCount {
  readonly #sizes = new Map<string, number>();
  #total = 0;

  /** The bytes of every counted id. */
  get total(): number {
    return this.#total;
  }

  /** Whether `id` is counted. */
  has(id: string): boolean {
    return this.#sizes.has(id);
  }

  /** Counts `id` at `size` bytes, unless it is counted already. */
  add(id: string, size: number): void {
    if (this.#sizes.has(id)) return;
    this.#sizes.set(id, size);
    this.#total += size;
  }

  /** Adds `count` bytes to a counted id. */
  grow(id: string, count: number): void {
    const size = this.#sizes.get(id);
    if (size === undefined) return;
    this.#sizes.set(id, size + count);
    this.#total += count;
  }

  /** Stops counting `id`; a no-op if it is not counted. */
  remove(id: string): void {
    const size = this.#sizes.get(id);
    if (size === undefined) return;
    this.#sizes.delete(id);
    this.#total -= size;
  }

  clear(): void {
    this.#sizes.clear();
    this.#total = 0;
  }
}
