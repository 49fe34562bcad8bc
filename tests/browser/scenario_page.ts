// The page of the browser scenarios (scripts/_chromium_scenarios.mjs): what
// the scenarios do inside the browser, as functions on globalThis that
// playwright calls with page.evaluate().

import { type CacheStatus, StreamCache } from "../../mod.ts";
import { IndexedDbStore } from "../../src/idb/mod.ts";

interface Container {
  register(
    url: string,
    options: { type: "module"; scope: string },
  ): Promise<unknown>;
  readonly ready: Promise<unknown>;
  readonly controller: unknown;
  addEventListener(type: string, listener: () => void): void;
}

/** Length and a checksum of a byte sequence. */
function digest(bytes: Uint8Array): { length: number; sum: number } {
  let sum = 0;
  for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
  return { length: bytes.length, sum };
}

async function readAll(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** A body read in the background: when its first bytes came, and how it ended. */
interface Reading {
  /** Resolves with the bytes read once the first chunk has come. */
  readonly first: Promise<number>;
  /** Its digest, or the error it ended with. */
  readonly whole: Promise<
    { length: number; sum: number } | {
      error: { name: string; message: string };
    }
  >;
}

function startReading(stream: ReadableStream<Uint8Array>): Reading {
  let firstBytes!: (count: number) => void;
  const first = new Promise<number>((resolve) => firstBytes = resolve);
  const whole = (async () => {
    const chunks: Uint8Array[] = [];
    let read = 0;
    try {
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        read += value.length;
        firstBytes(read);
      }
      firstBytes(read);
      const bytes = new Uint8Array(read);
      let at = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
      return digest(bytes);
    } catch (e) {
      firstBytes(read);
      const error = e as Error;
      return { error: { name: error.name, message: error.message } };
    }
  })();
  return { first, whole };
}

/** This tab's caches, by database; the readings it started, by tag. */
const tabCaches = new Map<string, StreamCache>();
const readings = new Map<string, Reading>();

const scenarios = {
  /**
   * Asks this tab's own cache over database `name` for `key`, produced by
   * fetching `url`, and starts reading it under `key`: how it was served.
   */
  async generate(name: string, key: string, url: string) {
    let cache = tabCaches.get(name);
    if (!cache) {
      cache = new StreamCache({
        store: new IndexedDbStore({ name, chunkSize: 16 * 1024 }),
      });
      tabCaches.set(name, cache);
    }
    const status: CacheStatus = {};
    const entry = await cache.getOrCreate(
      key,
      async () => (await fetch(url)).body!,
      { status },
    );
    readings.set(key, startReading(entry.readable()));
    return { outcome: status.outcome, id: entry.id };
  },

  /** Fetches `url` and starts reading its body under `tag`: its status and x-outcome. */
  async fetchStart(tag: string, url: string) {
    const response = await fetch(url);
    readings.set(tag, startReading(response.body!));
    return {
      status: response.status,
      outcome: response.headers.get("x-outcome"),
    };
  },

  /** Resolves with the bytes read once a reading has its first bytes. */
  firstBytes(tag: string): Promise<number> {
    return readings.get(tag)!.first;
  },

  /** Resolves with a reading's digest, or the error it ended with. */
  finished(tag: string) {
    return readings.get(tag)!.whole;
  },

  /** Registers the service worker and waits until it controls this page. */
  async registerServiceWorker(): Promise<void> {
    const container = (globalThis as unknown as {
      navigator: { serviceWorker: Container };
    }).navigator.serviceWorker;
    if (container.controller) return;
    const controlled = new Promise<void>((resolve) =>
      container.addEventListener("controllerchange", () => resolve())
    );
    await container.register("/sw.js", { type: "module", scope: "/" });
    await container.ready;
    if (!container.controller) await controlled;
  },

  /** Fetches `url`: its status, a header or two and its body's digest. */
  async fetch(url: string, headers: Record<string, string> = {}) {
    const response = await fetch(url, { headers });
    const body = await readAll(response);
    return {
      status: response.status,
      contentRange: response.headers.get("content-range"),
      ...digest(body),
    };
  },

  /** Reads `bytes` of `url`'s body, then cancels it. */
  async fetchAndCancel(url: string, bytes: number) {
    const response = await fetch(url);
    const reader = response.body!.getReader();
    let read = 0;
    while (read < bytes) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.length;
    }
    await reader.cancel("the reader went away");
    return { status: response.status, read };
  },

  /** Starts writing an entry straight into a store, and never ends it. */
  async writeAndHang(name: string, key: string, bytes: number) {
    const store = new IndexedDbStore({ name, chunkSize: 1024 });
    const writer = await store.create(key, undefined);
    await writer.write(new Uint8Array(bytes).fill(7));
    // Keep the store (and its writer's lock) alive until the page dies.
    (globalThis as { hanging?: unknown }).hanging = { store, writer };
    return writer.id;
  },

  /**
   * Sweeps a database from this context: a new store's sweep, then the
   * records left, by kind.
   */
  async sweep(name: string): Promise<Record<string, number>> {
    const store = new IndexedDbStore({ name, chunkSize: 1024 });
    await store.sweep();
    await store.close();
    return await scenarios.rawCounts(name);
  },

  /**
   * Resolves once the lock a writer of entry `id` holds is free: the way
   * another context learns that the writer's context is gone, without polling.
   */
  async writerGone(name: string, id: string): Promise<void> {
    const { locks } = (globalThis as unknown as {
      navigator: {
        locks: { request(name: string, callback: () => void): Promise<void> };
      };
    }).navigator;
    await locks.request(`streamcache:idb:${name}:${id}`, () => {});
  },

  /** Counts the records of a store's database by kind, behind its back. */
  async rawCounts(name: string): Promise<Record<string, number>> {
    const idb = (globalThis as unknown as {
      indexedDB: {
        open(name: string): {
          result: IdbDatabase;
          onsuccess: () => void;
          onerror: () => void;
        };
      };
    }).indexedDB;
    interface IdbDatabase {
      objectStoreNames: { contains(name: string): boolean };
      transaction(name: string): {
        objectStore(name: string): {
          getAllKeys(): { result: unknown[][]; onsuccess: () => void };
        };
      };
      close(): void;
    }
    const db = await new Promise<IdbDatabase>((resolve, reject) => {
      const open = idb.open(name);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(new Error(`cannot open ${name}`));
    });
    try {
      if (!db.objectStoreNames.contains("streamcache")) return {};
      const request = db.transaction("streamcache").objectStore("streamcache")
        .getAllKeys();
      const keys = await new Promise<unknown[][]>((resolve) =>
        request.onsuccess = () => resolve(request.result)
      );
      const counts: Record<string, number> = {};
      for (const [kind] of keys) {
        counts[String(kind)] = (counts[String(kind)] ?? 0) + 1;
      }
      return counts;
    } finally {
      db.close();
    }
  },

  /**
   * Opens a cache over the store after a restart: what its lookup finds,
   * what a sweep then reclaims, and whether the next request produces.
   */
  async afterRestart(name: string, key: string) {
    const store = new IndexedDbStore({ name, chunkSize: 1024 });
    const found = (await store.lookup(key)) !== undefined;
    const reclaimed = await store.sweep(); // after (or with) the start-up sweep
    const cache = new StreamCache({ store });
    let produced = 0;
    const entry = await cache.getOrCreate(key, () => {
      produced++;
      return new TextEncoder().encode("afresh");
    });
    const text = await new Response(entry.readable()).text();
    await cache.close();
    return { found, reclaimed, produced, text };
  },

  /**
   * Writes a small entry, then one too big for the origin's quota: what
   * each gives, and whether the small one is still served.
   */
  async quota(name: string, small: number, big: number) {
    const cache = new StreamCache({
      store: new IndexedDbStore({ name, chunkSize: 64 * 1024 }),
    });
    try {
      const first = await cache.getOrCreate(
        "small",
        () => new Uint8Array(small).fill(1),
      );
      await first.done;
      const second = await cache.getOrCreate(
        "big",
        () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              // Random bytes: IndexedDB compresses what it stores.
              for (let at = 0; at < big; at += 64 * 1024) {
                const chunk = new Uint8Array(64 * 1024);
                controller.enqueue(crypto.getRandomValues(chunk));
              }
              controller.close();
            },
          }),
      );
      const { quota } = await (globalThis as unknown as {
        navigator: { storage: { estimate(): Promise<{ quota?: number }> } };
      }).navigator.storage.estimate();
      let error: { name: string; cause: string; message: string } | undefined;
      try {
        await second.done;
      } catch (e) {
        const failure = e as Error;
        error = {
          name: failure.name,
          message: failure.message,
          cause: String((failure.cause as Error | undefined)?.name),
        };
      }
      const again = await cache.get("small");
      const smallBytes = again
        ? (await readAll(new Response(again.readable()))).length
        : -1;
      const keys: string[] = [];
      for await (const key of cache.keys()) keys.push(key);
      return { error, smallBytes, keys, quota };
    } finally {
      await cache.close();
    }
  },
};

(globalThis as { scenarios?: typeof scenarios }).scenarios = scenarios;
