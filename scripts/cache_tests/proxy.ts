/**
 * A reverse proxy made of `cached()` and `fetch()`, for running the public
 * HTTP cache test suite (http-tests/cache-tests) against streamcache's HTTP
 * wrapper: every request goes to `--upstream` unless the cache answers it.
 *
 *     deno run --allow-net=127.0.0.1 scripts/cache_tests/proxy.ts \
 *       --upstream http://127.0.0.1:8000 --port 8001
 *
 * It listens on 127.0.0.1 only; `--port 0` picks a free port. The first line
 * it prints is `listening on <url>`. scripts/cache_tests/run.mjs starts it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { StreamCache } from "../../mod.ts";
import { cached } from "../../src/http/mod.ts";

/** Headers of one connection, never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    upstream: { type: "string" },
    port: { type: "string", default: "8001" },
  },
});
if (!values.upstream) {
  console.error("usage: proxy.ts --upstream http://127.0.0.1:PORT [--port N]");
  Deno.exit(2);
}
const upstream = new URL(values.upstream);

/** Forwards a request to the upstream server, as a proxy does. */
async function forward(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const target = new URL(url.pathname + url.search, upstream);
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  const body = request.method === "GET" || request.method === "HEAD"
    ? null
    : await request.arrayBuffer();
  try {
    return await fetch(target, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
      signal: request.signal,
    });
  } catch (error) {
    // The upstream closed or failed: what a proxy answers then (RFC 9110 15.6.3).
    return new Response(`${error}`, { status: 502 });
  }
}

// A proxy keeps stale responses a day to revalidate them with the upstream,
// and obeys CDN-Cache-Control (RFC 9213), as a CDN does.
const cache = new StreamCache({ keepStale: 86_400_000 });
const handler = cached(forward, { cache, targets: ["cdn-cache-control"] });
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(values.port),
  onListen: ({ hostname, port }) =>
    console.log(`listening on http://${hostname}:${port}/`),
}, handler);
