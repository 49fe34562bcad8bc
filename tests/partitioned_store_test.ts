// PartitionedStore: the conformance suite over partitions of memory and disk,
// and the hashing itself: stable (pinned), spread evenly, and moving only
// about 1/(N+1) of the keys when a store is added.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore, PartitionedStore, StreamCache } from "../mod.ts";
import type { Store } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import { encode, readAll } from "./_helpers.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-partitioned-"));
let count = 0;

/** N memory stores named s0 … s(N-1). */
function memories(n: number): Record<string, Store> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`s${i}`, new MemoryStore()]),
  );
}

const KEYS = Array.from(
  { length: 10_000 },
  (_, i) => `/downloads/report-${i}.csv`,
);

describe("PartitionedStore", () => {
  after(() => rm(root, { recursive: true, force: true }));

  describeStoreConformance(
    "PartitionedStore (3 MemoryStores)",
    () => new PartitionedStore({ partitions: memories(3) }),
  );
  describeStoreConformance(
    "PartitionedStore (FsStore and MemoryStore)",
    () =>
      new PartitionedStore({
        partitions: {
          disk: new FsStore({ dir: join(root, String(++count)) }),
          memory: new MemoryStore(),
        },
      }),
    { bulk: false },
  );

  describe("rendezvous hashing", () => {
    it("is stable: the same keys go to the same stores, whatever the order the stores are named in (pinned)", () => {
      const forward = new PartitionedStore({ partitions: memories(4) });
      const names = Object.entries(memories(4)).reverse();
      const backward = new PartitionedStore({
        partitions: Object.fromEntries(names),
      });
      for (const key of KEYS.slice(0, 1000)) {
        assert.equal(backward.partitionOf(key), forward.partitionOf(key));
      }
      // Pinned: changing the hash would move every key of every user.
      assert.deepEqual(
        ["", "a", "report.csv", "🎉", KEYS[0]!, KEYS[9999]!].map((key) =>
          forward.partitionOf(key)
        ),
        ["s2", "s0", "s3", "s3", "s2", "s2"],
      );
    });

    it("spreads 10,000 keys evenly, and adding a 5th store to 4 moves about 1/5 of them, all to the new store", () => {
      const four = new PartitionedStore({ partitions: memories(4) });
      const five = new PartitionedStore({ partitions: memories(5) });
      const counts = new Map<string, number>();
      let moved = 0;
      for (const key of KEYS) {
        const before = four.partitionOf(key);
        const now = five.partitionOf(key);
        counts.set(now, (counts.get(now) ?? 0) + 1);
        if (now !== before) {
          moved++;
          assert.equal(now, "s4", `${key} moved between old stores`);
        }
      }
      // 2,000 expected; a binomial's standard deviation here is 40.
      assert.ok(moved > 1_750 && moved < 2_250, `moved ${moved} of 10,000`);
      for (const [name, n] of counts) {
        assert.ok(n > 1_750 && n < 2_250, `${name} has ${n} of 10,000`);
      }
      console.log(`# 4 → 5 stores: ${moved} of ${KEYS.length} keys moved`);
    });

    it("removing a store moves only its own keys", () => {
      const five = new PartitionedStore({ partitions: memories(5) });
      const partitions = memories(5);
      delete partitions.s2;
      const four = new PartitionedStore({ partitions });
      for (const key of KEYS.slice(0, 2000)) {
        const before = five.partitionOf(key);
        if (before !== "s2") assert.equal(four.partitionOf(key), before);
      }
    });
  });

  it("keeps each key in its own store, and lists only the keys each store keeps", async () => {
    const partitions = memories(3);
    const store = new PartitionedStore({ partitions });
    for (const key of ["a", "b", "c", "d", "e", "f"]) {
      await (await store.create(key, undefined)).commit();
    }
    for (const [name, inner] of Object.entries(partitions)) {
      for await (const key of inner.keys()) {
        assert.equal(store.partitionOf(key), name);
      }
    }
    // A key left in a store it no longer hashes to (the stores were
    // renamed) is neither found nor listed.
    const orphan = await partitions.s0!.create("orphan", undefined);
    await orphan.commit();
    if (store.partitionOf("orphan") !== "s0") {
      assert.equal(await store.lookup("orphan"), undefined);
      const keys: string[] = [];
      for await (const key of store.keys()) keys.push(key);
      assert.ok(!keys.includes("orphan"));
    }
    await store.close();
  });

  it("rejects options without stores, or with something that is not a store (rule 18)", () => {
    assert.throws(
      () => new PartitionedStore({ partitions: {} }),
      { name: "RangeError", message: /at least one store/ },
    );
    assert.throws(
      () =>
        new PartitionedStore({
          partitions: { a: {} as unknown as Store },
        }),
      { name: "TypeError", message: /partition "a" is not a store/ },
    );
    assert.throws(
      () => new PartitionedStore(undefined as never),
      TypeError,
    );
  });

  it("has claim and follow only when every store has them", () => {
    const plain = new PartitionedStore({ partitions: memories(2) });
    assert.equal(plain.claim, undefined);
    assert.equal(plain.follow, undefined);
    assert.ok(!("claim" in plain));
  });

  it("serves a cache: one producer per key, bytes from the key's store (rule 1)", async () => {
    const partitions = memories(3);
    // Not `await using`: Node 22 cannot parse it.
    const cache = new StreamCache({
      store: new PartitionedStore({ partitions }),
    });
    try {
      let runs = 0;
      const entries = await Promise.all(
        Array.from({ length: 20 }, () =>
          cache.getOrCreate("k", () => {
            runs++;
            return encode("partitioned");
          })),
      );
      assert.equal(runs, 1);
      for (const entry of entries) {
        assert.equal(
          new TextDecoder().decode(await readAll(entry.readable())),
          "partitioned",
        );
      }
    } finally {
      await cache.close();
    }
  });
});
