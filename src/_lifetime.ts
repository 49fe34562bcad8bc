// When a committed entry is fresh, stale or expired (SEMANTICS 16), from its
// times and its lifetime, each limit the entry's own or else the cache's:
//
// - fresh until `accessed + ttl` (idle time) and `created + maxAge` (age);
// - then stale: still served, at once, for `staleWhileRevalidate` more while
//   one refresh runs (getOrCreate only), or, once a refresh has failed, for
//   `staleIfError` more if that is longer;
// - then, within `keepStale` (or `staleIfError`) of going stale, kept for a
//   refresh: not served as it is, but getOrCreate waits for one refresh per
//   key, whose producer gets it to revalidate (and if that fails, it is
//   served within `staleIfError`);
// - then expired: gone, like a deleted entry.
//
// No timer is involved: the cache asks on access and in eviction passes.

import type { EntryLifetime } from "./store.ts";

/** The times the cache keeps of a committed entry. */
export interface EntryTimes {
  readonly created: number;
  readonly accessed: number;
  readonly lifetime: EntryLifetime | undefined;
}

/** Where an entry stands at one moment. */
export type Freshness =
  | { readonly state: "fresh" }
  | {
    readonly state: "stale";
    /** When it became stale. */
    readonly since: number;
  }
  | {
    readonly state: "revalidate";
    /** When it became stale. */
    readonly since: number;
    /** Which limit it passed first. */
    readonly reason: "ttl" | "maxAge";
  }
  | {
    readonly state: "expired";
    /** Which limit it passed first. */
    readonly reason: "ttl" | "maxAge";
  };

const FRESH: Freshness = { state: "fresh" };

/** One limit of an entry: its own, else the cache's. */
function limit(
  entry: EntryLifetime | undefined,
  defaults: EntryLifetime,
  name: keyof EntryLifetime,
): number | undefined {
  return entry?.[name] ?? defaults[name];
}

/**
 * Tells whether an entry is fresh, stale (and since when), kept only for a
 * revalidation, or expired at
 * `now`. `failed` says a refresh of it failed, which adds the
 * `staleIfError` window; `inUse` says it has a reader or writer open, so it
 * is not idle.
 */
export function freshness(
  times: EntryTimes,
  defaults: EntryLifetime,
  now: number,
  state: { failed?: boolean; inUse?: boolean } = {},
): Freshness {
  const { failed = false, inUse = false } = state;
  const ttl = limit(times.lifetime, defaults, "ttl");
  const maxAge = limit(times.lifetime, defaults, "maxAge");
  // An entry being read or written is not idle, however long ago it was opened.
  const idleEnd = ttl === undefined || inUse ? Infinity : times.accessed + ttl;
  const ageEnd = maxAge === undefined ? Infinity : times.created + maxAge;
  const since = Math.min(idleEnd, ageEnd);
  if (now < since) return FRESH;
  const window = Math.max(
    limit(times.lifetime, defaults, "staleWhileRevalidate") ?? 0,
    failed ? limit(times.lifetime, defaults, "staleIfError") ?? 0 : 0,
  );
  if (now < since + window) return { state: "stale", since };
  const reason = idleEnd <= ageEnd ? "ttl" : "maxAge";
  // A refresh must be able to fail for staleIfError to serve: the entry is
  // kept for one at least that long.
  const keep = Math.max(
    limit(times.lifetime, defaults, "keepStale") ?? 0,
    limit(times.lifetime, defaults, "staleIfError") ?? 0,
  );
  if (now < since + keep) return { state: "revalidate", since, reason };
  return { state: "expired", reason };
}
