// A fleet of real processes on one directory: three HTTP servers
// (tests/_fleet_child.ts), each a StreamCache over an FsStore in shared
// mode on the same directory, on the runtime that runs this test. One
// producer per key in the whole group (SEMANTICS 1, 19); a producer killed
// mid-write fails the followers in the other processes with
// ProducerLostError within its lease (rule 5: never a clean end), and the
// next request produces afresh; a producer stopped past its lease that
// wakes up can no longer commit.

import { after, describe, HEAVY_TIMEOUT_MS, isCI, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pattern } from "./_helpers.ts";
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

/** Whether this machine can start processes in new PID namespaces (root, util-linux). */
const CAN_UNSHARE =
  spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status ===
    0;
/**
 * Runs a member as PID 1 of a PID namespace of its own, as a container on a
 * shared volume would; killing `unshare` kills it.
 */
const CONTAINER = [
  "unshare",
  "--pid",
  "--fork",
  "--mount-proc",
  "--kill-child=SIGKILL",
];

const root = await mkdtemp(join(tmpdir(), "streamcache-fleet-fs-"));
let count = 0;

/** Starts `n` members on a fresh directory with a lease of `leaseMs`; none is left if one fails. */
function fleet(
  n = 3,
  leaseMs = LEASE_MS,
  wrap: readonly string[] = [],
): Promise<ServerProcess[]> {
  return startFleet(n, {
    FLEET_DIR: join(root, String(++count)),
    FLEET_LEASE_MS: String(leaseMs),
  }, wrap);
}

/**
 * Kills the producer of a key mid-write: followers in the other members fail
 * with ProducerLostError within `bound` ms, and the next request produces
 * afresh. Returns how long the followers took.
 */
async function killProducer(members: ServerProcess[], bound: number) {
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
    assert.ok(took < bound, `followers learned after ${took} ms`);
    const fresh = await fetch(b.at(`killed?size=${size}`));
    assert.deepEqual(await body(fresh), pattern(size, 1));
    assert.equal(
      linesOf(b, "produce killed") + linesOf(c, "produce killed"),
      1,
    );
    return took;
  } finally {
    await stopAll(members);
  }
}

describe("a fleet of three processes on one FsStore directory", () => {
  after(() => rm(root, { recursive: true, force: true }));

  it(
    "100 concurrent requests spread over three processes: the producer runs once in the group, every client gets identical bytes",
    HEAVY,
    async () => {
      const members = await fleet(3, 10_000);
      try {
        const size = 400_000;
        const started = Date.now();
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
        const took = Date.now() - started;
        const expected = pattern(size, 1);
        for (const got of responses) assert.deepEqual(got, expected);
        const runs = members.map((member) => linesOf(member, "produce cold"));
        assert.equal(
          runs.reduce((a, b) => a + b),
          1,
          `runs per process ${runs}`,
        );
        console.log(
          `100 requests over 3 processes: producer runs per process ${runs}, ${took} ms`,
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
      const took = await killProducer(await fleet(), 5 * LEASE_MS);
      console.log(
        `followers learned of the killed producer after ${took} ms (lease ${LEASE_MS} ms)`,
      );
    },
  );

  it(
    "three containers on one volume, each PID 1 of its own PID namespace: one producer while it lives, and its SIGKILL is learnt from its lease",
    {
      ...HEAVY,
      // Decided when declared: a skip under CI fails the run (scripts/_skips.mjs).
      skip: CAN_UNSHARE || isCI()
        ? false
        : "needs root and util-linux unshare for PID namespaces",
    },
    async () => {
      assert.ok(
        CAN_UNSHARE,
        "unshare --pid --fork --mount-proc is required in CI (run as root)",
      );
      // Every member is PID 1: none may judge another by that number.
      const took = await killProducer(
        await fleet(3, LEASE_MS, CONTAINER),
        5 * LEASE_MS,
      );
      console.log(
        `followers in other PID namespaces learned of the killed producer after ${took} ms (lease ${LEASE_MS} ms)`,
      );
    },
  );

  it(
    "SIGSTOP of the producer past its lease, then SIGCONT: its commit is refused, its own readers fail, the new entry is untouched",
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
        // Awake, it goes on writing its own file; its commit is refused.
        const finish = await fetch(producer.at("finish/stopped"), {
          method: "POST",
        });
        assert.equal(await finish.text(), "released");
        const line = await failureOf(producer, "stopped");
        assert.match(
          line,
          /^failed stopped ProducerLostError: .*lost its claim/,
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
});
