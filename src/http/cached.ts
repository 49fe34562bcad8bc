/**
 * A fetch-style wrapper that caches a handler's responses in a
 * {@linkcode StreamCache}.
 *
 * @module
 */

import type { Entry } from "../entry.ts";
import type { StreamCache } from "../stream_cache.ts";
import { describeValue } from "../_validate.ts";
import { isCacheable, toMeta } from "./_policy.ts";
import { type BodyWatch, respond } from "./_respond.ts";

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
   * The cache key of a request, or `undefined` to pass the request through
   * uncached. The default is the URL without its fragment: the same for GET
   * and HEAD, and for every request header (`Vary` is not supported).
   */
  key?: (request: Request) => string | undefined;
  /**
   * Whether a handler's response may be stored. The default keeps `200`
   * responses without `Cache-Control: no-store` or `private`, `Set-Cookie`
   * or `Vary`. Responses that fail it go to their requester untouched and are
   * never stored.
   */
  shouldCache?: (response: Response, request: Request) => boolean;
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
}

/**
 * How one request was served: `miss` (its handler call made the entry),
 * `join` (it read an entry still being generated), `hit` (a complete entry),
 * `uncacheable` (the response was not storable and went through), or
 * `bypass` (not a cacheable request: another method, or `key` said so).
 *
 * @example Counting outcomes
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { ServeOutcome } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * const counts: Record<ServeOutcome, number> = {
 *   miss: 0, join: 0, hit: 0, uncacheable: 0, bypass: 0,
 * };
 * await using cache = new StreamCache();
 * const handler = cached(() => new Response("ok"), { cache, onServe: ({ outcome }) => counts[outcome]++ });
 * for (const method of ["GET", "GET", "POST"]) {
 *   await (await handler(new Request("http://localhost/", { method }))).text();
 * }
 * assert.deepEqual(counts, { miss: 1, join: 0, hit: 1, uncacheable: 0, bypass: 1 });
 * ```
 */
export type ServeOutcome = "miss" | "join" | "hit" | "uncacheable" | "bypass";

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
  /** The entry it was served from, for `miss`, `join` and `hit`. */
  readonly entry: Entry | undefined;
}

/** The reason a producer stops when `abortWhenUnread` applies. */
const UNREAD = "every client reading this response disconnected";

/** Thrown out of the producer to hand an uncacheable response to its requester. */
class Uncacheable {
  readonly response: Response;
  constructor(response: Response) {
    this.response = response;
  }
}

/**
 * Wraps a fetch-style handler so its responses are generated once and
 * streamed to every request for the same URL, also while being generated.
 *
 * Only GET and HEAD requests are cached; the status and end-to-end headers
 * are stored as the entry's metadata and the body as its bytes. Responses
 * from the cache carry `Accept-Ranges: bytes`, `Content-Length` whenever the
 * length is known, and a strong `ETag` once complete. They answer
 * `If-None-Match` (304), `If-Range`, and a single `Range` (206, or 416), also
 * while the entry is still written. A request with several ranges gets the
 * whole body (200).
 *
 * A client that disconnects cancels only its own body. If the handler
 * throws, every waiting request rejects with its error (servers answer 500);
 * if its body errors, every client's body breaks. Either way nothing is
 * cached. A handler's body that ends short of its `Content-Length` fails too.
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
    shouldCache = isCacheable,
    abortWhenUnread = false,
    onServe,
  } = options ?? {};
  if (typeof cache?.getOrCreate !== "function") {
    throw new TypeError(
      `Cannot wrap handler: cache must be a StreamCache: received ${
        describeValue(cache)
      }`,
    );
  }
  /** How to stop the production of an entry still written, for abortWhenUnread. */
  const stoppers = new WeakMap<Entry, (reason: unknown) => void>();
  const readers = new WeakMap<Entry, number>();

  return async (request) => {
    const cacheKey = request.method === "GET" || request.method === "HEAD"
      ? key(request)
      : undefined;
    const report = (outcome: ServeOutcome, entry?: Entry) =>
      onServe?.({ request, key: cacheKey, outcome, entry });
    if (cacheKey === undefined) {
      report("bypass");
      return await handler(request);
    }

    let produced = false;
    let stop: ((reason: unknown) => void) | undefined;
    let entry: Entry;
    try {
      entry = await cache.getOrCreate(cacheKey, async ({ signal }) => {
        produced = true;
        // The handler sees a request of its own, not the first client's: that
        // client disconnecting must not abort what others are reading.
        const upstream = await handler(
          new Request(request.url, {
            method: "GET",
            headers: request.headers,
            signal,
          }),
        );
        if (!(upstream instanceof Response)) {
          throw new TypeError(
            `The handler must return a Response: received ${
              describeValue(upstream)
            }`,
          );
        }
        if (!shouldCache(upstream, request)) throw new Uncacheable(upstream);
        const meta = toMeta(upstream);
        const checked = checkLength(upstream.body, meta.length);
        stop = checked.stop;
        return { body: checked.body, meta };
      });
    } catch (error) {
      if (!(error instanceof Uncacheable)) throw error;
      report("uncacheable");
      // The requester whose handler call made it gets that response; requests
      // that waited for it make their own.
      if (!produced) return await handler(request);
      if (request.method !== "HEAD") return error.response;
      await error.response.body?.cancel();
      return new Response(null, error.response);
    }
    if (stop && entry.state === "writing") stoppers.set(entry, stop);
    report(produced ? "miss" : entry.complete ? "hit" : "join", entry);
    return await respond(
      entry,
      request,
      abortWhenUnread ? watch(entry, readers, stoppers) : undefined,
    );
  };
}

function defaultKey(request: Request): string {
  const url = new URL(request.url);
  url.hash = "";
  return url.href;
}

/** Counts an entry's open response bodies, and stops its production when the last is cancelled. */
function watch(
  entry: Entry,
  readers: WeakMap<Entry, number>,
  stoppers: WeakMap<Entry, (reason: unknown) => void>,
): BodyWatch {
  return {
    opened: () => readers.set(entry, (readers.get(entry) ?? 0) + 1),
    closed(cancelled) {
      const left = (readers.get(entry) ?? 1) - 1;
      readers.set(entry, left);
      if (cancelled && left === 0 && entry.state === "writing") {
        stoppers.get(entry)?.(new DOMException(UNREAD, "AbortError"));
      }
    },
  };
}

/**
 * Passes a handler's body through, failing it if it ends short of (or runs
 * past) the length its response declared, and lets the wrapper stop it.
 */
function checkLength(
  body: ReadableStream<Uint8Array> | null,
  declared: number | undefined,
): { body: ReadableStream<Uint8Array>; stop: (reason: unknown) => void } {
  let count = 0;
  let controller!: TransformStreamDefaultController<Uint8Array>;
  const check = new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
    },
    transform(chunk, c) {
      count += chunk.byteLength;
      if (declared !== undefined && count > declared) {
        throw new RangeError(
          `The handler's body ran past its Content-Length of ${declared} bytes`,
        );
      }
      c.enqueue(chunk);
    },
    flush() {
      if (declared !== undefined && count !== declared) {
        throw new RangeError(
          `The handler's body ended at ${count} bytes, short of its Content-Length of ${declared}`,
        );
      }
    },
  });
  const source = body ??
    new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  source.pipeTo(check.writable).catch(() => {}); // failures reach the readable side
  return { body: check.readable, stop: (reason) => controller.error(reason) };
}
