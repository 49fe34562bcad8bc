/**
 * The `Cache-Status` header (RFC 9211) the download server adds to each
 * response: how its cache handled the request.
 *
 * | outcome       | `Cache-Status`                                   |
 * | ------------- | ------------------------------------------------ |
 * | `hit`         | `streamcache; hit`                               |
 * | `stale`       | `streamcache; hit; detail=stale`                 |
 * | `revalidated` | `streamcache; fwd=stale; fwd-status=304`         |
 * | `miss`        | `streamcache; fwd=miss` (this request generated) |
 * | `join`        | `streamcache; fwd=miss; collapsed`               |
 * | `uncacheable` | `streamcache; fwd=miss; detail=uncacheable`      |
 * | anything else | `streamcache; fwd=bypass`                        |
 *
 * A join is a miss whose request was collapsed into the generation another
 * request started (RFC 9211 §2.7): it reads that generation's response.
 * Pages, `/stats` and refused requests never reach the cache: `fwd=bypass`.
 *
 * @module
 */

import type { ServeOutcome } from "../../src/http/mod.ts";

/** The cache's name in the header: the first member of its list. */
export const CACHE_NAME = "streamcache";

/**
 * The `Cache-Status` value for a request the cache served as `outcome`.
 *
 * @param outcome How the cache served the request, or `undefined` if it did not see it.
 * @returns The header's value.
 */
export function cacheStatus(outcome: ServeOutcome | undefined): string {
  switch (outcome) {
    case "hit":
      return `${CACHE_NAME}; hit`;
    case "stale":
      // Served stored, past its freshness (stale-while-revalidate/-if-error).
      return `${CACHE_NAME}; hit; detail=stale`;
    case "revalidated":
      return `${CACHE_NAME}; fwd=stale; fwd-status=304`; // RFC 9211 §2.2
    case "miss":
      return `${CACHE_NAME}; fwd=miss`;
    case "join":
      return `${CACHE_NAME}; fwd=miss; collapsed`;
    case "uncacheable":
      return `${CACHE_NAME}; fwd=miss; detail=uncacheable`;
    default:
      return `${CACHE_NAME}; fwd=bypass`;
  }
}
