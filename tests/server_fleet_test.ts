// The download server as a fleet (issue 17, point 5): three server
// processes, each with its own cache directory, given one redis-server
// (tests/_redis_server.ts) with --redis. A cold download asked of all three
// at once is generated once in the whole fleet (counted by the servers'
// own /stats), and every client gets the same bytes; a member started
// later gets it from Redis, a hit.

import { after, before, describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportBytes } from "../examples/download_server/generate.ts";
import {
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";
import { ServerProcess } from "./_server_process.ts";

/** The part of /stats these tests read. */
interface Stats {
  entries: number;
  hits: number;
  misses: number;
  joins: number;
  generations: { started: number; completed: number; failed: number };
}

describe("the download server as a fleet over one Redis (rule 19)", {
  skip: REDIS_MISSING,
}, () => {
  let redis: RedisServer;
  let dir: string;
  const servers: ServerProcess[] = [];
  const member = async (name: string) => {
    const server = await ServerProcess.start(join(dir, name), [
      "--redis",
      `unix://${redis.socket}`,
    ]);
    servers.push(server);
    await server.waitFor(
      "the cache line",
      (lines) => lines.find((line) => line.startsWith("cache: ")),
    );
    return server;
  };
  const statsOf = async (server: ServerProcess): Promise<Stats> =>
    await (await fetch(server.at("/stats"))).json() as Stats;

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), "streamcache-server-fleet-"));
  });
  after(async () => {
    for (const server of servers) await server.stop("SIGKILL");
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    "12 concurrent requests for a cold download spread over three servers: one generation in the fleet, identical bytes everywhere, then hits",
    { timeout: HEAVY_TIMEOUT_MS },
    async () => {
      // One at a time: each loads its modules, on a loaded machine.
      const fleet: ServerProcess[] = [];
      for (const name of ["a", "b", "c"]) fleet.push(await member(name));
      const [first] = fleet;
      const line = first!.lines.find((l) => l.startsWith("cache: "))!;
      assert.match(line, / over unix:\/\/\S+redis\.sock \(0 entries/);

      const size = 200_000;
      const key = `/downloads/fleet.csv?size=${size}`;
      const expected = reportBytes("fleet.csv", size);
      // 1 MiB/s: the generation takes about 0.2 s, so the requests overlap it.
      const responses = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const response = await fetch(fleet[i % 3]!.at(`${key}&rate=1M`));
          return {
            status: response.status,
            cacheStatus: response.headers.get("cache-status"),
            body: new Uint8Array(await response.arrayBuffer()),
          };
        }),
      );
      for (const { status, body } of responses) {
        assert.equal(status, 200);
        assert.deepEqual(body, expected);
      }
      const stats = await Promise.all(fleet.map(statsOf));
      const started = stats.map((s) => s.generations.started);
      assert.equal(
        started.reduce((a, b) => a + b),
        1,
        `generations started per server: ${started}`,
      );
      const misses = responses.filter((r) =>
        r.cacheStatus === "streamcache; fwd=miss"
      );
      assert.equal(
        misses.length,
        1,
        responses.map((r) => r.cacheStatus).join(),
      );
      console.log(
        `# 3 servers, 12 requests: generations started ${started.join("+")}; ` +
          `misses ${stats.map((s) => s.misses).join("+")}, joins ${
            stats.map((s) => s.joins).join("+")
          }, hits ${stats.map((s) => s.hits).join("+")}`,
      );

      // Every member stores it (a client may have all its bytes a moment
      // before the commit reaches its server): the next request is a hit.
      for (const server of fleet) {
        assert.equal(await server.waitForStored(key), size);
      }
      for (const server of fleet) {
        const again = await fetch(server.at(`${key}&rate=1G`));
        assert.equal(again.headers.get("cache-status"), "streamcache; hit");
        assert.deepEqual(new Uint8Array(await again.arrayBuffer()), expected);
      }
      // A member started later finds it in Redis: a hit, no generation.
      const late = await member("d");
      const response = await fetch(late.at(`${key}&rate=1G`));
      assert.equal(response.headers.get("cache-status"), "streamcache; hit");
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), expected);
      assert.equal((await statsOf(late)).generations.started, 0);
    },
  );
});
