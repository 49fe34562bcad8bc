// Rule 12 for RedisStore under Deno's sanitizers (ops, resources): after
// close() no lease-renewal timer, follower connection or pending command is
// left, even when the cache closes while one cache produces a key and
// another follows it. The clients are the test's: it destroys them last.

import assert from "node:assert/strict";
import { StreamCache } from "../../mod.ts";
import { RedisStore } from "../../src/redis/mod.ts";
import { manualSource, pattern } from "../_helpers.ts";
import { REDIS_MISSING, startRedis } from "../_redis_server.ts";

// Skipped (outside CI only) without redis-server: tests/_redis_server.ts.
const server = REDIS_MISSING === undefined ? await startRedis() : undefined;

Deno.test({
  name:
    "RedisStore: closing a producing and a following cache leaves no timer, connection or pending op",
  sanitizeOps: true,
  sanitizeResources: true,
  ignore: server === undefined,
  async fn() {
    const clientA = await server!.connect();
    const clientB = await server!.connect();
    const prefix = "sanitizers:";
    const a = new StreamCache({
      store: new RedisStore({ client: clientA, prefix, leaseMs: 300 }),
    });
    const b = new StreamCache({
      store: new RedisStore({ client: clientB, prefix, leaseMs: 300 }),
    });
    const source = manualSource();
    const produced = await a.getOrCreate("k", () => source.stream);
    source.push(pattern(100, 1));
    const followed = await b.getOrCreate("k", () => {
      throw new Error("must not run");
    });
    const reader = followed.readable().getReader();
    assert.deepEqual((await reader.read()).value, pattern(100, 1));
    const pending = reader.read();
    pending.catch(() => {});
    await b.close();
    await a.close();
    await assert.rejects(pending);
    await assert.rejects(produced.done);
    // Renewal timers and follower connections are the store's; gone now.
    clientA.destroy();
    clientB.destroy();
    await new Promise((resolve) => setTimeout(resolve, 0));
  },
});

Deno.test({
  name: "RedisStore sanitizers: stop the server",
  ignore: server === undefined,
  fn: () => server!.stop(),
});
