// RedisStore over ioredis, through the adapter users copy
// (examples/ioredis/adapter.ts), against a real redis-server that this file
// starts (tests/_redis_server.ts): the conformance suite, one producer per
// key across two caches, and a follower whose blocking connection is killed
// (ioredis #1285: a blocking read must resume or end, never hang).

import { after, before, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import process from "node:process";
import { Redis } from "ioredis";
import { type CacheOutcome, StreamCache } from "../mod.ts";
import { RedisStore } from "../src/redis/mod.ts";
import { BLOCK_GRACE_MS, fromIoredis } from "../examples/ioredis/adapter.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import {
  concat,
  manualSource,
  pattern,
  readAll,
  readRest,
} from "./_helpers.ts";
import {
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";

let server: RedisServer;
const clients: Redis[] = [];
let count = 0;

/** A new ioredis client of the server, ready, disconnected after the file. */
async function connect(): Promise<Redis> {
  const client = new Redis({ path: server.socket, lazyConnect: true });
  client.on("error", () => {}); // a failed command says why
  clients.push(client);
  await client.connect();
  return client;
}

/** Two caches sharing one prefix, each with an ioredis client of its own. */
async function fleet(leaseMs = 2_000) {
  const prefix = `f${++count}:`;
  const make = async () =>
    new StreamCache({
      store: new RedisStore({
        client: fromIoredis(await connect()),
        prefix,
        leaseMs,
      }),
    });
  return { a: await make(), b: await make() };
}

/** The ids of the server's clients blocked in XREAD. */
async function blockedClients(admin: Redis): Promise<string[]> {
  const list = String(await admin.call("CLIENT", "LIST"));
  return list.split("\n").filter((line) => / cmd=xread\b/.test(line))
    .map((line) => /\bid=(\d+)/.exec(line)![1]!);
}

/** How many connections the server has refused (maxclients). */
async function rejectedConnections(admin: Redis): Promise<number> {
  const info = String(await admin.call("INFO", "stats"));
  return Number(/rejected_connections:(\d+)/.exec(info)![1]);
}

describe("RedisStore over ioredis", { skip: REDIS_MISSING }, () => {
  let client: Redis;
  before(async () => {
    server = await startRedis();
    client = await connect();
  });
  after(async () => {
    for (const made of clients) made.disconnect();
    await server?.stop();
  });

  // No volume test (`bulk`), as in tests/redis_store_test.ts: it measures
  // the process's memory, which the client's socket buffers move by
  // megabytes.
  describeStoreConformance(
    "RedisStore (ioredis)",
    () =>
      new RedisStore({ client: fromIoredis(client), prefix: `t${++count}:` }),
    { bulk: false },
  );
  describeStoreConformance(
    "RedisStore (ioredis, 5-byte blocks)",
    () =>
      new RedisStore({
        client: fromIoredis(client),
        prefix: `s${++count}:`,
        blockSize: 5,
      }),
    { bulk: false },
  );

  describe("shared by two caches", () => {
    it(
      "rule 1 across caches: the producer runs once, the other cache follows the entry while it is written and gets identical bytes",
      {
        timeout: 20_000,
      },
      async () => {
        const { a, b } = await fleet();
        try {
          const source = manualSource();
          let runs = 0;
          const producer = () => {
            runs++;
            return source.stream;
          };
          const statusA: { outcome?: CacheOutcome } = {};
          const entryA = await a.getOrCreate("k", producer, {
            status: statusA,
          });
          source.push(pattern(1000, 1));
          const statusB: { outcome?: CacheOutcome } = {};
          const entryB = await b.getOrCreate("k", producer, {
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
          assert.deepEqual(await readAll(entryA.readable()), expected);
          const hit: { outcome?: CacheOutcome } = {};
          const again = await b.getOrCreate("k", producer, { status: hit });
          assert.equal(hit.outcome, "hit");
          assert.deepEqual(await readAll(again.readable()), expected);
          assert.equal(runs, 1);
        } finally {
          await a.close();
          await b.close();
        }
      },
    );

    it(
      "a follower whose blocking connection is killed mid-read resumes from its last event at once, losing and repeating nothing (ioredis #1285)",
      {
        timeout: 20_000,
      },
      async () => {
        // A 60 s lease: the follower's reads block for up to a minute, so
        // only a read that resumes on the new connection (not one that ends
        // by its BLOCK time) finishes within the test's 20 s.
        const { a, b } = await fleet(60_000);
        const admin = await connect();
        try {
          const source = manualSource();
          const entryA = await a.getOrCreate("k", () => source.stream);
          const parts = [
            pattern(3000, 11),
            pattern(5000, 12),
            pattern(7000, 13),
          ];
          source.push(parts[0]!);
          const entryB = await b.getOrCreate("k", () => {
            throw new Error("must not run");
          });
          const reading = readAll(entryB.readable());
          for (const round of [1, 2]) {
            // Wait for the follower to block (the server's client list says
            // so; the test's deadline bounds the wait), then cut its
            // connection, twice: each reconnect resends the read.
            let blocked: string[] = [];
            while (!(blocked = await blockedClients(admin)).length) {
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            for (const id of blocked) {
              await admin.call("CLIENT", "KILL", "ID", id);
            }
            source.push(parts[round]!);
          }
          source.close();
          assert.deepEqual(await reading, concat(parts));
          assert.equal(await entryB.done, await entryA.done);
        } finally {
          await a.close();
          await b.close();
        }
      },
    );
  });

  describe("the adapter", () => {
    it(
      "a blocking read on a connection that answers nothing (its server stopped) ends with no reply by its BLOCK time and the grace (ioredis #1285)",
      {
        timeout: 20_000,
      },
      async () => {
        const blocking = fromIoredis(client).duplicate();
        blocking.on("error", () => {});
        await blocking.connect();
        process.kill(server.pid, "SIGSTOP");
        try {
          const started = Date.now();
          const reply = await blocking.sendCommand(
            ["XREAD", "BLOCK", "100", "STREAMS", "nothing", "0-0"],
            { timeout: 0 },
          );
          assert.equal(reply, null);
          assert.ok(Date.now() - started >= 100 + BLOCK_GRACE_MS - 5);
        } finally {
          process.kill(server.pid, "SIGCONT");
          blocking.destroy();
        }
      },
    );

    it(
      "destroy() fails a blocking read that ioredis holds to send again once it reconnects (its disconnect() leaves it pending)",
      {
        timeout: 20_000,
      },
      async () => {
        const admin = await connect();
        const blocking = fromIoredis(client).duplicate();
        blocking.on("error", () => {});
        await blocking.connect();
        const read = blocking.sendCommand(
          ["XREAD", "BLOCK", "60000", "STREAMS", "nothing", "0-0"],
          { timeout: 0 },
        ).then(() => "ended", (error) => String(error));
        try {
          let blocked: string[] = [];
          while (!(blocked = await blockedClients(admin)).length) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          // Refuse its reconnection, then cut its connection: the read waits
          // in ioredis to be sent again, for as long as the server refuses.
          const before = await rejectedConnections(admin);
          await admin.call("CONFIG", "SET", "maxclients", "1");
          for (const id of blocked) {
            await admin.call("CLIENT", "KILL", "ID", id);
          }
          // Once the server has refused it, the read is held in ioredis.
          while (await rejectedConnections(admin) === before) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          blocking.destroy();
          assert.equal(await read, "Error: Connection destroyed");
        } finally {
          await admin.call("CONFIG", "SET", "maxclients", "10000");
        }
      },
    );
  });
});
