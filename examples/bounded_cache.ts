/**
 * A disk cache capped at a byte budget: the least recently used downloads go
 * when the budget is exceeded, never one that is being read, and the cache
 * says what it evicts. (The budget here is tiny so that the run shows it.)
 *
 *     deno run --allow-read=.cache --allow-write=.cache examples/bounded_cache.ts
 *     bun examples/bounded_cache.ts    # or: node (22.18+)
 *
 * @module
 */

import { type CacheEvent, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";

const cache = new StreamCache({
  store: new FsStore({ dir: ".cache/bounded_cache" }),
  maxBytes: 250, // the most body bytes kept on disk (50 GiB in real life)
  maxEntryBytes: 200, // a larger download still streams, but is not kept
  ttl: 3_600_000, // and nothing stays an hour after its last use
});
cache.addEventListener("evict", (event) => {
  const { key, size, reason } = event as CacheEvent;
  console.log(`evicted ${key} (${size} B, ${reason})`);
});

const report = (n: number) => () => new Uint8Array(100).fill(n);
for (const name of ["a.csv", "b.csv", "c.csv"]) {
  const entry = await cache.getOrCreate(name, report(name.charCodeAt(0)));
  await entry.done;
}
await cache.prune(); // it also runs by itself, as entries commit
const { entries, bytes } = cache.stats();
console.log(`${entries} entries, ${bytes} B`);
await cache.clear(); // a clean slate for the next run of this example
await cache.close();
