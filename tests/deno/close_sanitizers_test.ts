// Rule 12 under Deno's test sanitizers (ops, resources, exit), which node:test
// files run under Deno do not get: after close() nothing may be left pending,
// no timer, no promise of an op, no open file. Over every store: MemoryStore,
// and FsStore with each of its file-system adapters (the files it holds open
// for readers and writers are resources the sanitizer counts). Deno 2.9 runs
// its sanitizers only when asked (--sanitize-ops, --sanitize-resources), so
// every test here asks for them itself.

import assert from "node:assert/strict";
import { CacheClosedError, MemoryStore, StreamCache } from "../../mod.ts";
import type { Store } from "../../mod.ts";
import { denoFileSystem, FsStore, nodeFileSystem } from "../../src/fs/mod.ts";
import type { FileSystem } from "../../src/fs/mod.ts";

/** A store for one test, and what removes its traces afterwards. */
interface StoreUnderTest {
  store: Store;
  remove(): Promise<void>;
}

const fsStore = (fs: FileSystem) => async (): Promise<StoreUnderTest> => {
  const dir = await Deno.makeTempDir({ prefix: "streamcache-sanitizers-" });
  return {
    store: new FsStore({ dir, fs }),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
};

const STORES: [string, () => Promise<StoreUnderTest>][] = [
  ["MemoryStore", () =>
    Promise.resolve({
      store: new MemoryStore(),
      remove: () => Promise.resolve(),
    })],
  ["FsStore, Deno adapter", fsStore(denoFileSystem)],
  ["FsStore, Node adapter", fsStore(nodeFileSystem)],
];

/** A producer stream that pushes a chunk on every timer tick until cancelled. */
function ticking(
  onCancel: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => controller.enqueue(new Uint8Array(16)), 1);
    },
    cancel(reason) {
      clearInterval(timer);
      onCancel(reason);
    },
  });
}

/** How many file descriptors this process has open (Linux and macOS). */
async function openFds(): Promise<number> {
  let count = 0;
  for await (const _ of Deno.readDir("/dev/fd")) count++;
  return count;
}

/**
 * Deno.test with every sanitizer on, whatever the command line says. The
 * resource sanitizer does not see the files of `node:fs` (the Node adapter),
 * so the test also counts the process's file descriptors before and after.
 */
function sanitized(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: true,
    sanitizeResources: true,
    sanitizeExit: true,
    async fn() {
      const before = await openFds();
      await fn();
      assert.equal(await openFds(), before, "file descriptors left open");
    },
  });
}

for (const [name, open] of STORES) {
  sanitized(
    `rule 12 (${name}): close() stops producers, writers and readers; no op or resource is left`,
    async () => {
      const { store, remove } = await open();
      const cache = new StreamCache({ store });
      let cancelReason: unknown;
      const producing = await cache.getOrCreate(
        "ticking",
        () => ticking((r) => cancelReason = r),
      );
      const reading = producing.readable().pipeTo(new WritableStream()).catch((
        e,
      ) => e);

      // A reader caught up with a writer that is in the middle of an entry.
      const { entry: manual, writable } = await cache.open("manual");
      const writer = writable!.getWriter();
      await writer.write(new Uint8Array(8));
      const waitingReader = manual.readable().getReader();
      await waitingReader.read();
      const waiting = waitingReader.read().catch((e) => e);

      // A reader half-way through a complete entry (an open file for FsStore).
      const complete = await cache.getOrCreate(
        "complete",
        () => new Uint8Array(4096),
      );
      await complete.done;
      const halfWay = complete.readable({ chunkSize: 1024 }).getReader();
      await halfWay.read();

      let signal: AbortSignal | undefined;
      let started!: () => void;
      const producerRuns = new Promise<void>((resolve) => started = resolve);
      const neverStarts = cache.getOrCreate("never", ({ signal: s }) => {
        signal = s;
        started();
        return new Promise<Uint8Array>(() => {});
      }).catch((e) => e);
      await producerRuns; // a producer running when the cache closes

      await cache.close();

      assert.ok(cancelReason instanceof CacheClosedError);
      assert.ok((await reading) instanceof CacheClosedError);
      assert.ok((await waiting) instanceof CacheClosedError);
      await assert.rejects(halfWay.read(), CacheClosedError);
      assert.ok((await neverStarts) instanceof CacheClosedError);
      assert.equal(signal?.aborted, true);
      await assert.rejects(writer.write(new Uint8Array(1)), CacheClosedError);
      await remove();
    },
  );

  sanitized(
    `rule 12 (${name}): a cache used and closed through await using leaves nothing behind`,
    async () => {
      const { store, remove } = await open();
      {
        await using cache = new StreamCache({ store });
        const entry = await cache.getOrCreate("k", async function* () {
          for (let i = 0; i < 10; i++) {
            await new Promise((resolve) => setTimeout(resolve, 1));
            yield new Uint8Array([i]);
          }
        });
        assert.equal(await entry.done, 10);
        const half = entry.readable({ chunkSize: 5 }).getReader();
        await half.read(); // left open on purpose: close() must end it
      }
      await remove();
    },
  );
}
