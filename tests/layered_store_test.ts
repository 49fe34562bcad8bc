// LayeredStore: the conformance suite over memory layers and a disk over
// memory, and what layering adds: a hit below served at once and copied up
// once, a copy that fails or is overtaken harming nobody, delete in every
// layer. tests/layered_redis_test.ts runs layers over a shared RedisStore.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LayeredStore, MemoryStore, StreamCache } from "../mod.ts";
import type { CacheOutcome, Store, StoreWriter } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import { decode, encode, pattern, readAll } from "./_helpers.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-layered-"));
let count = 0;

/** Commits `body` under `key` in `store`. */
async function put(store: Store, key: string, body: Uint8Array | string) {
  const writer = await store.create(key, { v: 1 }, {
    lifetime: { ttl: 3_600_000 },
  });
  const bytes = typeof body === "string" ? encode(body) : body;
  if (bytes.byteLength) await writer.write(bytes);
  return await writer.commit();
}

/**
 * A MemoryStore that counts creates and can hold or fail its writes: the
 * top layer of these tests.
 */
class TopStore extends MemoryStore {
  creates = 0;
  failWrites: Error | undefined;
  /** While set, writes wait for it. */
  gate: Promise<void> | undefined;

  override async create(
    ...args: Parameters<MemoryStore["create"]>
  ): Promise<StoreWriter> {
    this.creates++;
    const writer = await super.create(...args);
    return {
      id: writer.id,
      write: async (chunk) => {
        await this.gate;
        if (this.failWrites) throw this.failWrites;
        await writer.write(chunk);
      },
      commit: () => writer.commit(),
    };
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("LayeredStore", () => {
  after(() => rm(root, { recursive: true, force: true }));

  describeStoreConformance(
    "LayeredStore (MemoryStore over MemoryStore)",
    () => new LayeredStore({ layers: [new MemoryStore(), new MemoryStore()] }),
  );
  describeStoreConformance(
    "LayeredStore (FsStore over MemoryStore)",
    () =>
      new LayeredStore({
        layers: [
          new FsStore({ dir: join(root, String(++count)) }),
          new MemoryStore(),
        ],
      }),
    { bulk: false },
  );
  describeStoreConformance(
    "LayeredStore (one layer)",
    () => new LayeredStore({ layers: [new MemoryStore({ blockSize: 7 })] }),
    { bulk: false },
  );

  it("serves a hit in a lower layer at once, from that layer, and copies it up once for 50 concurrent lookups", async () => {
    const top = new TopStore();
    const bottom = new MemoryStore();
    const body = pattern(600_000, 3); // more than one copy chunk
    const below = await put(bottom, "k", body);
    const store = new LayeredStore({ layers: [top, bottom] });
    const { promise: held, open } = gate(); // the copy cannot progress: the hit must not wait for it
    top.gate = held;
    const records = await Promise.all(
      Array.from({ length: 50 }, () => store.lookup("k")),
    );
    for (const record of records) {
      assert.equal(record?.id, `1/${below.id}`);
      assert.equal(record?.size, body.byteLength);
      assert.deepEqual(record?.meta, { v: 1 });
    }
    const reader = await store.openReader(records[0]!.id);
    assert.deepEqual(await reader.read(0, 10), body.subarray(0, 10));
    await reader.close();
    assert.ok(top.creates <= 1, `${top.creates} copies started`);
    open();
    await store.whenCopied();
    const copied = await top.lookup("k");
    assert.equal(copied?.size, body.byteLength);
    assert.equal(copied?.created, below.created);
    assert.deepEqual(copied?.lifetime, { ttl: 3_600_000 });
    const again = await store.lookup("k");
    assert.equal(again?.id, `0/${copied!.id}`);
    const topReader = await store.openReader(again!.id);
    assert.deepEqual(await topReader.read(0, body.byteLength), body);
    await topReader.close();
    assert.equal(top.creates, 1); // one copy for the 50 lookups and the one after
    // Readers of the lower entry opened from now on read the copy: with the
    // lower entry's storage gone, they still get every byte.
    await bottom.release(below.id);
    const copyReader = await store.openReader(records[0]!.id);
    assert.deepEqual(await copyReader.read(0, body.byteLength), body);
    await copyReader.close();
    await store.close();
  });

  it("a copy up that fails harms neither the cache's readers nor the lower entry (rule 18)", async () => {
    const top = new TopStore();
    top.failWrites = new Error("disk full");
    const bottom = new MemoryStore();
    await put(bottom, "k", "the lower entry");
    const layered = new LayeredStore({ layers: [top, bottom] });
    // Not `await using`: Node 22 cannot parse it.
    const cache = new StreamCache({ store: layered });
    try {
      const status: { outcome?: CacheOutcome } = {};
      const entry = await cache.getOrCreate("k", () => {
        throw new Error("not to be produced");
      }, { status });
      assert.equal(status.outcome, "hit");
      assert.equal(decode(await readAll(entry.readable())), "the lower entry");
      await layered.whenCopied();
      assert.equal(await top.lookup("k"), undefined);
      assert.equal(decode(await readAll(entry.readable())), "the lower entry");
      const lower = await bottom.lookup("k");
      const reader = await bottom.openReader(lower!.id);
      assert.equal(decode(await reader.read(0, 100)), "the lower entry");
      await reader.close();
    } finally {
      await cache.close();
    }
  });

  it("rule 10: a copy up overtaken by a delete is not kept, and a delete takes the key out of every layer", async () => {
    const top = new TopStore();
    const bottom = new MemoryStore();
    await put(bottom, "k", "old");
    const store = new LayeredStore({ layers: [top, bottom] });
    const { promise, open } = gate();
    top.gate = promise;
    const found = await store.lookup("k"); // starts the copy, held
    await store.remove("k", found!.id);
    open();
    await store.whenCopied();
    assert.equal(await store.lookup("k"), undefined);
    assert.equal(await top.lookup("k"), undefined);
    assert.equal(await bottom.lookup("k"), undefined);

    // Committed in both layers, then deleted through the top layer's id.
    const record = await put(store, "j", "new");
    assert.match(record.id, /^0\//);
    assert.ok(await bottom.lookup("j"));
    await store.remove("j", record.id);
    assert.equal(await top.lookup("j"), undefined);
    assert.equal(await bottom.lookup("j"), undefined);
    await store.close();
  });

  it("a copy up of an entry another process replaced in the lower layer meanwhile is not kept", async () => {
    const top = new TopStore();
    const bottom = new MemoryStore();
    await put(bottom, "k", "old");
    const store = new LayeredStore({ layers: [top, bottom] });
    const { promise, open } = gate();
    top.gate = promise;
    await store.lookup("k"); // starts the copy of "old", held
    const newer = await put(bottom, "k", "newer"); // straight into the shared layer
    open();
    await store.whenCopied();
    assert.equal(await top.lookup("k"), undefined);
    assert.equal((await store.lookup("k"))?.id, `1/${newer.id}`);
    await store.close();
  });

  it("a copy up overtaken by a create keeps the new entry in every layer", async () => {
    const top = new TopStore();
    const bottom = new MemoryStore();
    await put(bottom, "k", "old");
    const store = new LayeredStore({ layers: [top, bottom] });
    const { promise, open } = gate();
    top.gate = promise;
    await store.lookup("k"); // starts the copy, held
    const writer = await store.create("k", undefined);
    top.gate = undefined;
    await writer.write(encode("new"));
    const committed = await writer.commit();
    open();
    await store.whenCopied();
    assert.deepEqual(await store.lookup("k"), committed);
    const reader = await store.openReader(committed.id);
    assert.equal(decode(await reader.read(0, 10)), "new");
    await reader.close();
    const below = await bottom.lookup("k");
    const lower = await bottom.openReader(below!.id);
    assert.equal(decode(await lower.read(0, 10)), "new");
    await lower.close();
    await store.close();
  });

  it("releases the entries of every layer once the cache lets an entry go (rule 10)", async () => {
    const top = new MemoryStore();
    const bottom = new MemoryStore();
    const store = new LayeredStore({ layers: [top, bottom] });
    const first = await put(store, "k", "one");
    const lowerId = (await bottom.lookup("k"))!.id;
    await put(store, "k", "two"); // replaces it in both layers
    await store.release(first.id);
    await assert.rejects(bottom.openReader(lowerId), {
      name: "EntryNotFoundError",
    });
    // A copy's top entry and its source go together too.
    await put(bottom, "c", "copied");
    const source = (await bottom.lookup("c"))!.id;
    await store.lookup("c");
    await store.whenCopied();
    const copy = await store.lookup("c");
    await store.remove("c", copy!.id);
    await store.release(copy!.id);
    await assert.rejects(bottom.openReader(source), {
      name: "EntryNotFoundError",
    });
    await store.close();
  });

  it("lists every layer's keys once, with the topmost record, and copies a listed lower entry up when it is first read", async () => {
    const top = new MemoryStore();
    const bottom = new MemoryStore();
    const store = new LayeredStore({ layers: [top, bottom] });
    await put(store, "both", "b");
    await put(bottom, "below", "l");
    await put(top, "above", "a");
    const keys: string[] = [];
    for await (const key of store.keys()) keys.push(key);
    assert.deepEqual(keys.sort(), ["above", "below", "both"]);
    const records = new Map<string, string>();
    for await (const record of store.records()) {
      records.set(record.key, record.id);
    }
    assert.equal(records.size, 3);
    assert.match(records.get("both")!, /^0\//);
    assert.match(records.get("below")!, /^1\//);
    // A cache learns of "below" from records() alone: its first read copies it up.
    assert.equal(await top.lookup("below"), undefined);
    const reader = await store.openReader(records.get("below")!);
    assert.equal(decode(await reader.read(0, 10)), "l");
    await reader.close();
    await store.whenCopied();
    assert.equal((await top.lookup("below"))?.size, 1);
    await store.close();
  });

  it("rejects layers that are missing or not stores (rule 18)", () => {
    assert.throws(() => new LayeredStore({ layers: [] }), {
      name: "RangeError",
      message: /at least one store/,
    });
    assert.throws(
      () => new LayeredStore({ layers: [new MemoryStore(), {} as Store] }),
      { name: "TypeError", message: /layer 1 is not a store/ },
    );
    assert.throws(() => new LayeredStore({} as never), TypeError);
  });

  it("has claim and follow only when its bottom layer has them", () => {
    const store = new LayeredStore({
      layers: [new MemoryStore(), new MemoryStore()],
    });
    assert.equal(store.claim, undefined);
    assert.ok(!("follow" in store));
  });
});
