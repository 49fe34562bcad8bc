// What the HTTP wrapper stores of a response, and what it does not.

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
 * const json = () => new Response("{}", { headers: { "content-type": "application/json" } });
 * await (await cached(json, { cache })(new Request("http://localhost/data.json"))).text();
 * const meta = (await cache.get("http://localhost/data.json"))?.meta as HttpMeta | undefined;
 * assert.equal(meta?.status, 200);
 * assert.deepEqual(meta?.headers, [["content-type", "application/json"]]);
 * ```
 */
export type HttpMeta = {
  /** The response status. */
  readonly status: number;
  /** The response status text. */
  readonly statusText: string;
  /** The end-to-end response headers, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** The body's length, if the handler's response declared it (Content-Length). */
  readonly length?: number;
};

/** Headers that describe one connection or one message, never the stored representation. */
const NOT_STORED = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length", // recomputed for each response
  "content-range",
  "accept-ranges",
  "etag", // the cache's own validator replaces the handler's
]);

/** The metadata to store for a cacheable response. */
export function toMeta(response: Response): HttpMeta {
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (!NOT_STORED.has(name)) headers.push([name, value]);
  });
  const declared = Number(response.headers.get("content-length") ?? NaN);
  return {
    status: response.status,
    statusText: response.statusText,
    headers,
    ...(Number.isSafeInteger(declared) && declared >= 0
      ? { length: declared }
      : {}),
  };
}

/**
 * The default cacheability test: a 200 response that may be stored in a
 * shared cache (no `Cache-Control: no-store` or `private`), sets no cookie,
 * and does not vary by request headers (`Vary` is not supported: such
 * responses pass through, unless `key` and `shouldCache` say otherwise).
 */
export function isCacheable(response: Response): boolean {
  if (response.status !== 200) return false;
  const control = response.headers.get("cache-control") ?? "";
  if (/(^|,)\s*(no-store|private)\s*(=|,|$)/i.test(control)) return false;
  if (response.headers.has("set-cookie")) return false;
  return (response.headers.get("vary") ?? "").trim() === "";
}

/** Whether an If-None-Match header matches `etag` (weak comparison, RFC 9110 13.1.2). */
export function noneMatch(header: string, etag: string): boolean {
  const bare = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) =>
    tag.trim() === "*" || bare(tag) === bare(etag)
  );
}
