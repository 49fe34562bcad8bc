/**
 * A fetch-style wrapper that caches a handler's responses in a
 * {@linkcode StreamCache}.
 *
 * @module
 */

import type { Entry } from "../entry.ts";
import type { StreamCache } from "../stream_cache.ts";
import type { CacheStatus } from "../stream_cache_options.ts";
import { describeValue } from "../_validate.ts";
import { parseCacheControl } from "./_cache_control.ts";
import { hasCredentials, sharedWithCredentials } from "./_credentials.ts";
import { headBody } from "./_head.ts";
import { formatHttpDate } from "./_http_date.ts";
import { invalidatedUrls } from "./_invalidation.ts";
import { type HttpMeta, readMeta } from "./_meta.ts";
import { isCacheable } from "./_policy.ts";
import { Production, Uncacheable } from "./_production.ts";
import { respond } from "./_respond.ts";
import { NO_LEASE, UnreadWatch } from "./_unread_watch.ts";
import { acceptEncodingVariant, variantKey } from "./_vary.ts";

/**
 * A fetch-style request handler, as `Deno.serve`, `Bun.serve`, Hono and service workers use.
 *
 * @example Wrapping a plain handler
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { Handler } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * const hello: Handler = (request) => new Response(`hello from ${new URL(request.url).pathname}`);
 * await using cache = new StreamCache();
 * const handler = cached(hello, { cache });
 * const response = await handler(new Request("http://localhost/world"));
 * assert.equal(await response.text(), "hello from /world");
 * assert.equal(await cache.has("http://localhost/world"), true);
 * ```
 */
export type Handler = (request: Request) => Response | Promise<Response>;

/**
 * Options for {@linkcode cached}.
 *
 * @example Keying requests by path
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { CachedOptions } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const options: CachedOptions = {
 *   cache,
 *   key: (request) => new URL(request.url).pathname, // the query string does not matter
 *   shouldCache: (response) => response.ok,
 * };
 * const handler = cached((request) => new Response(request.url), options);
 * await (await handler(new Request("http://localhost/a?utm=x"))).text();
 * const second = await handler(new Request("http://localhost/a?utm=y"));
 * assert.equal(await second.text(), "http://localhost/a?utm=x"); // the first one's response
 * ```
 */
export interface CachedOptions {
  /** The cache to keep responses in. */
  cache: StreamCache;
  /**
   * The cache key of a GET or HEAD request, or `undefined` to pass the
   * request through uncached. The default is the URL without its fragment:
   * the same for GET and HEAD, and for every request header (a response
   * with `Vary: Accept-Encoding` keeps a variant per normalised
   * `Accept-Encoding` under keys derived from this one). After an unsafe
   * request (POST, PUT, …) succeeds, the key that a GET of its URL with the
   * same headers would have is invalidated.
   */
  key?: (request: Request) => string | undefined;
  /**
   * Whether a handler's response may be stored. The default keeps `200`
   * responses without `Cache-Control: no-store`, `no-cache` or `private`,
   * `Set-Cookie`, or a `Vary` other than `Accept-Encoding`. Whatever it
   * says, `no-store`, `no-cache`
   * (without field names), 206 and 304 are never stored, nor `private` in a
   * shared cache. Responses that are not stored go to their requester
   * untouched.
   */
  shouldCache?: (response: Response, request: Request) => boolean;
  /**
   * Whether the cache is shared by users (RFC 9111): then a request with
   * credentials (`Authorization` or `Cookie`) is served from, and stored
   * into, the cache only by a response marked `public`, `s-maxage` or
   * `must-revalidate`, and `private` responses are never stored. Set it to
   * `false` only when `key` already separates users (a private cache).
   *
   * @default {true}
   */
  shared?: boolean;
  /**
   * Abort the handler's body when every client reading it has disconnected
   * before it finished: the entry then fails and is not cached. By default
   * the handler finishes and the entry is cached for the next request.
   *
   * @default {false}
   */
  abortWhenUnread?: boolean;
  /**
   * Called once per request, as soon as it is known how it is served: to
   * log, count or export metrics. Errors it throws are not caught.
   */
  onServe?: (event: ServeEvent) => void;
  /**
   * The freshness lifetime, in ms from its arrival, of a stored response
   * that gives none (no `s-maxage`, `max-age` nor `Expires`; heuristic
   * freshness is not computed). Without it, such a response is fresh as
   * long as the cache's own `ttl` and `maxAge` allow (forever, without
   * them). A response's own freshness always wins over it and over the
   * cache's `maxAge`.
   */
  defaultTtl?: number;
  /**
   * The targeted cache-control fields (RFC 9213) this cache obeys, first
   * match wins, e.g. `["cdn-cache-control"]` for a cache that acts as the
   * application's CDN. A response's first such field that holds a valid
   * directive replaces its `Cache-Control` and `Expires` for this cache:
   * freshness, stale windows, `no-store`, `no-cache` and `private`.
   *
   * @default {[]}
   */
  targets?: readonly string[];
}

/**
 * How one request was served: `miss` (its handler call made the entry),
 * `join` (it read an entry still being generated), `hit` (a complete, fresh
 * entry), `stale` (a stale entry, served at once within
 * `stale-while-revalidate` while one refresh runs, or within
 * `stale-if-error` because the refresh failed), `revalidated` (its
 * conditional request to the handler got a 304: the stored body, freshened),
 * `uncacheable` (the response was not storable and went through), or
 * `bypass` (the cache neither served nor stored it: another method, `key`
 * said so, credentials that the stored response may not serve, or a 504 for
 * `Cache-Control: only-if-cached`).
 *
 * @example Counting outcomes
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { ServeOutcome } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * const counts: Record<ServeOutcome, number> = {
 *   miss: 0, join: 0, hit: 0, stale: 0, revalidated: 0, uncacheable: 0, bypass: 0,
 * };
 * await using cache = new StreamCache();
 * const handler = cached(() => new Response("ok"), { cache, onServe: ({ outcome }) => counts[outcome]++ });
 * for (const method of ["GET", "GET", "POST"]) {
 *   await (await handler(new Request("http://localhost/", { method }))).text();
 * }
 * assert.deepEqual(counts, { miss: 1, join: 0, hit: 1, stale: 0, revalidated: 0, uncacheable: 0, bypass: 1 });
 * ```
 */
export type ServeOutcome =
  | "miss"
  | "join"
  | "hit"
  | "stale"
  | "revalidated"
  | "uncacheable"
  | "bypass";

/**
 * What {@linkcode CachedOptions.onServe} is told about a request.
 *
 * @example An onServe logger that collects outcomes
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { ServeEvent } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * const events: ServeEvent[] = [];
 * await using cache = new StreamCache();
 * const handler = cached(() => new Response("hello"), { cache, onServe: (event) => events.push(event) });
 * for (const method of ["GET", "GET", "DELETE"]) {
 *   await (await handler(new Request("http://localhost/", { method }))).text();
 * }
 * const lines = events.map(({ request, key, outcome }) => `${request.method} ${key ?? "-"} ${outcome}`);
 * assert.deepEqual(lines, ["GET http://localhost/ miss", "GET http://localhost/ hit", "DELETE - bypass"]);
 * assert.equal(events[1]?.entry, events[0]?.entry); // the hit read the entry the miss made
 * ```
 */
export interface ServeEvent {
  /** The request. */
  readonly request: Request;
  /** Its cache key, unless it bypassed the cache. */
  readonly key: string | undefined;
  /** How it was served. */
  readonly outcome: ServeOutcome;
  /** The entry it was served from, for `miss`, `join`, `hit`, `stale` and `revalidated`. */
  readonly entry: Entry | undefined;
}

/**
 * Wraps a fetch-style handler so its responses are generated once and
 * streamed to every request for the same URL, also while being generated:
 * a shared HTTP cache (RFC 9111) in front of the handler.
 *
 * GET and HEAD are cached under one key. The handler runs once per missing
 * key, with a GET of its own: the first client's headers without `Range` or
 * conditional headers, and an abort signal of its own (SEMANTICS rule 20).
 * The status and end-to-end headers are stored as the entry's metadata and
 * the body as its bytes. Each response keeps the handler's `Date` (else
 * gets the time it is sent), gets an `Age` when it was not made for this
 * request, an `ETag` from the first byte on (the handler's own, else a
 * strong one from the entry's id, unique to each generation) and a
 * `Last-Modified` (the handler's, else its `Date`, else the creation time).
 * The cache answers the preconditions of RFC 9110 section 13 (304, 412) and
 * a single `Range` (206, 416), also while the entry is still written;
 * several ranges get the whole body. `Cache-Control: only-if-cached` gets
 * 504 unless the entry is complete. A non-error response to another method
 * invalidates the URL's entry.
 *
 * A client that disconnects cancels only its own body. If the handler
 * throws, every waiting request rejects with its error (servers answer 500);
 * if its body errors, every client's body breaks. Either way nothing is
 * cached. A handler's body that ends short of its `Content-Length`, or that
 * was already read, fails too.
 *
 * @example Caching generated downloads
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * let runs = 0;
 * const handler = cached((request) => {
 *   runs++;
 *   return new Response(`report for ${new URL(request.url).pathname}`);
 * }, { cache });
 *
 * const first = await handler(new Request("http://localhost/q3"));
 * const second = await handler(new Request("http://localhost/q3", { headers: { range: "bytes=0-5" } }));
 * assert.equal(await first.text(), "report for /q3");
 * assert.equal(second.status, 206);
 * assert.equal(await second.text(), "report");
 * assert.equal(runs, 1);
 * ```
 *
 * @param handler Makes responses; runs once per missing key.
 * @param options The cache, and how to key and filter.
 * @returns A handler that serves from the cache.
 */
export function cached(
  handler: Handler,
  options: CachedOptions,
): (request: Request) => Promise<Response> {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot wrap handler: handler must be a function: received ${
        describeValue(handler)
      }`,
    );
  }
  const {
    cache,
    key = defaultKey,
    shared = true,
    abortWhenUnread = false,
    onServe,
    defaultTtl,
    targets = [],
  } = options ?? {};
  if (typeof cache?.getOrCreate !== "function") {
    throw new TypeError(
      `Cannot wrap handler: cache must be a StreamCache: received ${
        describeValue(cache)
      }`,
    );
  }
  if (defaultTtl !== undefined && typeof defaultTtl !== "number") {
    throw new TypeError(
      `Cannot wrap handler: defaultTtl must be a number: received ${
        describeValue(defaultTtl)
      }`,
    );
  }
  if (defaultTtl !== undefined && !(defaultTtl >= 0)) {
    throw new RangeError(
      `Cannot wrap handler: defaultTtl must be a non-negative number of milliseconds: received ${defaultTtl}`,
    );
  }
  if (
    !Array.isArray(targets) ||
    !targets.every((name) => typeof name === "string")
  ) {
    throw new TypeError(
      `Cannot wrap handler: targets must be an array of field names: received ${
        describeValue(targets)
      }`,
    );
  }
  const targeted = targets.map((name) => name.toLowerCase());
  const shouldCache = options.shouldCache ??
    ((response: Response) => isCacheable(response, targeted));
  const watch = abortWhenUnread ? new UnreadWatch() : undefined;
  const clock = () => cache.now();
  const productions = {
    cache,
    handler,
    shouldCache,
    shared,
    defaultTtl,
    targets: targeted,
  };

  /** RFC 9111 4.4: a non-error response to an unsafe method invalidates. */
  async function invalidate(request: Request, response: Response) {
    for (const url of invalidatedUrls(request, response)) {
      const stale = key(new Request(url, { headers: request.headers }));
      if (stale !== undefined) await cache.delete(stale);
    }
  }

  return async (request) => {
    const cacheKey = request.method === "GET" || request.method === "HEAD"
      ? key(request)
      : undefined;
    const report = (outcome: ServeOutcome, entry?: Entry) =>
      onServe?.({ request, key: cacheKey, outcome, entry });
    if (cacheKey === undefined) {
      report("bypass");
      const response = await handler(request);
      await invalidate(request, response);
      return response;
    }
    // RFC 9111 3.5, SEMANTICS rule 20.
    const credentialed = shared && hasCredentials(request);
    const mayServe = (entry: Entry) =>
      !credentialed ||
      sharedWithCredentials(storedField(entry, "cache-control"));
    const variant = acceptEncodingVariant(
      request.headers.get("accept-encoding"),
    );
    /** The key of this request's variant, if `entry` is another one. */
    const otherVariant = (entry: Entry) => {
      const stored = (entry.meta as HttpMeta | undefined)?.variant;
      return stored === undefined || stored === variant
        ? undefined
        : variantKey(cacheKey, entry.id, variant);
    };

    const control = parseCacheControl(request.headers.get("cache-control"));
    if (control.has("only-if-cached")) {
      // RFC 9111 5.2.1.7: a complete stored response, or 504.
      let entry = await cache.get(cacheKey);
      const other = entry && otherVariant(entry);
      if (other !== undefined) entry = await cache.get(other);
      if (!entry?.complete || !mayServe(entry)) {
        report("bypass");
        return new Response(null, {
          status: 504,
          headers: { date: formatHttpDate(clock()) },
        });
      }
      report("hit", entry);
      const lease = watch?.admit(entry) ?? NO_LEASE;
      return await respond({ entry, request, produced: false, lease, clock });
    }

    const mine: Production[] = [];
    /** Gets the entry of `key`, making or refreshing it with this request. */
    const serve = async (key: string) => {
      const production = new Production(
        productions,
        request,
        key,
        credentialed,
      );
      mine.push(production);
      const status: CacheStatus = {};
      const entry = await cache.getOrCreate(key, production.produce, {
        status,
      });
      if (status.outcome === "stale") production.detach();
      const outcome: ServeOutcome = status.outcome === "miss"
        ? production.revalidated ? "revalidated" : "miss"
        : status.outcome!;
      return { entry, outcome, production };
    };
    let served: Awaited<ReturnType<typeof serve>>;
    try {
      served = await serve(cacheKey);
      // RFC 9111 4.1: a response that varies by Accept-Encoding serves
      // requests with the same one; others get their own variant.
      const other = otherVariant(served.entry);
      if (other !== undefined) served = await serve(other);
    } catch (error) {
      if (!(error instanceof Uncacheable)) throw error;
      report("uncacheable");
      // The requester whose handler call made it gets that response; requests
      // that waited for it make their own.
      const own = mine.some((production) => production.refused === error);
      if (!own) return await handler(request);
      return passThrough(error.response, request);
    }
    const { entry, outcome, production } = served;
    const produced = outcome === "miss" || outcome === "revalidated";
    if (!produced && !mayServe(entry)) {
      // Another user's response, not marked as shareable: not for this one.
      report("bypass");
      return await handler(request);
    }
    if (outcome === "miss" && production.stop) {
      watch?.register(entry, production.stop);
    }
    report(outcome, entry);
    const lease = watch?.admit(entry) ?? NO_LEASE;
    return await respond({
      entry,
      request,
      produced,
      lease,
      unshared: produced ? production.unshared : [],
      clock,
    });
  };
}

function defaultKey(request: Request): string {
  const url = new URL(request.url);
  url.hash = "";
  return url.href;
}

/** A field of the response stored in `entry`, as Headers.get gives it. */
function storedField(entry: Entry, name: string): string | null {
  return new Headers(readMeta(entry).headers as [string, string][]).get(name);
}

/** A response the cache does not store, for the request it was made for. */
function passThrough(response: Response, request: Request): Response {
  if (request.method !== "HEAD") return response;
  response.body?.cancel().catch(() => {});
  const length = response.headers.get("content-length");
  const body = length === null && response.body ? headBody(never) : null;
  return new Response(body, response);
}

/** A promise that never settles. */
const never = new Promise<never>(() => {});
