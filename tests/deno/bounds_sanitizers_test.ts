// Rule 12 for bounded caches, under Deno's test sanitizers (ops, resources,
// timers): the optional periodic sweep runs on its own, never keeps the
// process alive, and close() stops it; background eviction leaves nothing.

import assert from "node:assert/strict";
import { type CacheEvent, StreamCache } from "../../mod.ts";

Deno.test("rule 12: the periodic sweep expires an idle entry by itself, and close() stops its timer", async () => {
  let now = 0;
  const cache = new StreamCache({
    ttl: 1000,
    sweepInterval: 5,
    clock: () => now,
  });
  const evicted = new Promise<CacheEvent>((resolve) =>
    cache.addEventListener("evict", (e) => resolve(e as CacheEvent), {
      once: true,
    })
  );
  await (await cache.getOrCreate("k", () => new Uint8Array(3))).done;
  now = 5000; // nothing touches the cache now: only the sweep can notice
  const event = await evicted;
  assert.deepEqual([event.key, event.reason], ["k", "ttl"]);
  await cache.close(); // the sanitizers fail the test if its timer survives
});

Deno.test("rule 12: eviction in the background leaves no timer or op behind", async () => {
  await using cache = new StreamCache({ maxEntries: 1 });
  const evicted = new Promise<void>((resolve) =>
    cache.addEventListener("evict", () => resolve(), { once: true })
  );
  for (const key of ["a", "b"]) {
    await (await cache.getOrCreate(key, () => new Uint8Array(1))).done;
  }
  await evicted;
  assert.equal(cache.stats().entries, 1);
});

Deno.test("rule 12: closing a cache with a pass scheduled cancels it", async () => {
  const cache = new StreamCache({ maxEntries: 0 });
  await (await cache.getOrCreate("k", () => new Uint8Array(1))).done;
  await cache.close(); // its pass timer is cleared, not left pending
});
