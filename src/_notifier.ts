/**
 * Wakes whoever waits for an entry's next change (append, commit, failure).
 * `wait()` returns a promise that the next `notify()` resolves: readers await
 * it instead of polling (SEMANTICS rule 4). One promise is shared by all the
 * waiters of a change, so a thousand waiting readers cost one promise.
 */
export class Notifier {
  #waiting: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  /** A promise settled by the next `notify()`. */
  wait(): Promise<void> {
    this.#waiting ??= new Promise<void>((resolve) => this.#wake = resolve);
    return this.#waiting;
  }

  /** Wakes every current waiter. */
  notify(): void {
    const wake = this.#wake;
    this.#waiting = this.#wake = undefined;
    wake?.();
  }
}
