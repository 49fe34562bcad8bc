/**
 * An HTTP cache that follows the handler's `Cache-Control`: fresh for a
 * minute, then served stale at once for ten more while one refresh runs,
 * and after that revalidated with the handler's `ETag` (a 304 costs no new
 * body). The cache's clock is moved by hand so that the run shows it.
 *
 *     deno run examples/http_cache_control.ts    # or: bun, node (22.18+)
 *
 * @module
 */

import { StreamCache } from "../mod.ts";
import { cached, type ServeOutcome } from "../src/http/mod.ts";

let now = Date.UTC(2026, 0, 1); // the cache's clock, in ms
const cache = new StreamCache({
  clock: () => now,
  keepStale: 86_400_000, // keep expired responses a day, to revalidate them
});

let version = 1;
let calls = 0;
function prices(request: Request): Response {
  calls++;
  const headers = {
    etag: `"v${version}"`,
    "cache-control": "max-age=60, stale-while-revalidate=600",
  };
  if (request.headers.get("if-none-match") === headers.etag) {
    return new Response(null, { status: 304, headers }); // still current
  }
  return new Response(`prices v${version}`, { headers });
}

let outcome: ServeOutcome | undefined;
const handler = cached(prices, {
  cache,
  onServe: (event) => outcome = event.outcome,
});

async function show(seconds: number) {
  now += seconds * 1000;
  const response = await handler(new Request("http://localhost/prices"));
  const body = await response.text();
  const age = response.headers.get("age") ?? "-";
  console.log(`${outcome}, age ${age}: ${body} (${calls} handler calls)`);
}

await show(0); // miss, age -: prices v1 (1 handler calls)
await show(30); // hit, age 30: fresh for 60 s
const refreshed = new Promise((resolve) =>
  cache.addEventListener("commit", resolve, { once: true })
);
await show(60); // stale, age 90: served at once; one refresh runs (a 304)
await refreshed;
await show(0); // hit, age 0: the refreshed entry (2 handler calls)
version = 2;
await show(700); // miss: past every window, revalidated, and it changed
await show(700); // revalidated: a 304, and the stored body (4 handler calls)
await cache.close();
