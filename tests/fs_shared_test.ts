// Two caches over two FsStores in `shared` mode on one directory, as two
// processes on one volume would have them (tests/fleet_fs_test.ts runs real
// processes): one producer per key across them (SEMANTICS 1, 19), followers
// that stream the entry from its file while it is written, woken by the
// file system's notifications (rule 4), failures and lost producers that
// reach the followers as errors (rule 5), and a producer that lost its
// claim unable to commit.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CacheOutcome,
  ProducerLostError,
  StreamCache,
  StreamCacheError,
} from "../mod.ts";
import {
  denoFileSystem,
  type FileSystem,
  FsStore,
  nodeFileSystem,
} from "../src/fs/mod.ts";
import {
  concat,
  manualSource,
  pattern,
  readAll,
  readRest,
} from "./_helpers.ts";
import { describeStoreConformance } from "./_store_conformance.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-fs-shared-"));
let count = 0;
const native: FileSystem = "Deno" in globalThis
  ? denoFileSystem
  : nodeFileSystem;

/** The adapter of a producer frozen in time: its lease renewals never reach the disk. */
const frozen: FileSystem = {
  ...native,
  touch: (path, time) =>
    path.includes("/claims/") && time > 0
      ? Promise.resolve()
      : native.touch(path, time),
};

/** A fresh directory. */
const newDir = () => join(root, String(++count));

/** Two caches over two shared stores on one directory. */
function pair(leaseMs = 2_000, fs: FileSystem = native) {
  const dir = newDir();
  const make = (fsFor: FileSystem = fs) =>
    new StreamCache({
      store: new FsStore({ dir, fs: fsFor, shared: true, leaseMs }),
    });
  return { a: make(), b: make(), dir, make };
}

describe("FsStore shared by two caches on one directory", () => {
  it("rule 1 across stores: the producer runs once, the other cache follows the entry while it is written and gets the commit", async () => {
    const { a, b } = pair();
    try {
      const source = manualSource();
      let runs = 0;
      const producer = () => {
        runs++;
        return source.stream;
      };
      const statusA: { outcome?: CacheOutcome } = {};
      const entryA = await a.getOrCreate("k", producer, {
        meta: { type: "text/csv" },
        status: statusA,
      });
      source.push(pattern(1000, 1));
      const statusB: { outcome?: CacheOutcome } = {};
      const entryB = await b.getOrCreate("k", producer, { status: statusB });
      assert.equal(runs, 1);
      assert.equal(statusA.outcome, "miss");
      assert.equal(statusB.outcome, "join");
      assert.equal(entryB.id, entryA.id);
      assert.deepEqual(entryB.meta, { type: "text/csv" }); // before any byte
      const reader = entryB.readable().getReader();
      // The follower streams what is written before the producer ends.
      const first = await reader.read();
      assert.ok(first.value && first.value.byteLength > 0);
      source.push(pattern(200_000, 2));
      source.close();
      const rest = await readRest(reader);
      const expected = concat([pattern(1000, 1), pattern(200_000, 2)]);
      assert.deepEqual(concat([first.value!, rest]), expected);
      assert.equal(await entryB.done, expected.byteLength);
      // Complete now: the other cache's request is a hit, with no producer.
      const hit: { outcome?: CacheOutcome } = {};
      const again = await b.getOrCreate("k", producer, { status: hit });
      assert.equal(hit.outcome, "hit");
      assert.deepEqual(await readAll(again.readable()), expected);
      assert.equal(runs, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rule 4 across stores: a follower is woken by the file system for each append, not by a timer (a 60 s lease)", async () => {
    const { a, b } = pair(60_000);
    try {
      const source = manualSource();
      await a.getOrCreate("k", () => source.stream);
      source.push(pattern(10, 3));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const reader = entryB.readable().getReader();
      const started = Date.now();
      const got: Uint8Array[] = [];
      for (let i = 0; i < 5; i++) {
        let value: Uint8Array | undefined;
        let have = got.reduce((n, c) => n + c.byteLength, 0);
        // Each append arrives whole before the next is made.
        const want = 10 + i * 1000;
        while (have < want) {
          ({ value } = await reader.read());
          got.push(value!);
          have += value!.byteLength;
        }
        source.push(pattern(1000, 4 + i));
      }
      source.close();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got.push(value);
      }
      // A timer-driven follower would wait half the lease (30 s) per step.
      const took = Date.now() - started;
      assert.ok(took < 20_000, `took ${took} ms`);
      assert.deepEqual(
        concat(got),
        concat([
          pattern(10, 3),
          ...[0, 1, 2, 3, 4].map((i) => pattern(1000, 4 + i)),
        ]),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("100 concurrent requests over two caches run the producer once; every body is identical", async () => {
    const { a, b } = pair();
    try {
      let runs = 0;
      const body = pattern(300_000, 5);
      const producer = async function* () {
        runs++;
        for (let at = 0; at < body.byteLength; at += 10_000) {
          yield body.slice(at, at + 10_000);
        }
      };
      const entries = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => (i % 2 ? a : b).getOrCreate("k", producer),
        ),
      );
      const bodies = await Promise.all(
        entries.map((entry) => readAll(entry.readable())),
      );
      assert.equal(runs, 1);
      for (const got of bodies) assert.deepEqual(got, body);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rule 5 across stores: a producer that fails errors the other cache's readers with its reason, and the next request produces afresh", async () => {
    const { a, b } = pair();
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(100, 6));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      // The follower's reader has the file open (its first bytes read).
      const reader = entryB.readable().getReader();
      assert.deepEqual((await reader.read()).value, pattern(100, 6));
      const failed = reader.read().then(() => undefined, (error) => error);
      source.error(new Error("upstream broke"));
      await assert.rejects(entryA.done, /upstream broke/);
      const error = await failed as Error;
      assert.ok(error instanceof StreamCacheError);
      assert.match(error.message, /failed: Error: upstream broke/);
      await assert.rejects(entryB.done, /upstream broke/);
      let runs = 0;
      const fresh = await b.getOrCreate("k", () => {
        runs++;
        return pattern(10, 7);
      });
      assert.deepEqual(await readAll(fresh.readable()), pattern(10, 7));
      assert.equal(runs, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rules 5, 16: an entry its producer's cache does not keep (past maxEntryBytes) errors the followers with that reason once finished, and the next request produces afresh at once", async () => {
    const dir = newDir();
    const store = () => new FsStore({ dir, shared: true, leaseMs: 60_000 });
    const a = new StreamCache({ store: store(), maxEntryBytes: 100 });
    const b = new StreamCache({ store: store() });
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(100, 6));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const reader = entryB.readable().getReader();
      assert.deepEqual((await reader.read()).value, pattern(100, 6));
      // It may read the bytes that reach the file; never a clean end.
      const failed = (async () => {
        while (!(await reader.read()).done);
      })().then(() => undefined, (error) => error);
      source.push(pattern(100, 7));
      source.close();
      // The producer's own readers get every byte; the entry is not kept.
      assert.deepEqual(
        await readAll(entryA.readable()),
        concat([pattern(100, 6), pattern(100, 7)]),
      );
      assert.equal(await entryA.done, 200);
      // With a 60 s lease, only the claim given up with the entry can end
      // the follower's wait, and let the next request produce at once.
      const error = await failed as Error;
      assert.ok(error instanceof StreamCacheError);
      assert.match(error.message, /did not keep it/);
      for (const cache of [a, b]) {
        let runs = 0;
        const fresh = await cache.getOrCreate("k", () => {
          runs++;
          return pattern(10, 8);
        });
        assert.deepEqual(await readAll(fresh.readable()), pattern(10, 8));
        assert.equal(runs, cache === a ? 1 : 0, "one producer for both");
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rule 19: a producer whose store closes mid-write errors the followers with ProducerLostError; the next request produces afresh", async () => {
    const { a, b } = pair();
    try {
      const source = manualSource();
      await a.getOrCreate("k", () => source.stream);
      source.push(pattern(500, 8));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const reader = entryB.readable().getReader();
      assert.deepEqual((await reader.read()).value, pattern(500, 8));
      // Handled at once: it may fail before close() is done.
      const waiting = reader.read().then(() => undefined, (error) => error);
      await a.close();
      assert.ok(await waiting instanceof ProducerLostError);
      await assert.rejects(entryB.done, ProducerLostError);
      const fresh = await b.getOrCreate("k", () => pattern(20, 9));
      assert.deepEqual(await readAll(fresh.readable()), pattern(20, 9));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rule 19: a producer that stops renewing its lease (a frozen process) fails its followers with ProducerLostError within the lease; its commit is refused", async () => {
    const leaseMs = 400;
    const dir = newDir();
    const stuck = new FsStore({ dir, fs: frozen, shared: true, leaseMs });
    const b = new StreamCache({
      store: new FsStore({ dir, shared: true, leaseMs }),
    });
    try {
      const claim = await stuck.claim!("k");
      assert.equal(claim.kind, "produce");
      if (claim.kind !== "produce") return;
      const writer = await claim.create("k", { type: "x" });
      await writer.write(pattern(50, 10));
      const entry = await b.getOrCreate("k", () => {
        throw new Error("must not run while the lease holds");
      });
      assert.deepEqual(entry.meta, { type: "x" });
      const reader = entry.readable().getReader();
      assert.deepEqual((await reader.read()).value, pattern(50, 10));
      const started = Date.now();
      await assert.rejects(reader.read(), ProducerLostError);
      const took = Date.now() - started;
      assert.ok(took < leaseMs * 10, `learned after ${took} ms`);
      // The key is produced afresh, and the old producer can no longer commit.
      const fresh = await b.getOrCreate("k", () => pattern(30, 11));
      assert.deepEqual(await readAll(fresh.readable()), pattern(30, 11));
      await writer.write(pattern(5, 12)); // its own file: harms nobody
      await assert.rejects(writer.commit(), ProducerLostError);
      const again = await b.get("k");
      assert.deepEqual(await readAll(again!.readable()), pattern(30, 11));
    } finally {
      await b.close();
      await stuck.close();
    }
  });

  it("a producer lost between its claim and its entry: the caller waiting elsewhere claims the key after the lease and produces it", async () => {
    const leaseMs = 300;
    const dir = newDir();
    const early = new FsStore({ dir, fs: frozen, shared: true, leaseMs });
    const b = new StreamCache({
      store: new FsStore({ dir, shared: true, leaseMs }),
    });
    try {
      assert.equal((await early.claim!("k")).kind, "produce"); // then it freezes
      let runs = 0;
      const entry = await b.getOrCreate("k", () => {
        runs++;
        return pattern(40, 13);
      });
      assert.equal(runs, 1);
      assert.deepEqual(await readAll(entry.readable()), pattern(40, 13));
    } finally {
      await b.close();
      await early.close();
    }
  });

  it("rule 19: a claim whose lease ran out is taken over by exactly one of eight stores racing for it; the others follow its entry", async () => {
    const leaseMs = 300;
    const dir = newDir();
    const early = new FsStore({ dir, fs: frozen, shared: true, leaseMs });
    const stores = Array.from(
      { length: 8 },
      () => new FsStore({ dir, shared: true, leaseMs }),
    );
    try {
      assert.equal((await early.claim!("k")).kind, "produce"); // then it freezes
      const claims = stores.map((store) => store.claim!("k"));
      // The winner is answered first: the others wait for its entry's head.
      const first = await Promise.race(claims);
      assert.equal(first.kind, "produce");
      if (first.kind !== "produce") return;
      const writer = await first.create("k", { n: 1 });
      const all = await Promise.all(claims);
      assert.equal(all.filter((claim) => claim.kind === "produce").length, 1);
      for (const claim of all) {
        if (claim.kind === "follow") {
          assert.equal(claim.id, writer.id);
          assert.deepEqual(claim.meta, { n: 1 });
        }
      }
      await writer.write(pattern(10, 17));
      assert.equal((await writer.commit()).size, 10);
    } finally {
      await Promise.all([early, ...stores].map((store) => store.close()));
    }
  });

  it("a claim given up before its entry exists lets the waiting caller produce at once", async () => {
    const { a, b } = pair(60_000);
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => release = resolve);
      let started!: () => void;
      const running = new Promise<void>((resolve) => started = resolve);
      const failing = a.getOrCreate("k", async () => {
        started(); // a holds the claim: its producer runs under it
        await held;
        throw new Error("no source");
      });
      failing.catch(() => {});
      await running;
      let runs = 0;
      const waiting = b.getOrCreate("k", () => {
        runs++;
        return pattern(15, 14);
      });
      const startedAt = Date.now();
      release();
      await assert.rejects(failing, /no source/);
      const entry = await waiting;
      assert.deepEqual(await readAll(entry.readable()), pattern(15, 14));
      assert.equal(runs, 1);
      // Woken by the release, not by the 60 s lease running out.
      assert.ok(Date.now() - startedAt < 20_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("without shared, an FsStore has no claim or follow; shared needs an adapter with link and watch", async () => {
    const dir = newDir();
    const plain = new FsStore({ dir });
    assert.equal(plain.claim, undefined);
    assert.equal(plain.follow, undefined);
    await plain.close();
    const { watch: _watch, ...noWatch } = native;
    assert.throws(
      () => new FsStore({ dir, fs: noWatch, shared: true }),
      /shared needs a FileSystem with link and watch/,
    );
    assert.throws(
      () => new FsStore({ dir, shared: true, leaseMs: 0 }),
      RangeError,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new FsStore({ dir, shared: "yes" as any }),
      TypeError,
    );
  });

  it("claims leave one small file per key produced, and no scratch files", async () => {
    const { a, b, dir } = pair();
    try {
      for (const key of ["x", "y"]) {
        await (await a.getOrCreate(key, () => pattern(10, 15))).done;
        await (await b.getOrCreate(key, () => pattern(10, 16))).done;
      }
      const keys = await readdir(join(dir, "claims"));
      assert.equal(keys.length, 2);
      for (const key of keys) {
        assert.deepEqual(await readdir(join(dir, "claims", key)), ["0"]);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("FsStore shared, alone", () => {
  // Last in this file: both describes make their directories under root.
  after(() => rm(root, { recursive: true, force: true }));
  describeStoreConformance(
    "FsStore (shared)",
    () => new FsStore({ dir: newDir(), shared: true }),
  );
});
