/**
 * Per-key turns: tasks for one key run one after another, tasks for
 * different keys run freely. The cache takes a turn only for short store
 * operations (a lookup, a commit, a removal), never for a producer, so nobody
 * waits for another key or for a writer (SEMANTICS 2).
 */
export class KeyTurns {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` once every earlier task for `key` has settled. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const turn = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = turn.then(() => {}, () => {});
    this.#tails.set(key, tail);
    try {
      return await turn;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Resolves once every task started so far has settled. */
  async settled(): Promise<void> {
    await Promise.all(this.#tails.values());
  }
}
