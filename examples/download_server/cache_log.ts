/**
 * One log line per event of the cache (`commit`, `fail`, `evict`,
 * `overbudget`), beside the request lines of access_log.ts:
 *
 * ```text
 * stored /downloads/q3.csv?size=1048576 1048576 B in 4.00 s
 * failed /downloads/q3.csv?size=1048576 after 1.20 s: The cache is closed
 * evicted /downloads/old.csv?size=1048576 1048576 B (bytes)
 * over budget: 3145728 B held, 2097152 B of them being read or written; budget 1048576 B
 * ```
 *
 * `evicted` gives the reason: `bytes` or `entries` (the budget), `ttl` (idle
 * too long), `maxAge`, or `oversize` (larger than the budget: it streamed to
 * its clients but was not kept). `over budget` is said once until the cache
 * is within its budget again: the entries being downloaded or generated
 * alone exceed it, and none of them is evicted while in use.
 *
 * @module
 */

import type { CacheEvent } from "../../mod.ts";
import type { CacheLimits } from "./stats.ts";

/** What the line of an event needs besides the event. */
export interface CacheEventContext {
  /** When the generation of the event's key started (`performance.now()`), if it did here. */
  readonly since?: number | undefined;
  /** The cache's bounds. */
  readonly limits?: CacheLimits;
}

/**
 * Formats the log line of a cache event.
 *
 * @param event The event.
 * @param context When its generation started, and the budget.
 * @returns The line, without a newline.
 */
export function formatCacheEvent(
  event: CacheEvent,
  context: CacheEventContext = {},
): string {
  const { key, size } = event;
  switch (event.type) {
    case "commit":
      return `stored ${key} ${size} B in ${elapsed(context.since)}`;
    case "fail": {
      const after = context.since === undefined
        ? ""
        : ` after ${elapsed(context.since)}`;
      return `failed ${key}${after}: ${message(event.error)}`;
    }
    case "evict":
      return `evicted ${key} ${size} B (${event.reason})`;
    default: {
      const budget = context.limits?.maxBytes;
      return `over budget: ${event.bytes} B held, ${event.pinnedBytes} B of them being read or written` +
        (budget === undefined ? "" : `; budget ${budget} B`);
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function elapsed(since: number | undefined): string {
  if (since === undefined) return "?";
  const ms = performance.now() - since;
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
