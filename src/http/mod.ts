/**
 * HTTP caching for fetch-style handlers: generate each download once, stream
 * it to every client that asks, with Range and conditional requests. Works
 * in any server that speaks `Request` → `Response` (`Deno.serve`,
 * `Bun.serve`, Hono, Node through an adapter) and in service workers.
 *
 * @example A cached download server on Deno
 * ```ts ignore
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 *
 * const cache = new StreamCache();
 * Deno.serve(cached((request) => new Response(makeArchive(new URL(request.url).pathname)), { cache }));
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
