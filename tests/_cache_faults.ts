// The cache over a store that fails or races on purpose: one reader's failure
// stays that reader's (SEMANTICS 6), "not found" alone means an entry is gone,
// a lookup racing a delete is a miss or the whole old entry (10), and asking
// about a key never waits for its producer (2). Part of the conformance suite.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { EntryNotFoundError, StreamCache } from "../mod.ts";
import type { Store } from "../mod.ts";
import {
  concat,
  decode,
  encode,
  isSettled,
  pattern,
  readAll,
  readError,
} from "./_helpers.ts";
import type { StoreFactory } from "./_store_contract.ts";

/** A store whose next `openReader` calls fail with the errors queued, and whose lookups can be held. */
function faulty(store: Store) {
  const failures: unknown[] = [];
  let held: Promise<void> | undefined;
  const wrapped: Store = {
    create: (key, meta, options) => store.create(key, meta, options),
    async lookup(key) {
      const record = await store.lookup(key);
      await held; // the record was read; the caller sees it only now
      return record;
    },
    openReader(id) {
      const failure = failures.shift();
      return failure === undefined
        ? store.openReader(id)
        : Promise.reject(failure);
    },
    remove: (key, id) => store.remove(key, id),
    release: (id) => store.release(id),
    keys: () => store.keys(),
    close: () => store.close(),
  };
  return {
    store: wrapped,
    /** Makes the next `openReader` reject with `error`. */
    failNextOpen(error: unknown) {
      failures.push(error);
    },
    /** Holds every lookup's answer until the returned function is called. */
    holdLookups(): () => void {
      let release!: () => void;
      held = new Promise((resolve) => release = resolve);
      return () => {
        held = undefined;
        release();
      };
    },
  };
}

async function withFaultyCache(
  make: StoreFactory,
  test: (
    cache: StreamCache,
    faults: ReturnType<typeof faulty>,
  ) => Promise<void>,
): Promise<void> {
  const faults = faulty(await make());
  const cache = new StreamCache({ store: faults.store });
  try {
    await test(cache, faults);
  } finally {
    await cache.close();
  }
}

/** An error as the operating system gives it when a process has no file descriptor left. */
function emfile(): Error {
  return Object.assign(new Error("EMFILE: too many open files, open"), {
    code: "EMFILE",
  });
}

export function describeCacheFaults(name: string, make: StoreFactory): void {
  describe(`StreamCache over ${name}, with faults and races`, () => {
    it("rule 6: a reader whose store open fails with a passing error (EMFILE) fails alone; readers already streaming and later readers get every byte", () =>
      withFaultyCache(make, async (cache, faults) => {
        const data = pattern(30_000, 3);
        const entry = await cache.getOrCreate("k", () => data);
        await entry.done;
        const streaming = entry.readable({ chunkSize: 1000 }).getReader();
        const first = await streaming.read();
        assert.equal(first.value?.byteLength, 1000);

        faults.failNextOpen(emfile());
        const failed = await readError(entry.readable());
        assert.equal((failed as { code?: string }).code, "EMFILE");

        const rest = [first.value!];
        for (let step = await streaming.read(); !step.done;) {
          rest.push(step.value);
          step = await streaming.read();
        }
        assert.deepEqual(concat(rest), data);
        assert.deepEqual(await readAll(entry.readable()), data);
        assert.equal(await cache.get("k"), entry, "the entry is still cached");
      }));

    it("rule 6: when the store has lost an entry's storage (EntryNotFoundError), readers already streaming read to the end, new readers fail clearly, and the next request looks the key up afresh", () =>
      withFaultyCache(make, async (cache, faults) => {
        const data = pattern(20_000, 4);
        const entry = await cache.getOrCreate("k", () => data);
        await entry.done;
        const streaming = entry.readable({ chunkSize: 500 }).getReader();
        const first = await streaming.read();

        faults.failNextOpen(new EntryNotFoundError("replaced meanwhile"));
        const lost = await readError(entry.readable());
        assert.ok(lost instanceof EntryNotFoundError);
        // Once lost, a new reader of that Entry object fails at once too...
        assert.ok(
          await readError(entry.readable()) instanceof EntryNotFoundError,
        );

        // ...but the reader that had its storage open goes on to the end.
        const chunks = [first.value!];
        for (let step = await streaming.read(); !step.done;) {
          chunks.push(step.value);
          step = await streaming.read();
        }
        assert.deepEqual(concat(chunks), data);

        // The cache forgot the entry: the next request looks it up afresh.
        const again = await cache.get("k");
        assert.ok(again && again !== entry);
        assert.deepEqual(await readAll(again.readable()), data);
      }));

    it("rule 10: a lookup racing a delete gives a miss, never an entry whose body then breaks", () =>
      withFaultyCache(make, async (cache, faults) => {
        // Committed by an earlier cache: this one must look it up.
        const writer = await faults.store.create("k", undefined);
        await writer.write(encode("old"));
        await writer.commit();

        let release = faults.holdLookups();
        const getting = cache.get("k");
        const deleting = cache.delete("k");
        release();
        assert.equal(await getting, undefined);
        assert.equal(await deleting, true);

        // The same race with getOrCreate: a miss, so the producer runs.
        const again = await faults.store.create("k", undefined);
        await again.write(encode("old again"));
        await again.commit();
        release = faults.holdLookups();
        let runs = 0;
        const creating = cache.getOrCreate("k", () => (runs++, encode("new")));
        const deletingAgain = cache.delete("k");
        release();
        const entry = await creating;
        await deletingAgain;
        assert.equal(runs, 1);
        assert.equal(decode(await readAll(entry.readable())), "new");
        assert.equal(await cache.has("k"), true, "the new entry is kept");
      }));

    it("rule 2: has() and keys() answer at once for a key whose producer has not returned; get() waits for the producer, never for its body", () =>
      withFaultyCache(make, async (cache) => {
        let start!: () => void;
        const started = new Promise<void>((resolve) => start = resolve);
        let produce!: (body: ReadableStream<Uint8Array>) => void;
        const producing = cache.getOrCreate("k", () => {
          start();
          return new Promise((resolve) => produce = resolve);
        });
        await started;
        assert.equal(await cache.has("k"), true);
        const keys: string[] = [];
        for await (const key of cache.keys()) keys.push(key);
        assert.deepEqual(keys, ["k"]);

        const getting = cache.get("k");
        assert.equal(
          await isSettled(getting),
          false,
          "get() waits for the producer",
        );
        let push!: ReadableStreamDefaultController<Uint8Array>;
        produce(new ReadableStream({ start: (c) => void (push = c) }));
        const entry = await getting; // the body has not ended
        assert.equal(entry, await producing);
        assert.equal(entry?.complete, false);
        push.enqueue(encode("body"));
        push.close();
        assert.equal(decode(await readAll(entry!.readable())), "body");
      }));

    it("rule 2: has() is true while a producer runs and false once it has thrown", () =>
      withFaultyCache(make, async (cache) => {
        let fail!: (error: Error) => void;
        const producing = cache.getOrCreate(
          "k",
          () => new Promise<Uint8Array>((_, reject) => fail = reject),
        );
        assert.equal(await cache.has("k"), true);
        fail(new Error("no"));
        await assert.rejects(producing, /no/);
        assert.equal(await cache.has("k"), false);
        for await (const key of cache.keys()) assert.fail(`listed ${key}`);
      }));
  });
}
