// Layers over a shared RedisStore, against a real redis-server this file
// starts (tests/_redis_server.ts): the conformance suite with a memory and
// a disk layer over Redis, and two caches in one process, each a local
// layer over one shared prefix, as two members of a fleet: one producer,
// and the other cache follows the entry in Redis while it is written and
// fills its own top layer. Also a PartitionedStore over two Redis prefixes.

import { after, before, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CacheOutcome,
  LayeredStore,
  MemoryStore,
  PartitionedStore,
  StreamCache,
} from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { RedisStore } from "../src/redis/mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import { concat, manualSource, pattern, readAll } from "./_helpers.ts";
import {
  type Client,
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";

let server: RedisServer;
const clients: Client[] = [];
let count = 0;
const root = await mkdtemp(join(tmpdir(), "streamcache-layered-redis-"));

async function client(): Promise<Client> {
  const made = await server.connect();
  clients.push(made);
  return made;
}

describe("Layers over a shared RedisStore", { skip: REDIS_MISSING }, () => {
  let shared: Client;
  before(async () => {
    server = await startRedis();
    shared = await client();
  });
  after(async () => {
    for (const made of clients) made.destroy();
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  describeStoreConformance(
    "LayeredStore (MemoryStore over RedisStore)",
    () =>
      new LayeredStore({
        layers: [
          new MemoryStore(),
          new RedisStore({ client: shared, prefix: `m${++count}:` }),
        ],
      }),
    { bulk: false },
  );
  describeStoreConformance(
    "LayeredStore (FsStore over RedisStore)",
    () =>
      new LayeredStore({
        layers: [
          new FsStore({ dir: join(root, String(++count)) }),
          new RedisStore({ client: shared, prefix: `f${++count}:` }),
        ],
      }),
    { bulk: false },
  );

  it("rule 19: two caches, each a memory layer over one Redis prefix: one producer, the other follows and fills its own top layer", async () => {
    const prefix = `fleet${++count}:`;
    const member = async () => {
      const top = new MemoryStore();
      const store = new LayeredStore({
        layers: [top, new RedisStore({ client: await client(), prefix })],
      });
      return { top, store, cache: new StreamCache({ store }) };
    };
    const a = await member();
    const b = await member();
    try {
      assert.equal(typeof a.store.claim, "function");
      const source = manualSource();
      let runs = 0;
      const producer = () => {
        runs++;
        return source.stream;
      };
      const statusA: { outcome?: CacheOutcome } = {};
      const entryA = await a.cache.getOrCreate("k", producer, {
        meta: { type: "text/csv" },
        status: statusA,
      });
      source.push(pattern(1000, 1));
      const statusB: { outcome?: CacheOutcome } = {};
      const entryB = await b.cache.getOrCreate("k", producer, {
        status: statusB,
      });
      assert.equal(runs, 1);
      assert.equal(statusA.outcome, "miss");
      assert.equal(statusB.outcome, "join");
      assert.deepEqual(entryB.meta, { type: "text/csv" });
      assert.match(entryB.id, /^1\//); // read from the shared layer
      const readingB = readAll(entryB.readable());
      source.push(pattern(200_000, 2));
      source.close();
      const expected = concat([pattern(1000, 1), pattern(200_000, 2)]);
      assert.deepEqual(await readingB, expected);
      assert.deepEqual(await readAll(entryA.readable()), expected);
      // B's top layer was filled as it followed; A's was written with Redis.
      await b.store.whenCopied();
      for (const { top } of [a, b]) {
        const record = await top.lookup("k");
        assert.equal(record?.size, expected.byteLength);
        assert.deepEqual(record?.meta, { type: "text/csv" });
        const reader = await top.openReader(record!.id);
        assert.deepEqual(await reader.read(0, expected.byteLength), expected);
        await reader.close();
      }
      // A third member, started later, gets a hit from Redis, copied up.
      const c = await member();
      try {
        const hit: { outcome?: CacheOutcome } = {};
        const entryC = await c.cache.getOrCreate("k", producer, {
          status: hit,
        });
        assert.equal(hit.outcome, "hit");
        assert.deepEqual(await readAll(entryC.readable()), expected);
        await c.store.whenCopied();
        assert.equal((await c.top.lookup("k"))?.size, expected.byteLength);
      } finally {
        await c.cache.close();
      }
      assert.equal(runs, 1);
    } finally {
      await a.cache.close();
      await b.cache.close();
    }
  });

  it("rule 5: a producer that fails errors the follower, and neither member keeps a copy", async () => {
    const prefix = `fail${++count}:`;
    const tops = [new MemoryStore(), new MemoryStore()];
    const stores = await Promise.all(tops.map(async (top) =>
      new LayeredStore({
        layers: [top, new RedisStore({ client: await client(), prefix })],
      })
    ));
    const [a, b] = stores.map((store) => new StreamCache({ store }));
    try {
      const source = manualSource();
      await a!.getOrCreate("k", () => source.stream);
      source.push(pattern(500, 1));
      const entryB = await b!.getOrCreate("k", () => {
        throw new Error("not the producer");
      });
      const reading = readAll(entryB.readable());
      source.error(new Error("generation broke"));
      await assert.rejects(reading);
      await stores[1]!.whenCopied();
      for (const top of tops) assert.equal(await top.lookup("k"), undefined);
    } finally {
      await a!.close();
      await b!.close();
    }
  });

  it("a PartitionedStore over two Redis prefixes claims each key in its own partition", async () => {
    const partitioned = async () =>
      new PartitionedStore({
        partitions: {
          east: new RedisStore({ client: await client(), prefix: "east:" }),
          west: new RedisStore({ client: await client(), prefix: "west:" }),
        },
      });
    const a = new StreamCache({ store: await partitioned() });
    const b = new StreamCache({ store: await partitioned() });
    try {
      let runs = 0;
      const body = pattern(50_000, 4);
      const producer = () => {
        runs++;
        return body;
      };
      const keys = ["one", "two", "three", "four"];
      const entries = await Promise.all(
        keys.flatMap((key) => [a, b].map((c) => c.getOrCreate(key, producer))),
      );
      for (const entry of entries) {
        assert.deepEqual(await readAll(entry.readable()), body);
      }
      assert.equal(runs, keys.length);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
