// IndexedDbStore through the conformance suite, on fake-indexeddb (Deno, Node
// and Bun have no IndexedDB; tests/browser/ runs it in Chromium): each store a
// database of its own.

import "fake-indexeddb/auto";
import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { EntryNotFoundError, StreamCache, StreamCacheError } from "../mod.ts";
import { IndexedDbStore } from "../src/idb/mod.ts";
import type { IndexedDbStoreOptions } from "../src/idb/mod.ts";
import {
  concat,
  decode,
  encode,
  pattern,
  readAll,
  readError,
} from "./_helpers.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import { chunksOf, deleteDatabase, rawRecords } from "./_idb_raw.ts";

// fake-indexeddb's globals, untyped: Deno and tsc check the tests without
// the DOM library, so the IndexedDB types are not there to use.
// deno-lint-ignore no-explicit-any
type Any = any;
const { indexedDB, IDBDatabase, IDBKeyRange, IDBObjectStore } =
  globalThis as Any;

let count = 0;
const fresh = () => `streamcache-test-${++count}`;

/**
 * A store on a database of its own, deleted when the store closes: the
 * databases of fake-indexeddb live in this process's memory, and hundreds
 * of them would weigh on the memory-measuring tests of the files after.
 */
function throwaway(options: IndexedDbStoreOptions = {}): IndexedDbStore {
  const name = fresh();
  const store = new IndexedDbStore({ ...options, name });
  const close = store.close.bind(store);
  return Object.assign(store, {
    async close() {
      await close();
      await deleteDatabase(name);
    },
  });
}

describeStoreConformance("IndexedDbStore", () => throwaway());
// Tiny chunks put every chunk-boundary case in play (a read across chunks,
// a write that fills several); the volume tests run over the default ones.
describeStoreConformance(
  "IndexedDbStore (5-byte chunks)",
  () => throwaway({ chunkSize: 5 }),
  { bulk: false },
);

/** Replaces `owner[name]` until the returned function is called. */
function patch<T extends object, K extends keyof T>(
  owner: T,
  name: K,
  replace: (original: T[K]) => T[K],
): () => void {
  const original = owner[name];
  owner[name] = replace(original);
  return () => {
    owner[name] = original;
  };
}

describe("IndexedDbStore", () => {
  it("rejects bad options with a TypeError or RangeError (rule 18)", () => {
    assert.throws(() => new IndexedDbStore({ chunkSize: 0 }), {
      name: "RangeError",
      message:
        "Cannot create IndexedDbStore: chunkSize must be a positive integer: received 0",
    });
    assert.throws(() => new IndexedDbStore({ chunkSize: 1.5 }), RangeError);
    assert.throws(() => new IndexedDbStore({ name: "" }), {
      name: "TypeError",
      message:
        'Cannot create IndexedDbStore: name must be a non-empty string: received ""',
    });
    assert.throws(
      () => new IndexedDbStore({ accessResolution: -1 }),
      RangeError,
    );
  });

  it("stores bytes as Uint8Array chunks of chunkSize, small writes gathered into whole chunks", async () => {
    const name = fresh();
    const store = new IndexedDbStore({ name, chunkSize: 100 });
    try {
      const data = pattern(1_050, 3);
      const writer = await store.create("k", undefined);
      for (let at = 0; at < data.byteLength; at += 7) {
        await writer.write(data.subarray(at, at + 7));
      }
      const stored = await chunksOf(name, writer.id);
      assert.equal(stored.length, 10, "only whole chunks before commit");
      await writer.commit();
      const chunks = await chunksOf(name, writer.id);
      assert.deepEqual(
        chunks.map((c) => [c instanceof Uint8Array, (c as Uint8Array).length]),
        [...Array(10).fill([true, 100]), [true, 50]],
      );
      assert.deepEqual(concat(chunks as Uint8Array[]), data);
    } finally {
      await store.close();
    }
  });

  it("reads a byte range from the chunks it covers only", async () => {
    const name = fresh();
    const store = new IndexedDbStore({ name, chunkSize: 100 });
    const ranges: Any[] = [];
    const unpatch = patch(
      IDBObjectStore.prototype,
      "getAll",
      (getAll) =>
        function (
          this: Any,
          query?: Any,
        ) {
          if (query instanceof IDBKeyRange) ranges.push(query);
          return getAll.call(this, query);
        },
    );
    try {
      const data = pattern(10_000, 5);
      const writer = await store.create("k", undefined);
      await writer.write(data);
      const { id } = await writer.commit();
      const reader = await store.openReader(id);
      ranges.length = 0;
      const bytes = await reader.read(4_250, 120);
      assert.deepEqual(bytes, data.subarray(4_250, 4_370));
      assert.deepEqual(
        ranges.map((r) => [r.lower, r.upper]),
        [[["c", id, 42], ["c", id, 43]]],
      );
      await reader.close();
    } finally {
      unpatch();
      await store.close();
    }
  });

  it("rule 14: another store on the database sees an entry only once it is committed", async () => {
    const name = fresh();
    const writerStore = new IndexedDbStore({ name, chunkSize: 4 });
    const otherStore = new IndexedDbStore({ name, chunkSize: 4 });
    try {
      const writer = await writerStore.create("k", { v: 1 });
      await writer.write(encode("hello world"));
      assert.equal(await otherStore.lookup("k"), undefined);
      const record = await writer.commit();
      assert.deepEqual(await otherStore.lookup("k"), record);
      const reader = await otherStore.openReader(record.id);
      assert.equal(decode(await reader.read(0, 100)), "hello world");
      await reader.close();
    } finally {
      await writerStore.close();
      await otherStore.close();
    }
  });

  it("rule 13: a store closed mid-write leaves an entry that is never served; the next sweep reclaims its chunks and spares live writers", async () => {
    const name = fresh();
    const dying = new IndexedDbStore({ name, chunkSize: 4 });
    const living = new IndexedDbStore({ name, chunkSize: 4 });
    try {
      const partial = await dying.create("partial", undefined);
      await partial.write(encode("half of it"));
      const live = await living.create("live", undefined);
      await live.write(encode("still going"));
      assert.equal(await living.sweep(), 0, "both writers are alive");
      assert.equal(await dying.sweep(), 0);
      await dying.close();
      assert.equal((await chunksOf(name, partial.id)).length, 2);
      const next = new IndexedDbStore({ name, chunkSize: 4 });
      try {
        assert.equal(await next.sweep(), 0, "its start-up sweep reclaimed it");
        assert.equal(await next.lookup("partial"), undefined);
        assert.deepEqual(await chunksOf(name, partial.id), []);
        await assert.rejects(next.openReader(partial.id), EntryNotFoundError);
        // The live writer was spared, and commits.
        const record = await live.commit();
        assert.equal((await next.lookup("live"))?.id, record.id);
        const reader = await next.openReader(record.id);
        assert.equal(decode(await reader.read(0, 100)), "still going");
        await reader.close();
      } finally {
        await next.close();
      }
    } finally {
      await living.close();
    }
  });

  it("rule 13: an entry a previous run left unfinished is reclaimed at start-up", async () => {
    const name = fresh();
    const first = new IndexedDbStore({ name, chunkSize: 4 });
    await (await first.create("done", undefined)).commit();
    await first.close();
    // What a writer that died with its process (or tab) leaves behind.
    const id = "left-by-a-dead-writer";
    const db = await new Promise<Any>((resolve) => {
      const open = indexedDB.open(name);
      open.onsuccess = () => resolve(open.result);
    });
    const tx = db.transaction("streamcache", "readwrite");
    const raw = tx.objectStore("streamcache");
    raw.put({ key: "k", state: "writing", chunkSize: 4, size: 0 }, ["e", id]);
    raw.put("k", ["w", id]);
    raw.put(encode("abcd"), ["c", id, 0]);
    await new Promise((resolve) => tx.oncomplete = resolve);
    db.close();
    const store = new IndexedDbStore({ name });
    try {
      assert.equal(await store.lookup("k"), undefined);
      await store.sweep();
      assert.deepEqual(
        (await rawRecords(name)).map(([key]) => key[0]).sort(),
        ["e", "k"],
        "only the committed entry is left",
      );
    } finally {
      await store.close();
    }
  });

  it("rule 18: a quota error fails only the entry written; others are served, its chunks released, and the key produces afresh", async () => {
    const name = fresh();
    const store = new IndexedDbStore({ name, chunkSize: 8 });
    const cache = new StreamCache({ store });
    let full = true;
    const unpatch = patch(
      IDBObjectStore.prototype,
      "put",
      (put) =>
        function (this: Any, value: unknown, key?: Any) {
          // What a browser does when the origin is out of space.
          if (full && value instanceof Uint8Array && value.byteLength === 8) {
            throw new DOMException("out of space", "QuotaExceededError");
          }
          return put.call(this, value, key);
        },
    );
    try {
      await (await cache.getOrCreate("small", () => encode("tiny"))).done;
      const failed = await cache.getOrCreate("big", () => pattern(100, 1));
      const error = await readError(failed.readable());
      assert.ok(error instanceof StreamCacheError, `received ${error}`);
      assert.equal((error.cause as DOMException).name, "QuotaExceededError");
      assert.match(error.message, /Cannot write entry "big" in IndexedDB/);
      assert.equal(
        decode(await readAll((await cache.get("small"))!.readable())),
        "tiny",
      );
      assert.equal(await cache.get("big"), undefined);
      full = false;
      const again = await cache.getOrCreate("big", () => pattern(100, 1));
      assert.deepEqual(await readAll(again.readable()), pattern(100, 1));
      await again.done;
      const ids = new Set(
        (await rawRecords(name)).filter(([k]) => k[0] === "c").map(([k]) =>
          k[1]
        ),
      );
      assert.equal(ids.size, 2, "the failed entry's chunks are gone");
    } finally {
      unpatch();
      await cache.close();
    }
  });

  it("reopens a connection closed under it and retries the operation once", async () => {
    const name = fresh();
    const store = new IndexedDbStore({ name });
    let connection: Any | undefined;
    const unspy = patch(
      IDBDatabase.prototype,
      "transaction",
      (transaction) =>
        function (
          this: Any,
          ...args: Any[]
        ) {
          connection = this;
          return transaction.apply(this, args);
        },
    );
    try {
      const writer = await store.create("k", undefined);
      await writer.write(encode("abc"));
      await writer.commit();
      connection!.close(); // as Safari does to an idle connection
      assert.equal((await store.lookup("k"))?.size, 3);
      assert.notEqual(connection, undefined);
      // A database that refuses every transaction fails the call, once retried.
      let attempts = 0;
      const refuse = patch(
        IDBDatabase.prototype,
        "transaction",
        () =>
          function (): Any {
            attempts++;
            throw new DOMException("closing", "InvalidStateError");
          },
      );
      try {
        await assert.rejects(store.lookup("k"), { name: "InvalidStateError" });
        assert.equal(attempts, 2);
      } finally {
        refuse();
      }
    } finally {
      unspy();
      await store.close();
    }
  });

  it("rule 16: touches within the resolution are kept in memory and written on close", async () => {
    const name = fresh();
    const T = Date.UTC(2020, 0, 1);
    const store = new IndexedDbStore({ name });
    const writer = await store.create("k", undefined, { created: T });
    const { id } = await writer.commit();
    await store.touch(id, T + 1_000); // within the minute: kept in memory
    assert.equal((await store.lookup("k"))?.accessed, T + 1_000);
    const [, stored] = (await rawRecords(name)).find(([key]) =>
      key[0] === "k"
    )!;
    assert.equal((stored as { accessed: number }).accessed, T);
    await store.close();
    const reopened = new IndexedDbStore({ name });
    try {
      assert.equal((await reopened.lookup("k"))?.accessed, T + 1_000);
    } finally {
      await reopened.close();
    }
  });

  it("fails operations after close with a clear error", async () => {
    const store = new IndexedDbStore({ name: fresh() });
    await store.close();
    await store.close(); // idempotent
    await assert.rejects(store.lookup("k"), {
      name: "StreamCacheError",
      message:
        /Cannot look up entry: IndexedDbStore "streamcache-test-\d+" is closed/,
    });
  });
});
