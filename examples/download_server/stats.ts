/**
 * What `/stats` shows: the cache's counters (`cache.stats()`), what only the
 * server counts (refused requests, generations), and the cache's bounds; and
 * the entries the index page lists.
 *
 * @module
 */

import type { CacheStats, EntryState, StreamCache } from "../../mod.ts";
import { parseDownload } from "./params.ts";

/** One cache entry as the index page shows it. */
export interface EntryInfo {
  /** The cache key: `/downloads/<name>?size=<bytes>`. */
  readonly key: string;
  /** Bytes stored so far. */
  readonly size: number;
  /** `writing` while it is generated, then `complete`. */
  readonly state: EntryState;
}

/** The bounds the server's cache was made with, as `/stats` shows them. */
export interface CacheLimits {
  /** The byte budget (`--max-bytes`); absent if unbounded. */
  readonly maxBytes?: number;
  /** Idle time in ms after which an entry expires (`--ttl`); absent if none. */
  readonly ttl?: number;
}

/**
 * The body of `/stats`: the cache's own counters ({@linkcode CacheStats}:
 * `entries`, `bytes`, `pinnedBytes`, `inProgress`, `hits`, `misses`, `joins`,
 * `stale`, `failures`, `evictions` by reason), what only the server knows,
 * and the cache's bounds.
 */
export interface StatsSnapshot extends CacheStats {
  /** Requests whose response was not storable and went straight through. */
  readonly uncacheable: number;
  /** Download requests refused with 400 (nothing cached). */
  readonly rejected: number;
  /**
   * Generations started, completed (and kept: an `evict` with reason
   * `oversize` is neither) and failed.
   */
  readonly generations: {
    readonly started: number;
    readonly completed: number;
    readonly failed: number;
  };
  /** The cache's bounds. */
  readonly limits: CacheLimits;
  /** Seconds since the server started. */
  readonly uptime: number;
}

/** The server's counters: what the cache itself does not count. */
export class ServerStats {
  readonly #started = performance.now();
  #uncacheable = 0;
  #rejected = 0;
  readonly #generations = { started: 0, completed: 0, failed: 0 };

  /** Counts a request whose response the cache could not keep. */
  uncacheable(): void {
    this.#uncacheable++;
  }

  /** Counts a download request refused for bad parameters. */
  rejected(): void {
    this.#rejected++;
  }

  /** Counts a generation's start or end. */
  generation(event: "started" | "completed" | "failed"): void {
    this.#generations[event]++;
  }

  /**
   * The counters, with the cache's.
   *
   * @param cache The server's cache.
   * @param limits The bounds it was made with.
   * @returns The body of `/stats`.
   */
  snapshot(cache: StreamCache, limits: CacheLimits = {}): StatsSnapshot {
    return {
      ...cache.stats(),
      uncacheable: this.#uncacheable,
      rejected: this.#rejected,
      generations: { ...this.#generations },
      limits,
      uptime: Math.round(performance.now() - this.#started) / 1000,
    };
  }
}

/**
 * Every entry of `cache`, complete or being generated, sorted by key,
 * without touching any: `keys()` is not an access, where `get()` is one. A
 * listing by `get()` would count a hit per entry and make every entry the
 * most recently used, so that a look at the index page kept the whole cache
 * from expiring. A complete entry's size is its key's `size` (a report is
 * exactly that long); an entry being generated has its bytes so far.
 *
 * @param cache The server's cache.
 * @param generated The bytes generated so far of a key being generated, or
 *   `undefined` if it is not.
 * @returns One {@linkcode EntryInfo} per entry.
 */
export async function listEntries(
  cache: StreamCache,
  generated: (key: string) => number | undefined,
): Promise<EntryInfo[]> {
  const entries: EntryInfo[] = [];
  for await (const key of cache.keys()) {
    const writing = generated(key);
    if (writing !== undefined) {
      entries.push({ key, size: writing, state: "writing" });
      continue;
    }
    const parsed = parseDownload(new URL(key, "http://localhost"));
    if (parsed.ok) {
      entries.push({ key, size: parsed.download.size, state: "complete" });
    }
  }
  return entries.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
