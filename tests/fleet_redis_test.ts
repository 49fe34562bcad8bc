// A fleet of real processes over one real Redis: three HTTP servers
// (tests/_fleet_child.ts), each a StreamCache over a RedisStore with the
// same prefix, on the runtime that runs this test. One producer per key in
// the whole fleet; a producer killed or stopped mid-write fails the
// followers in the other processes with ProducerLostError within its lease,
// and a stopped one that wakes up can no longer write; a follower whose
// blocking connection is killed resumes without losing or repeating bytes.

import { after, before, describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import process from "node:process";
import { pattern } from "./_helpers.ts";
import {
  type Client,
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";
import {
  body,
  failureOf,
  linesOf,
  startFleet,
  stopAll,
  streaming,
} from "./_fleet.ts";
import type { ServerProcess } from "./_server_process.ts";

/** The producers' lease: short, so the tests that outlive one stay short. */
const LEASE_MS = 1_000;
const HEAVY = { timeout: HEAVY_TIMEOUT_MS };

let redis: RedisServer;
let admin: Client;
let count = 0;

/**
 * Starts `n` fleet members sharing a fresh prefix and a lease of `leaseMs`;
 * none is left if one fails.
 */
function fleet(n = 3, leaseMs = LEASE_MS): Promise<ServerProcess[]> {
  return startFleet(n, {
    FLEET_REDIS_SOCKET: redis.socket,
    FLEET_PREFIX: `fleet${++count}:`,
    FLEET_LEASE_MS: String(leaseMs),
  });
}

/** The ids of Redis clients blocked in XREAD. */
async function blockedClients(): Promise<string[]> {
  const list = String(await admin.sendCommand(["CLIENT", "LIST"]));
  return list.split("\n").filter((line) => / cmd=xread\b/.test(line))
    .map((line) => /\bid=(\d+)/.exec(line)![1]!);
}

describe("a fleet of three processes over one Redis", {
  skip: REDIS_MISSING,
}, () => {
  before(async () => {
    redis = await startRedis();
    admin = await redis.connect();
  });
  after(async () => {
    admin?.destroy();
    await redis?.stop();
  });

  it(
    "100 concurrent requests spread over three processes: the producer runs once in the fleet, every client gets identical bytes",
    HEAVY,
    async () => {
      // The default lease: under load average 20, the reads of 100 requests
      // queued on the producer's connection delayed its renewals past a 1 s
      // lease, and its followers rightly gave it up (seen once on Node 20).
      const members = await fleet(3, 10_000);
      try {
        const size = 400_000;
        const responses = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const member = members[i % 3]!;
            try {
              const response = await fetch(member.at(`cold?size=${size}`));
              assert.equal(response.status, 200);
              return await body(response);
            } catch (error) {
              const said = member.lines.filter((l) => l.startsWith("failed"));
              throw new Error(
                `${error}; the server said: ${said}; stderr: ${member.stderr}`,
              );
            }
          }),
        );
        const expected = pattern(size, 1);
        for (const got of responses) assert.deepEqual(got, expected);
        const runs = members.map((member) => linesOf(member, "produce cold"));
        assert.equal(
          runs.reduce((a, b) => a + b),
          1,
          `runs per process ${runs}`,
        );
      } finally {
        await stopAll(members);
      }
    },
  );

  it(
    "SIGKILL of the producing process mid-write: followers elsewhere fail with ProducerLostError within the lease; the next request produces afresh",
    HEAVY,
    async () => {
      const members = await fleet();
      const [producer, b, c] = members as [
        ServerProcess,
        ServerProcess,
        ServerProcess,
      ];
      try {
        const size = 200_000;
        const own = await streaming(producer.at(`killed?size=${size}&hold`));
        await producer.waitFor(
          "holding",
          (l) => l.find((x) => x === "holding killed"),
        );
        const followers = await Promise.all([
          streaming(b.at(`killed?size=${size}`)),
          streaming(c.at(`killed?size=${size}`)),
        ]);
        assert.deepEqual(
          followers.map((f) => f.id),
          [own.id, own.id],
        );
        const killed = Date.now();
        await producer.stop("SIGKILL");
        const failures = await Promise.all([
          failureOf(b, "killed"),
          failureOf(c, "killed"),
        ]);
        const took = Date.now() - killed;
        for (const line of failures) {
          assert.match(line, /^failed killed ProducerLostError: /);
        }
        for (const follower of followers) {
          await assert.rejects(follower.rest);
        }
        assert.ok(took < 5 * LEASE_MS, `followers learned after ${took} ms`);
        console.log(
          `followers learned of the killed producer after ${took} ms (lease ${LEASE_MS} ms)`,
        );
        const fresh = await fetch(b.at(`killed?size=${size}`));
        assert.deepEqual(await body(fresh), pattern(size, 1));
        assert.equal(
          linesOf(b, "produce killed") + linesOf(c, "produce killed"),
          1,
        );
      } finally {
        await stopAll(members);
      }
    },
  );

  it(
    "SIGSTOP of the producer past its lease, then SIGCONT: its writes are refused, its own readers fail, the new entry is untouched",
    HEAVY,
    async () => {
      const members = await fleet();
      const [producer, b, c] = members as [
        ServerProcess,
        ServerProcess,
        ServerProcess,
      ];
      try {
        const size = 200_000;
        const own = await streaming(producer.at(`stopped?size=${size}&hold`));
        await producer.waitFor(
          "holding",
          (l) => l.find((x) => x === "holding stopped"),
        );
        const follower = await streaming(b.at(`stopped?size=${size}`));
        process.kill(producer.pid, "SIGSTOP");
        try {
          const line = await failureOf(b, "stopped");
          assert.match(line, /^failed stopped ProducerLostError: /);
          await assert.rejects(follower.rest);
          // The key is produced afresh elsewhere while the old producer sleeps.
          const fresh = await fetch(c.at(`stopped?size=${size}`));
          assert.deepEqual(await body(fresh), pattern(size, 1));
        } finally {
          process.kill(producer.pid, "SIGCONT");
        }
        // Awake, it goes on writing: refused, and only its own entry fails.
        const finish = await fetch(producer.at("finish/stopped"), {
          method: "POST",
        });
        assert.equal(await finish.text(), "released");
        const line = await failureOf(producer, "stopped");
        assert.match(
          line,
          /^failed stopped ProducerLostError: .*lost its lease/,
        );
        await assert.rejects(own.rest);
        const after = await fetch(b.at(`stopped?size=${size}`));
        assert.deepEqual(await body(after), pattern(size, 1));
        assert.equal(linesOf(b, "produce stopped"), 0, "b found the new entry");
      } finally {
        await stopAll(members);
      }
    },
  );

  it(
    "CLIENT KILL of the followers' blocking connections mid-read: they resume, losing and repeating nothing",
    HEAVY,
    async () => {
      const members = await fleet();
      const [producer, b, c] = members as [
        ServerProcess,
        ServerProcess,
        ServerProcess,
      ];
      try {
        const size = 300_000;
        const own = await streaming(producer.at(`cut?size=${size}&hold`));
        await producer.waitFor(
          "holding",
          (l) => l.find((x) => x === "holding cut"),
        );
        const followers = await Promise.all([
          streaming(b.at(`cut?size=${size}`)),
          streaming(c.at(`cut?size=${size}`)),
        ]);
        // Both followers block in XREAD (the server's client list says so;
        // the test's deadline bounds the wait); cut them.
        let blocked: string[] = [];
        while ((blocked = await blockedClients()).length < 2) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        for (const id of blocked) {
          await admin.sendCommand(["CLIENT", "KILL", "ID", id]);
        }
        await fetch(producer.at("finish/cut"), { method: "POST" });
        const expected = Buffer.from(pattern(size, 1));
        assert.deepEqual(await own.rest, expected);
        for (const follower of followers) {
          assert.deepEqual(await follower.rest, expected);
        }
        assert.equal(linesOf(b, "failed") + linesOf(c, "failed"), 0);
      } finally {
        await stopAll(members);
      }
    },
  );
});
