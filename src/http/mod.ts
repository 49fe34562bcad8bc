/**
 * HTTP caching for fetch-style handlers: generate each download once, stream
 * it to every client that asks, with Range and conditional requests, as a
 * shared cache that keeps RFC 9110 and 9111 (see {@linkcode cached}). Works
 * in any server that speaks `Request` → `Response` (`Deno.serve`,
 * `Bun.serve`, Hono, Node through an adapter) and in service workers.
 *
 * @example A cached download server on Deno
 * ```ts ignore
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 *
 * const cache = new StreamCache();
 * const archive = (request: Request) =>
 *   new Response(`the archive of ${new URL(request.url).pathname}\n`, {
 *     headers: { "content-type": "text/plain" },
 *   });
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, cached(archive, { cache }));
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
