// What the HTTP wrapper stores of a response (the entry's metadata), and
// reading it back.

import type { Entry } from "../entry.ts";
import { quoteKey } from "../_validate.ts";
import { listedFields, parseCacheControl } from "./_cache_control.ts";
import { initialAge } from "./_age.ts";

/**
 * The metadata the HTTP wrapper stores with each cached body (a JSON object).
 *
 * @example Reading what was stored of a response
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { cached } from "@streamcache/streamcache/http";
 * import type { HttpMeta } from "@streamcache/streamcache/http";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const json = () =>
 *   new Response("{}", {
 *     headers: { "content-type": "application/json", "last-modified": "Tue, 01 Apr 2025 10:00:00 GMT" },
 *   });
 * await (await cached(json, { cache })(new Request("http://localhost/data.json"))).text();
 * const meta = (await cache.get("http://localhost/data.json"))?.meta as HttpMeta | undefined;
 * assert.equal(meta?.status, 200);
 * assert.deepEqual(meta?.headers, [
 *   ["content-type", "application/json"],
 *   ["last-modified", "Tue, 01 Apr 2025 10:00:00 GMT"],
 * ]);
 * assert.equal(typeof meta?.created, "number");
 * ```
 */
export type HttpMeta = {
  /** The response status. */
  readonly status: number;
  /** The response status text. */
  readonly statusText: string;
  /**
   * The handler's end-to-end response headers, in order. Not stored: hop-by-hop headers and
   * those `Connection` names, `Content-Length`, `Age`, and fields that
   * `Cache-Control: no-cache="…"` or `private="…"` lists. A `Date` is kept
   * only if the handler sent one.
   */
  readonly headers: readonly (readonly [string, string])[];
  /** The body's length, if the handler's response declared it (Content-Length). */
  readonly length?: number;
  /**
   * When the handler's response arrived, in ms since the epoch: the
   * `Last-Modified` of a response that has neither that nor a `Date`.
   */
  readonly created?: number;
  /**
   * The age the response already had then, in seconds (RFC 9111 4.2.3:
   * its `Age`, or how far its `Date` lay in the past), if more than 0.
   */
  readonly age?: number;
  /**
   * For a response that varies by `Accept-Encoding` alone: the normalised
   * `Accept-Encoding` of the request it was made for (`""` for none). A
   * request with another one is served the variant made for it.
   */
  readonly variant?: string;
};

/** Headers that describe one connection or one message, never the stored representation. */
const NOT_STORED = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authentication-info",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length", // recomputed for each response
  "accept-ranges", // the cache's own
  "age", // recomputed for each response (RFC 9111 5.1)
]);

/** What to store of a response, and the headers only its own requester may see. */
export interface Stored {
  readonly meta: HttpMeta;
  /** Headers that `no-cache="…"` or `private="…"` keeps out of the store. */
  readonly unshared: readonly (readonly [string, string])[];
}

/**
 * The metadata to store for a cacheable response that arrived at `now`
 * (the cache's clock), made for a request of Accept-Encoding `variant` if it
 * varies by that.
 */
export function toMeta(
  response: Response,
  now: number,
  variant?: string,
): Stored {
  const skip = new Set(NOT_STORED);
  // RFC 9110 7.6.1: the fields Connection names are hop-by-hop too.
  for (const name of (response.headers.get("connection") ?? "").split(",")) {
    skip.add(name.trim().toLowerCase());
  }
  const control = parseCacheControl(response.headers.get("cache-control"));
  const unsharedNames = new Set([
    ...listedFields(control.get("no-cache")), // RFC 9111 5.2.2.4
    ...listedFields(control.get("private")), // RFC 9111 5.2.2.7
  ]);
  const headers: [string, string][] = [];
  const unshared: [string, string][] = [];
  // Iteration yields each Set-Cookie on its own, and other fields combined.
  response.headers.forEach((value, name) => {
    if (unsharedNames.has(name)) unshared.push([name, value]);
    else if (!skip.has(name)) headers.push([name, value]);
  });
  const declared = Number(response.headers.get("content-length") ?? NaN);
  const age = initialAge(response.headers, now);
  return {
    meta: {
      status: response.status,
      statusText: response.statusText,
      headers,
      ...(Number.isSafeInteger(declared) && declared >= 0
        ? { length: declared }
        : {}),
      created: now,
      ...(age > 0 ? { age } : {}),
      ...(variant !== undefined ? { variant } : {}),
    },
    unshared,
  };
}

/** An entry's metadata, checked: it must have been written by {@linkcode toMeta}. */
export function readMeta(entry: Entry): HttpMeta {
  const meta = entry.meta as HttpMeta | undefined;
  if (typeof meta?.status !== "number" || !Array.isArray(meta.headers)) {
    // The key's entry was made by other code sharing this cache.
    throw new TypeError(
      `Cannot serve entry ${
        quoteKey(entry.key)
      }: its metadata was not written by cached()`,
    );
  }
  return meta;
}
