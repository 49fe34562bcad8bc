// Tools for tests/recipes_test.ts, which runs the server recipes of
// examples/servers/ in process: a producer the test feeds by hand (each
// generation waits for the test), and a cache that reports what reaches it
// (requests, readers, readers cancelled by a client's disconnect). These are
// the events the tests wait for; nothing waits on a timer.

import {
  type Entry,
  type GetOrCreateOptions,
  type Producer,
  type ReadableOptions,
  StreamCache,
} from "../mod.ts";

/** An event that does not come fails the test after this, instead of hanging it. */
const DEADLINE_MS = 10_000;

/** Events of one kind, in order; a test waits for the n-th. */
export class Events<T> {
  /** Every event so far. */
  readonly all: T[] = [];
  readonly #waiters = new Set<() => boolean>();

  /** Records an event, waking whoever waits for it. */
  push(event: T): void {
    this.all.push(event);
    for (const waiter of [...this.#waiters]) {
      if (waiter()) this.#waiters.delete(waiter);
    }
  }

  /** Resolves with the events once there are `count` that `match`. */
  until(
    count: number,
    what: string,
    match: (event: T) => boolean = () => true,
  ): Promise<T[]> {
    const found = () => {
      const events = this.all.filter(match);
      return events.length >= count ? events : undefined;
    };
    return new Promise((resolve, reject) => {
      const now = found();
      if (now) return resolve(now);
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        const seen = this.all.filter(match).length;
        reject(
          new Error(
            `waited ${DEADLINE_MS} ms for ${what}: ${seen} of ${count}`,
          ),
        );
      }, DEADLINE_MS);
      const check = () => {
        const events = found();
        if (!events) return false;
        clearTimeout(timer);
        resolve(events);
        return true;
      };
      this.#waiters.add(check);
    });
  }
}

/** One run of a {@linkcode HeldProducer}: its body, fed by the test. */
export interface Generation {
  /** The URL of the request that started it. */
  readonly url: string;
  /** Appends bytes to the body. */
  push(bytes: Uint8Array): void;
  /** Ends the body. */
  close(): void;
  /** Whether the body was cancelled (it should not be: no client stops it). */
  readonly cancelled: boolean;
}

/**
 * A handler whose every call is a generation that sends nothing until the
 * test pushes it. Its response declares `size` bytes, as a producer that
 * knows its length does.
 */
export class HeldProducer {
  /** Each generation, as it starts. */
  readonly generations: Events<Generation> = new Events<Generation>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  /** The fetch-style handler to wrap with `cached()`. */
  readonly handler = (request: Request): Response => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      cancel: () => void (cancelled = true),
    });
    this.generations.push({
      url: request.url,
      push: (bytes) => controller.enqueue(bytes.slice()),
      close: () => controller.close(),
      get cancelled() {
        return cancelled;
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/csv",
        "content-length": String(this.#size),
      },
    });
  };
}

/** A reader `cached()` opened over an entry, to answer one response. */
export interface ReaderEvent {
  readonly key: string;
  readonly start: number;
  readonly end: number | undefined;
}

/**
 * A `StreamCache` that reports what `cached()` does with it: each request
 * whose entry it found or made, each reader it opened for a response, and
 * each such reader cancelled, which is how a server tells that its client
 * disconnected.
 */
export class WatchedCache extends StreamCache {
  /** The key of each request that reached the cache, once its entry is known. */
  readonly served: Events<string> = new Events<string>();
  /** Each reader opened over an entry. */
  readonly readers: Events<ReaderEvent> = new Events<ReaderEvent>();
  /** The key of each reader cancelled before its end. */
  readonly cancelled: Events<string> = new Events<string>();
  /** One watcher per entry, so that `cached()` sees the same object each time. */
  readonly #watched = new WeakMap<Entry, Entry>();

  override async getOrCreate(
    key: string,
    producer: Producer,
    options?: GetOrCreateOptions,
  ): Promise<Entry> {
    const entry = await super.getOrCreate(key, producer, options);
    this.served.push(key);
    return this.#watch(entry);
  }

  #watch(entry: Entry): Entry {
    let watched = this.#watched.get(entry);
    if (watched) return watched;
    const readable = (options?: ReadableOptions) => {
      this.readers.push({
        key: entry.key,
        start: options?.start ?? 0,
        end: options?.end,
      });
      return this.#onCancel(
        entry.readable(options),
        () => this.cancelled.push(entry.key),
      );
    };
    watched = new Proxy(entry, {
      get(target, property) {
        if (property === "readable") return readable;
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    this.#watched.set(entry, watched);
    return watched;
  }

  /** `stream`, calling `cancelled` if it is cancelled. */
  #onCancel(
    stream: ReadableStream<Uint8Array>,
    cancelled: () => void,
  ): ReadableStream<Uint8Array> {
    const reader = stream.getReader();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        cancelled();
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }
}
