/**
 * HTTP caching for fetch-style handlers: generate each download once, stream
 * it to every client that asks, with Range and conditional requests, as a
 * shared cache that keeps RFC 9110 and 9111 (see {@linkcode cached}). Works
 * in any server that speaks `Request` → `Response` (`Deno.serve`,
 * `Bun.serve`, Hono, Node through an adapter) and in service workers.
 *
 * @example A cached download server on Deno
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * let runs = 0;
 * const archive = (request: Request) => {
 *   runs++;
 *   return new Response(`the archive of ${new URL(request.url).pathname}\n`, {
 *     headers: { "content-type": "text/plain" },
 *   });
 * };
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} }, // a free port, quietly
 *   cached(archive, { cache }),
 * );
 * // Two clients at once: the archive is made once, and both get it whole.
 * const url = `http://127.0.0.1:${server.addr.port}/q3.zip`;
 * const bodies = await Promise.all(
 *   [1, 2].map(async () => await (await fetch(url)).text()),
 * );
 * assert.deepEqual(bodies, ["the archive of /q3.zip\n", "the archive of /q3.zip\n"]);
 * assert.equal(runs, 1);
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { cached } from "./cached.ts";
export type {
  CachedOptions,
  Handler,
  ServeEvent,
  ServeOutcome,
} from "./cached.ts";
export type { HttpMeta } from "./_meta.ts";
