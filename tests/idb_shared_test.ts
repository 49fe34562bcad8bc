// IndexedDbStores in several contexts of one origin, on fake-indexeddb: two
// contexts' caches over one database, each context with Web Locks and
// broadcast channels of its own that see the other's (tests/_fake_contexts.ts),
// so that a context can die as a tab is closed. One producer per key across
// them, followers that stream the entry while it is written, failures and a
// dead writer's context that reach the followers as errors, and storage
// that is kept while another context reads it, then reclaimed. The same in
// real Chromium, with tabs and a service worker: scripts/_chromium_scenarios.mjs.

import "fake-indexeddb/auto";
import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { type CacheOutcome, ProducerLostError, StreamCache } from "../mod.ts";
import { IndexedDbStore } from "../src/idb/mod.ts";
import {
  concat,
  isSettled,
  manualSource,
  pattern,
  readAll,
  readError,
  readRest,
  turn,
  watchScheduling,
} from "./_helpers.ts";
import { chunksOf, countRecords, deleteDatabase } from "./_idb_raw.ts";
import { type Context, FakeOrigin } from "./_fake_contexts.ts";

let count = 0;

/** Two contexts of one origin, each with a cache over one database. */
function twoTabs(chunkSize = 1000) {
  const name = `streamcache-shared-${++count}`;
  const origin = new FakeOrigin();
  const make = (context: Context) =>
    new StreamCache({
      store: new IndexedDbStore({ name, chunkSize, sharing: context.sharing }),
    });
  const contexts = { a: origin.context(), b: origin.context() };
  return {
    name,
    origin,
    contexts,
    a: make(contexts.a),
    b: make(contexts.b),
    make,
    async close(...caches: StreamCache[]) {
      for (const cache of caches) await cache.close().catch(() => {});
      await deleteDatabase(name);
    },
  };
}

const mustNotRun = () => {
  throw new Error("must not run");
};

describe("IndexedDbStore shared by contexts of one origin", () => {
  it("rule 1 across contexts: the producer runs once, the other context follows the entry while it is written", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      const source = manualSource();
      let runs = 0;
      const producer = () => {
        runs++;
        return source.stream;
      };
      const statusA: { outcome?: CacheOutcome } = {};
      const entryA = await a.getOrCreate("k", producer, {
        meta: { type: "x" },
        status: statusA,
      });
      source.push(pattern(2500, 1));
      const statusB: { outcome?: CacheOutcome } = {};
      const entryB = await b.getOrCreate("k", producer, { status: statusB });
      assert.equal(runs, 1);
      assert.equal(statusA.outcome, "miss");
      assert.equal(statusB.outcome, "join");
      assert.equal(entryB.id, entryA.id);
      assert.deepEqual(entryB.meta, { type: "x" });
      const reader = entryB.readable().getReader();
      // The follower reads stored chunks before the producer ends.
      const first = await reader.read();
      assert.ok(first.value && first.value.byteLength > 0);
      assert.equal(entryA.state, "writing");
      source.push(pattern(20_000, 2));
      source.close();
      const expected = concat([pattern(2500, 1), pattern(20_000, 2)]);
      assert.deepEqual(
        concat([first.value!, await readRest(reader)]),
        expected,
      );
      assert.equal(await entryB.done, expected.byteLength);
      // Complete: the next request is a hit, with no producer.
      const hit: { outcome?: CacheOutcome } = {};
      const again = await b.getOrCreate("k", producer, { status: hit });
      assert.equal(hit.outcome, "hit");
      assert.deepEqual(await readAll(again.readable()), expected);
      assert.equal(runs, 1);
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 1: 20 concurrent requests over two contexts run the producer once; every body is identical", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      let runs = 0;
      const body = pattern(30_000, 3);
      const producer = async function* () {
        runs++;
        for (let at = 0; at < body.byteLength; at += 3_000) {
          yield body.slice(at, at + 3_000);
        }
      };
      const entries = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => (i % 2 ? a : b).getOrCreate("k", producer),
        ),
      );
      const bodies = await Promise.all(
        entries.map((entry) => readAll(entry.readable())),
      );
      assert.equal(runs, 1);
      for (const got of bodies) assert.deepEqual(got, body);
    } finally {
      await tabs.close(a, b);
    }
  });

  it("a claim made before its entry exists: the other context waits for it, without polling, then follows it", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      let start!: () => void;
      const started = new Promise<void>((resolve) => start = resolve);
      let running!: () => void;
      const claimed = new Promise<void>((resolve) => running = resolve);
      const entryA = a.getOrCreate("k", async () => {
        running(); // A holds the claim: its producer runs
        await started; // and its response has not come yet
        return pattern(5000, 4);
      });
      await claimed;
      let runsB = 0;
      const entryB = b.getOrCreate("k", () => {
        runsB++;
        return pattern(1, 0);
      });
      for (let i = 0; i < 20; i++) await turn();
      assert.equal(await isSettled(entryB), false, "B waits for A's entry");
      start();
      const [gotA, gotB] = await Promise.all([entryA, entryB]);
      assert.equal(gotB.id, gotA.id);
      assert.deepEqual(await readAll(gotB.readable()), pattern(5000, 4));
      assert.equal(runsB, 0);
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 4 across contexts: a follower that has caught up schedules nothing while it waits, and wakes on the writer's next chunk", async () => {
    const tabs = twoTabs(100);
    const { a, b } = tabs;
    try {
      const source = manualSource();
      await a.getOrCreate("k", () => source.stream);
      source.push(pattern(200, 20));
      const entryB = await b.getOrCreate("k", mustNotRun);
      const reader = entryB.readable().getReader();
      let read = 0;
      while (read < 200) read += (await reader.read()).value!.byteLength;
      // The last read's transaction commits after its result came (in
      // fake-indexeddb, by setImmediate): let it finish first.
      for (let i = 0; i < 5; i++) await turn();
      const watch = watchScheduling();
      let next: ReturnType<typeof reader.read>;
      try {
        next = reader.read();
        next.catch(() => {});
        for (let i = 0; i < 20; i++) await watch.turn();
      } finally {
        watch.stop();
      }
      assert.deepEqual(watch.calls, [], "nothing scheduled while it waits");
      assert.equal(await isSettled(next), false);
      source.push(pattern(100, 21));
      assert.deepEqual((await next).value, pattern(100, 21));
      source.close();
      await reader.cancel();
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 5: a follower that comes after the producer failed gets the failure's reason from the database", async () => {
    const tabs = twoTabs();
    const producer = new IndexedDbStore({
      name: tabs.name,
      sharing: tabs.contexts.a.sharing,
    });
    const follower = new IndexedDbStore({
      name: tabs.name,
      sharing: tabs.contexts.b.sharing,
    });
    try {
      const claim = await producer.claim!("k");
      if (claim.kind !== "produce") throw new Error("expected to produce");
      const writer = await claim.create("k", undefined);
      await writer.write(pattern(10, 22));
      const followed = await follower.claim!("k");
      assert.deepEqual(followed.kind, "follow");
      await claim.abandon(new Error("upstream broke"));
      await producer.release(writer.id);
      const progress = follower.follow!(
        writer.id,
        new AbortController().signal,
      );
      await assert.rejects(
        (async () => {
          for await (const _ of progress) { /* no progress: it failed */ }
        })(),
        /its producer \(in another context\) failed: Error: upstream broke/,
      );
    } finally {
      await producer.close();
      await follower.close();
      await tabs.close(tabs.a, tabs.b);
    }
  });

  it("rule 5 across contexts: a producer that fails errors the other context's readers with its reason, and the next request produces afresh", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(1500, 5));
      const entryB = await b.getOrCreate("k", mustNotRun);
      const failed = readError(entryB.readable());
      source.error(new Error("upstream broke"));
      await assert.rejects(entryA.done, /upstream broke/);
      const error = await failed as Error;
      assert.match(error.message, /failed: Error: upstream broke/);
      await assert.rejects(entryB.done, /upstream broke/);
      const fresh = await b.getOrCreate("k", () => pattern(10, 6));
      assert.deepEqual(await readAll(fresh.readable()), pattern(10, 6));
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 5, 19: the writing context dies mid-write: the follower errors with ProducerLostError, and the next request produces afresh", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      const source = manualSource();
      await a.getOrCreate("k", () => source.stream);
      source.push(pattern(2000, 7));
      const entryB = await b.getOrCreate("k", mustNotRun);
      const reader = entryB.readable().getReader();
      assert.ok((await reader.read()).value!.byteLength > 0);
      const waiting = readRest(reader);
      tabs.contexts.a.kill(); // the tab is closed: its locks go
      await assert.rejects(waiting, ProducerLostError);
      await assert.rejects(entryB.done, ProducerLostError);
      let runs = 0;
      const fresh = await b.getOrCreate("k", () => {
        runs++;
        return pattern(20, 8);
      });
      assert.deepEqual(await readAll(fresh.readable()), pattern(20, 8));
      assert.equal(runs, 1);
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 19: a claimer that dies before creating its entry: the caller waiting elsewhere claims the key and produces it", async () => {
    const tabs = twoTabs();
    const { b } = tabs;
    const early = new IndexedDbStore({
      name: tabs.name,
      sharing: tabs.contexts.a.sharing,
    });
    try {
      const claim = await early.claim!("k");
      assert.equal(claim.kind, "produce"); // and then its tab is closed
      let runs = 0;
      const entry = b.getOrCreate("k", () => {
        runs++;
        return pattern(40, 9);
      });
      for (let i = 0; i < 20; i++) await turn();
      assert.equal(await isSettled(entry), false, "it waits for the claim");
      tabs.contexts.a.kill();
      assert.deepEqual(await readAll((await entry).readable()), pattern(40, 9));
      assert.equal(runs, 1);
    } finally {
      await early.close();
      await tabs.close(tabs.a, b);
    }
  });

  it("rule 12: a store closed with a claim it has not used lets the key go: another context produces it", async () => {
    const tabs = twoTabs();
    const early = new IndexedDbStore({
      name: tabs.name,
      sharing: tabs.contexts.a.sharing,
    });
    try {
      assert.equal((await early.claim!("k")).kind, "produce");
      const entry = tabs.b.getOrCreate("k", () => pattern(30, 13));
      for (let i = 0; i < 20; i++) await turn();
      assert.equal(await isSettled(entry), false, "it waits for the claim");
      await early.close();
      assert.deepEqual(
        await readAll((await entry).readable()),
        pattern(30, 13),
      );
    } finally {
      await early.close();
      await tabs.close(tabs.a, tabs.b);
    }
  });

  it("a follower's cache closed mid-write leaves the entry to its producer, whose commit is served", async () => {
    const tabs = twoTabs();
    const { a, b } = tabs;
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(1500, 10));
      const entryB = await b.getOrCreate("k", mustNotRun);
      assert.equal(entryB.id, entryA.id);
      await b.close();
      source.push(pattern(1500, 11));
      source.close();
      assert.equal(await entryA.done, 3000);
      const c = tabs.make(tabs.origin.context());
      const again = await c.getOrCreate("k", mustNotRun);
      assert.deepEqual(
        await readAll(again.readable()),
        concat([pattern(1500, 10), pattern(1500, 11)]),
      );
      await c.close();
    } finally {
      await tabs.close(a, b);
    }
  });

  it("rule 10 across contexts: an entry deleted while another context reads it keeps its chunks until that reader closes, then they are reclaimed", async () => {
    const tabs = twoTabs(100);
    const { a, b } = tabs;
    try {
      const body = pattern(1000, 12);
      const entry = await a.getOrCreate("k", () => body);
      await entry.done;
      const reading = await b.get("k");
      const reader = reading!.readable({ chunkSize: 100 }).getReader();
      const first = await reader.read();
      assert.equal(await a.delete("k"), true);
      assert.equal((await chunksOf(tabs.name, entry.id)).length, 10, "kept");
      assert.deepEqual(concat([first.value!, await readRest(reader)]), body);
      await b.close(); // waits for its reader to close
      assert.deepEqual(await chunksOf(tabs.name, entry.id), [], "reclaimed");
      assert.deepEqual(await countRecords(tabs.name), {});
    } finally {
      await tabs.close(a, b);
    }
  });
});

describe("IndexedDbStore sharing options", () => {
  it("without sharing (false, or a realm without Web Locks) a store has no claim and follow", async () => {
    const store = new IndexedDbStore({ name: "no-sharing", sharing: false });
    assert.equal(store.claim, undefined);
    assert.equal(store.follow, undefined);
    await store.close();
    const shared = new IndexedDbStore({
      name: "sharing",
      sharing: new FakeOrigin().context().sharing,
    });
    assert.equal(typeof shared.claim, "function");
    assert.equal(typeof shared.follow, "function");
    await shared.close();
  });

  it("rule 18: rejects a sharing that is not { locks, channel } with a TypeError", () => {
    assert.throws(
      () => new IndexedDbStore({ sharing: {} as unknown as false }),
      {
        name: "TypeError",
        message:
          "Cannot create IndexedDbStore: sharing must be false or { locks, channel }: received Object",
      },
    );
  });
});
