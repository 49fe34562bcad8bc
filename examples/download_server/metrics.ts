/**
 * `/metrics`: the numbers of `/stats` in the Prometheus text exposition
 * format, written by `prom-client` (a dependency of this example only, never
 * of the library). Nothing polls: each scrape reads a snapshot
 * ({@linkcode StatsSnapshot}, from `cache.stats()`) and sets the metrics
 * from it.
 *
 * | metric                                        | type    | what                                                |
 * | --------------------------------------------- | ------- | --------------------------------------------------- |
 * | `streamcache_entries`                         | gauge   | complete entries                                    |
 * | `streamcache_entries_in_progress`             | gauge   | entries being generated                             |
 * | `streamcache_bytes`                           | gauge   | body bytes held (in progress and still read too)    |
 * | `streamcache_pinned_bytes`                    | gauge   | the part of it being read or written                |
 * | `streamcache_max_bytes`                       | gauge   | the byte budget (`--max-bytes`), if there is one    |
 * | `streamcache_ttl_seconds`                     | gauge   | the idle time after which entries expire (`--ttl`)  |
 * | `streamcache_lookups_total{outcome}`          | counter | `hit`, `miss`, `join`, `stale`                      |
 * | `streamcache_evictions_total{reason}`         | counter | `bytes`, `entries`, `ttl`, `maxAge`, `oversize`     |
 * | `streamcache_failures_total`                  | counter | entries that failed                                 |
 * | `download_generations_total{event}`           | counter | `started`, `completed`, `failed`                    |
 * | `download_requests_rejected_total`            | counter | download requests refused with 400                  |
 *
 * @module
 */

import { Counter, Gauge, Registry } from "prom-client";
import type { EvictionReason } from "../../mod.ts";
import type { CacheLimits, StatsSnapshot } from "./stats.ts";

/** The Prometheus view of the server. */
export interface Metrics {
  /** The `Content-Type` of {@linkcode Metrics.text}. */
  readonly contentType: string;
  /**
   * The metrics now, in the text exposition format.
   *
   * @param snapshot What `/stats` would show now.
   */
  text(snapshot: StatsSnapshot): Promise<string>;
}

const OUTCOMES = ["hit", "miss", "join", "stale"] as const;
const REASONS: readonly EvictionReason[] = [
  "bytes",
  "entries",
  "ttl",
  "maxAge",
  "oversize",
];
const GENERATION_EVENTS = ["started", "completed", "failed"] as const;

/**
 * Creates the server's metrics, in a registry of their own (not
 * prom-client's global one, so that two apps in one process do not clash).
 *
 * @param limits The cache's bounds, exported as gauges (those given).
 * @returns The metrics.
 */
export function createMetrics(limits: CacheLimits = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, registers });
  const entries = gauge("streamcache_entries", "Complete entries.");
  const inProgress = gauge(
    "streamcache_entries_in_progress",
    "Entries being generated.",
  );
  const bytes = gauge(
    "streamcache_bytes",
    "Body bytes held: complete entries, entries being generated, and evicted entries still being read.",
  );
  const pinned = gauge(
    "streamcache_pinned_bytes",
    "The part of streamcache_bytes in entries being read or written, which no eviction touches.",
  );
  // The bounds do not change: set once, and only those the cache has.
  if (limits.maxBytes !== undefined) {
    gauge("streamcache_max_bytes", "The byte budget (--max-bytes).")
      .set(limits.maxBytes);
  }
  if (limits.ttl !== undefined) {
    gauge(
      "streamcache_ttl_seconds",
      "Idle time after which an entry expires (--ttl).",
    ).set(limits.ttl / 1000);
  }
  const lookups = new Counter({
    name: "streamcache_lookups_total",
    help:
      "Cache lookups by outcome: hit (complete entry), miss (generated), join (read while generated), stale.",
    labelNames: ["outcome"],
    registers,
  });
  const evictions = new Counter({
    name: "streamcache_evictions_total",
    help:
      "Entries that left by themselves, by reason: bytes, entries (the budget), ttl, maxAge, oversize.",
    labelNames: ["reason"],
    registers,
  });
  const failures = new Counter({
    name: "streamcache_failures_total",
    help: "Entries that failed.",
    registers,
  });
  const generations = new Counter({
    name: "download_generations_total",
    help: "Report generations started, completed (and kept), failed.",
    labelNames: ["event"],
    registers,
  });
  const rejected = new Counter({
    name: "download_requests_rejected_total",
    help: "Download requests refused with 400.",
    registers,
  });

  return {
    contentType: registry.contentType,
    async text(snapshot) {
      entries.set(snapshot.entries);
      inProgress.set(snapshot.inProgress);
      bytes.set(snapshot.bytes);
      pinned.set(snapshot.pinnedBytes);
      // A counter has no set(): reset it, then add the total so far (0
      // included, so that every series exists from the first scrape).
      const counts = {
        hit: snapshot.hits,
        miss: snapshot.misses,
        join: snapshot.joins,
        stale: snapshot.stale,
      };
      lookups.reset();
      for (const outcome of OUTCOMES) lookups.inc({ outcome }, counts[outcome]);
      evictions.reset();
      for (const reason of REASONS) {
        evictions.inc({ reason }, snapshot.evictions[reason]);
      }
      failures.reset();
      failures.inc(snapshot.failures);
      generations.reset();
      for (const event of GENERATION_EVENTS) {
        generations.inc({ event }, snapshot.generations[event]);
      }
      rejected.reset();
      rejected.inc(snapshot.rejected);
      return await registry.metrics();
    },
  };
}
