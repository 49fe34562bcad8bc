// IndexedDbStore leaves no chunk behind (SEMANTICS 10, 13): an entry that
// is deleted or replaced while it is read keeps its chunks for its readers,
// in this store or another on the same database, and they are reclaimed
// once its last reader closes; an entry unlinked by a context that ended
// before releasing it is reclaimed by the next start-up sweep. Counted in
// the database itself, on fake-indexeddb.

import "fake-indexeddb/auto";
import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { StreamCache } from "../mod.ts";
import { IndexedDbStore } from "../src/idb/mod.ts";
import { concat, pattern, readRest } from "./_helpers.ts";
import { chunksOf, countRecords, deleteDatabase } from "./_idb_raw.ts";

let count = 0;
const fresh = () => `streamcache-reclaim-${++count}`;

/** A store of 100-byte chunks, without sharing (every runtime the same). */
const store = (name: string) =>
  new IndexedDbStore({ name, chunkSize: 100, sharing: false });

/** Reads a stream's first chunk, then returns it and a promise of the rest. */
async function start(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const first = (await reader.read()).value!;
  const rest = readRest(reader);
  return { first, rest };
}

describe("IndexedDbStore reclaims unlinked entries", () => {
  it("rule 10: an entry deleted while it is read keeps its chunks for the reader; none are left once it closes", async () => {
    const name = fresh();
    const cache = new StreamCache({ store: store(name) });
    try {
      const body = pattern(1000, 1);
      const entry = await cache.getOrCreate("k", () => body);
      await entry.done;
      const reading = await start(entry.readable({ chunkSize: 100 }));
      assert.equal(await cache.delete("k"), true);
      assert.equal((await chunksOf(name, entry.id)).length, 10, "kept");
      assert.deepEqual(concat([reading.first, await reading.rest]), body);
      await cache.close(); // waits for the reader's close
      assert.deepEqual(await countRecords(name), {});
    } finally {
      await cache.close();
      await deleteDatabase(name);
    }
  });

  it("rule 10: an entry replaced while it is read (a stale one produced afresh) is reclaimed once its reader closes", async () => {
    const name = fresh();
    let now = 1_000_000;
    const cache = new StreamCache({
      store: store(name),
      maxAge: 10,
      clock: () => now,
    });
    try {
      const old = await cache.getOrCreate("k", () => pattern(1000, 2));
      await old.done;
      const reading = await start(old.readable({ chunkSize: 100 }));
      now += 11; // stale, with no stale window: produced afresh
      const replaced = await cache.getOrCreate("k", () => pattern(500, 3));
      assert.notEqual(replaced.id, old.id);
      assert.equal(await replaced.done, 500);
      assert.equal((await chunksOf(name, old.id)).length, 10, "kept");
      assert.deepEqual(
        concat([reading.first, await reading.rest]),
        pattern(1000, 2),
      );
      await cache.close();
      assert.deepEqual(await chunksOf(name, old.id), [], "reclaimed");
      assert.deepEqual(await countRecords(name), { c: 5, e: 1, k: 1 });
    } finally {
      await cache.close();
      await deleteDatabase(name);
    }
  });

  it("rule 10: an entry another store deletes while this one reads it is marked released, and its last reader reclaims it", async () => {
    const name = fresh();
    const reader = new StreamCache({ store: store(name) });
    const other = new StreamCache({ store: store(name) });
    try {
      const body = pattern(800, 4);
      const entry = await reader.getOrCreate("k", () => body);
      await entry.done;
      const reading = await start(entry.readable({ chunkSize: 100 }));
      assert.equal(await other.delete("k"), true); // another tab, say
      assert.deepEqual(await countRecords(name), { c: 8, e: 1 }, "kept");
      assert.deepEqual(concat([reading.first, await reading.rest]), body);
      await reader.close();
      assert.deepEqual(await countRecords(name), {}, "reclaimed");
    } finally {
      await reader.close();
      await other.close();
      await deleteDatabase(name);
    }
  });

  it("rule 13: an entry unlinked by a context that ended before releasing it is reclaimed at the next start-up", async () => {
    const name = fresh();
    const first = store(name);
    const writer = await first.create("k", undefined);
    await writer.write(pattern(450, 5));
    await writer.commit();
    await first.remove("k", writer.id); // and the context ends here
    await first.close();
    assert.deepEqual(await countRecords(name), { c: 5, e: 1 });
    const next = store(name);
    await next.close(); // after its start-up sweep
    assert.deepEqual(await countRecords(name), {});
    await deleteDatabase(name);
  });
});
