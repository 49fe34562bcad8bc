// Bounded parallelism for passes over many entry files (the start-up scan,
// listings): enough operations in flight to keep the runtime's I/O threads
// busy, never one per file, so 100,000 entries cost neither 100,000 open
// files nor 100,000 round trips one after another.

/**
 * Runs `task` for every item, at most `limit` at a time, and resolves once
 * all have settled. A task's failure is its own: the others run on.
 */
export async function forEachInParallel<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      try {
        await task(next.value);
      } catch {
        // The task's own concern; the pass goes on.
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/**
 * Maps `items` through `task`, at most `limit` at a time, and yields the
 * results in the items' order, leaving out `undefined`. A consumer that stops
 * early waits for the tasks in flight, so none outlives the loop.
 */
export async function* mapInParallel<T, R>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<R | undefined>,
): AsyncGenerator<R> {
  const iterator = items[Symbol.iterator]();
  const window: Promise<R | undefined>[] = [];
  const fill = () => {
    while (window.length < limit) {
      const next = iterator.next();
      if (next.done) return;
      const running = task(next.value);
      running.catch(() => {}); // awaited in turn below
      window.push(running);
    }
  };
  try {
    fill();
    while (window.length > 0) {
      const result = await window.shift()!;
      fill();
      if (result !== undefined) yield result;
    }
  } finally {
    await Promise.allSettled(window);
  }
}
