/**
 * What the server counts (requests by outcome, generations) and what its
 * cache holds, for `/stats` and the index page.
 *
 * @module
 */

import type { EntryState, StreamCache } from "../../mod.ts";
import type { ServeOutcome } from "../../src/http/mod.ts";

/** One cache entry as the index page and `/stats` show it. */
export interface EntryInfo {
  /** The cache key: `/downloads/<name>?size=<bytes>`. */
  readonly key: string;
  /** Bytes stored so far. */
  readonly size: number;
  /** `writing` while it is generated, then `complete`. */
  readonly state: EntryState;
}

/** The body of `/stats`. */
export interface StatsSnapshot {
  /** Requests whose generation made the entry. */
  readonly misses: number;
  /** Requests that read an entry still being generated. */
  readonly joins: number;
  /** Requests served from a complete entry. */
  readonly hits: number;
  /** Requests whose response was not storable and went straight through. */
  readonly uncacheable: number;
  /** Download requests refused with 400 (nothing cached). */
  readonly rejected: number;
  /** Generations started, completed (stored) and failed. */
  readonly generations: {
    readonly started: number;
    readonly completed: number;
    readonly failed: number;
  };
  /** Entries in the cache, complete or in progress. */
  readonly entries: number;
  /** Entries still being generated. */
  readonly inProgress: number;
  /** Bytes stored in all entries. */
  readonly bytes: number;
  /** Seconds since the server started. */
  readonly uptime: number;
}

/** The server's counters. */
export class ServerStats {
  readonly #started = performance.now();
  readonly #outcomes: Record<ServeOutcome, number> = {
    miss: 0,
    join: 0,
    hit: 0,
    uncacheable: 0,
    bypass: 0,
  };
  #rejected = 0;
  readonly #generations = { started: 0, completed: 0, failed: 0 };

  /** Counts a request the cache served. */
  served(outcome: ServeOutcome): void {
    this.#outcomes[outcome]++;
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
   * The counters, and a summary of what `cache` holds now.
   *
   * @param cache The server's cache.
   * @returns The body of `/stats`.
   */
  async snapshot(cache: StreamCache): Promise<StatsSnapshot> {
    const entries = await listEntries(cache);
    return {
      misses: this.#outcomes.miss,
      joins: this.#outcomes.join,
      hits: this.#outcomes.hit,
      uncacheable: this.#outcomes.uncacheable,
      rejected: this.#rejected,
      generations: { ...this.#generations },
      entries: entries.length,
      inProgress: entries.filter((e) => e.state === "writing").length,
      bytes: entries.reduce((sum, e) => sum + e.size, 0),
      uptime: Math.round(performance.now() - this.#started) / 1000,
    };
  }
}

/**
 * Every entry of `cache`, complete or in progress, sorted by key.
 *
 * @param cache The server's cache.
 * @returns One {@linkcode EntryInfo} per entry.
 */
export async function listEntries(cache: StreamCache): Promise<EntryInfo[]> {
  const entries: EntryInfo[] = [];
  for await (const key of cache.keys()) {
    const entry = await cache.get(key);
    // Gone since it was listed (failed or deleted): not an entry any more.
    if (entry && entry.state !== "failed") {
      entries.push({ key, size: entry.size, state: entry.state });
    }
  }
  return entries.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
