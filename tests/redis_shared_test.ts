// Two caches over two RedisStores with one prefix and their own clients, as
// two processes of a fleet would have (tests/fleet_redis_test.ts runs real
// processes): one producer per key across them, followers that stream the
// entry while it is written, failures and lost producers that reach the
// followers as errors, fenced writes, and a follower whose blocking
// connection is killed resuming without losing or repeating a byte.

import { after, before, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { type CacheOutcome, ProducerLostError, StreamCache } from "../mod.ts";
import { RedisStore } from "../src/redis/mod.ts";
import {
  concat,
  manualSource,
  pattern,
  readAll,
  readError,
  readRest,
} from "./_helpers.ts";
import {
  type Client,
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";

let server: RedisServer;
const clients: Client[] = [];
let count = 0;

/** A new connected client, destroyed after the file. */
async function client(): Promise<Client> {
  const made = await server.connect();
  clients.push(made);
  return made;
}

/** Two caches sharing one prefix, each with a client of its own. */
async function fleet(leaseMs = 2_000) {
  const prefix = `f${++count}:`;
  const make = async () =>
    new StreamCache({
      store: new RedisStore({ client: await client(), prefix, leaseMs }),
    });
  return { a: await make(), b: await make(), prefix };
}

/** The ids of the server's clients blocked in XREAD. */
async function blockedClients(admin: Client): Promise<string[]> {
  const list = String(await admin.sendCommand(["CLIENT", "LIST"]));
  return list.split("\n").filter((line) => / cmd=xread\b/.test(line))
    .map((line) => /\bid=(\d+)/.exec(line)![1]!);
}

describe("RedisStore shared by two caches", { skip: REDIS_MISSING }, () => {
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const made of clients) made.destroy();
    await server?.stop();
  });

  it("rule 1 across caches: the producer runs once, the other cache follows the entry while it is written", async () => {
    const { a, b } = await fleet();
    try {
      const source = manualSource();
      let runs = 0;
      const producer = () => {
        runs++;
        return source.stream;
      };
      const statusA: { outcome?: CacheOutcome } = {};
      const entryA = await a.getOrCreate("k", producer, { status: statusA });
      source.push(pattern(1000, 1));
      const statusB: { outcome?: CacheOutcome } = {};
      const entryB = await b.getOrCreate("k", producer, {
        meta: { unused: true },
        status: statusB,
      });
      assert.equal(runs, 1);
      assert.equal(statusA.outcome, "miss");
      assert.equal(statusB.outcome, "join");
      assert.equal(entryB.id, entryA.id);
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
      // Complete now: a third cache's request is a hit, with no producer.
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

  it("100 concurrent requests over two caches run the producer once; every body is identical", async () => {
    const { a, b } = await fleet();
    try {
      let runs = 0;
      const body = pattern(300_000, 3);
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

  it("rule 5 across caches: a producer that fails errors the other cache's readers, and the next request produces afresh", async () => {
    const { a, b } = await fleet();
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(100, 4));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const failed = readError(entryB.readable());
      source.error(new Error("upstream broke"));
      await assert.rejects(entryA.done, /upstream broke/);
      const error = await failed as Error;
      assert.match(
        String(error?.stack ?? error),
        /failed: Error: upstream broke/,
      );
      const fresh = await b.getOrCreate("k", () => pattern(10, 5));
      assert.deepEqual(await readAll(fresh.readable()), pattern(10, 5));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a producer that is lost (its connection gone, its lease run out) errors followers with ProducerLostError within the lease", async () => {
    const prefix = `lost${++count}:`;
    const leaseMs = 500;
    const producerClient = await client();
    const lost = new RedisStore({ client: producerClient, prefix, leaseMs });
    const claim = await lost.claim("k");
    assert.equal(claim.kind, "produce");
    if (claim.kind !== "produce") return;
    const writer = await claim.create("k", { type: "x" });
    await writer.write(pattern(50, 6));
    const b = new StreamCache({
      store: new RedisStore({ client: await client(), prefix, leaseMs }),
    });
    try {
      const entry = await b.getOrCreate("k", () => {
        throw new Error("must not run while the lease holds");
      });
      assert.deepEqual(entry.meta, { type: "x" });
      const reader = entry.readable().getReader();
      assert.deepEqual((await reader.read()).value, pattern(50, 6));
      const waiting = reader.read();
      const started = Date.now();
      producerClient.destroy(); // the producing process is gone
      await assert.rejects(waiting, ProducerLostError);
      const took = Date.now() - started;
      // Within the lease and the follower's slack, on a loaded machine too.
      assert.ok(took < leaseMs * 6, `learned after ${took} ms`);
      await assert.rejects(entry.done, ProducerLostError);
      const fresh = await b.getOrCreate("k", () => pattern(20, 7));
      assert.deepEqual(await readAll(fresh.readable()), pattern(20, 7));
    } finally {
      await b.close();
      await lost.close();
    }
  });

  it("a producer lost between its claim and its entry: the waiting caller elsewhere claims the key after the lease and produces it", async () => {
    const prefix = `early${++count}:`;
    const leaseMs = 400;
    const producerClient = await client();
    const early = new RedisStore({ client: producerClient, prefix, leaseMs });
    const claim = await early.claim("k");
    assert.equal(claim.kind, "produce"); // and then its process dies
    producerClient.destroy();
    const b = new StreamCache({
      store: new RedisStore({ client: await client(), prefix, leaseMs }),
    });
    try {
      let runs = 0;
      const entry = await b.getOrCreate("k", () => {
        runs++;
        return pattern(40, 18);
      });
      assert.equal(runs, 1);
      assert.deepEqual(await readAll(entry.readable()), pattern(40, 18));
    } finally {
      await b.close();
      await early.close();
    }
  });

  it("fencing: once a producer's lease is gone its appends and commit are refused, and only its own writer fails", async () => {
    const prefix = `fence${++count}:`;
    const admin = await client();
    const store = new RedisStore({ client: await client(), prefix });
    try {
      const claim = await store.claim("k");
      if (claim.kind !== "produce") throw new Error("expected to produce");
      const writer = await claim.create("k", undefined);
      await writer.write(pattern(10, 8));
      // The lease runs out (as when the process was stopped past it), and
      // another process claims the key.
      const leases = await admin.keys(`${prefix}l:*`);
      assert.equal(leases.length, 1);
      await admin.del(leases[0]!);
      const other = new RedisStore({ client: await client(), prefix });
      const second = await other.claim("k");
      assert.equal(second.kind, "produce");
      await assert.rejects(writer.write(pattern(10, 9)), ProducerLostError);
      await assert.rejects(writer.commit(), ProducerLostError);
      if (second.kind !== "produce") return;
      const next = await second.create("k", undefined);
      await next.write(pattern(5, 10));
      const record = await next.commit();
      assert.equal(record.size, 5);
      assert.equal((await store.lookup("k"))?.id, next.id);
      await other.close();
    } finally {
      await store.close();
    }
  });

  it("a follower whose blocking connection is killed mid-read resumes from its last event, losing and repeating nothing", async () => {
    const { a, b } = await fleet();
    const admin = await client();
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      const parts = [pattern(3000, 11), pattern(5000, 12), pattern(7000, 13)];
      source.push(parts[0]!);
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const reading = readAll(entryB.readable());
      // Wait for the follower to block (the server's client list says so;
      // the test's deadline bounds the wait), then cut its connection.
      let blocked: string[] = [];
      while (!(blocked = await blockedClients(admin)).length) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const id of blocked) {
        await admin.sendCommand(["CLIENT", "KILL", "ID", id]);
      }
      source.push(parts[1]!);
      source.push(parts[2]!);
      source.close();
      assert.deepEqual(await reading, concat(parts));
      assert.equal(await entryB.done, await entryA.done);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("Redis restarted mid-write: the producer and the followers get clear errors, never wrong bytes; the next request produces afresh", async () => {
    const own = await startRedis();
    const made: Client[] = [];
    const connect = async () => {
      const c = await own.connect();
      made.push(c);
      return c;
    };
    const prefix = "restart:";
    const a = new StreamCache({
      store: new RedisStore({ client: await connect(), prefix, leaseMs: 500 }),
    });
    const b = new StreamCache({
      store: new RedisStore({ client: await connect(), prefix, leaseMs: 500 }),
    });
    try {
      const source = manualSource();
      const entryA = await a.getOrCreate("k", () => source.stream);
      source.push(pattern(1000, 14));
      const entryB = await b.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      const readingB = readError(entryB.readable());
      await own.restart(); // empty, as with no persistence
      source.push(pattern(1000, 15));
      const [errorA, errorB] = [
        await readError(entryA.readable()),
        await readingB,
      ];
      assert.ok(errorA instanceof Error && errorB instanceof Error);
      // The producer's writer fails on its lease, or its reader finds the
      // entry gone; the follower's reader meets the broken connection (a
      // read in flight fails that reader alone, SEMANTICS 6) or finds the
      // entry gone: no clean end anywhere.
      assert.match(
        `${errorA.name}: ${errorA.message}`,
        /ProducerLostError|EntryNotFoundError: .*no entry|ECONNRESET|EPIPE|Socket closed/i,
      );
      assert.match(
        `${errorB.name}: ${errorB.message}`,
        /gone from Redis|ProducerLostError|unreachable|ECONNRESET|EPIPE|Socket closed/i,
      );
      await assert.rejects(entryB.done);
      // Once reconnected, the key is produced afresh.
      const fresh = await b.getOrCreate("k", () => pattern(30, 16));
      assert.deepEqual(await readAll(fresh.readable()), pattern(30, 16));
    } finally {
      await a.close().catch(() => {});
      await b.close().catch(() => {});
      for (const c of made) c.destroy();
      await own.stop();
    }
  });

  it("an out-of-memory Redis (maxmemory, noeviction) fails the entry being written, not the server or other entries", async () => {
    const own = await startRedis([
      "--maxmemory",
      "4mb",
      "--maxmemory-policy",
      "noeviction",
    ]);
    const c = await own.connect();
    const cache = new StreamCache({
      store: new RedisStore({ client: c, prefix: "oom:" }),
    });
    try {
      const small = await cache.getOrCreate("small", () => pattern(1000, 17));
      assert.equal(await small.done, 1000);
      const big = await cache.getOrCreate("big", async function* () {
        for (let i = 0; i < 64; i++) yield pattern(256 * 1024, i);
      });
      const error = await readError(big.readable()) as Error;
      assert.match(error.message, /OOM/);
      await assert.rejects(big.done, /OOM/);
      // The server serves on, and so do the entries it holds.
      assert.deepEqual(
        await readAll((await cache.get("small"))!.readable()),
        pattern(1000, 17),
      );
      assert.equal(await cache.has("big"), false);
    } finally {
      await cache.close();
      c.destroy();
      await own.stop();
    }
  });
});
