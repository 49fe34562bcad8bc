// Freshness (RFC 9111, section 4.2) as the lifetime of a cache entry: how
// long a stored response is fresh, and how long it may be served stale
// (RFC 5861), in the terms of the core's EntryLifetime.
//
// - The freshness lifetime is `s-maxage` (a shared cache), else `max-age`,
//   else `Expires − Date` (4.2.1); an invalid value makes the response stale
//   at once, as 4.2.1 and 5.3 encourage.
// - Less the response's age when it arrived (4.2.3), it becomes the entry's
//   `maxAge`: HTTP freshness counts from the response's creation, not from
//   its last use (the core's `ttl`), and the entry's creation is when the
//   response arrived.
// - `stale-while-revalidate=N` and `stale-if-error=N` become the entry's
//   stale windows, unless `must-revalidate`, or in a shared cache
//   `proxy-revalidate` or `s-maxage` (5.2.2.2, 5.2.2.8, 5.2.2.10), forbid
//   serving it stale: then both windows are 0, whatever the cache's defaults.
// - A response without explicit freshness gets `defaultTtl` if given, else
//   the cache's own lifetime (heuristic freshness, 4.2.2, is not computed).
// - A targeted field (RFC 9213) that the cache obeys replaces Cache-Control
//   and Expires.

import type { EntryLifetime } from "../store.ts";
import type { Directives } from "./_cache_control.ts";
import { initialAge } from "./_age.ts";
import { parseHttpDate } from "./_http_date.ts";
import { governingDirectives } from "./_targeted.ts";

/** RFC 9111 1.2.2: a delta-seconds too large to represent is this. */
const MAX_DELTA = 2_147_483_648;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What {@linkcode entryLifetime} needs besides the response's headers. */
export interface FreshnessOptions {
  /** Whether the cache is shared (s-maxage and proxy-revalidate apply). */
  readonly shared: boolean;
  /** When the response arrived, by the cache's clock (ms). */
  readonly now: number;
  /** The freshness lifetime (ms) of a response that gives none. */
  readonly defaultTtl: number | undefined;
  /** The targeted fields (RFC 9213) the cache obeys. */
  readonly targets: readonly string[];
}

/**
 * A directive's delta-seconds argument: a number of seconds, `"invalid"`
 * for one that is not a non-negative integer, or `undefined` if absent.
 */
export function deltaSeconds(
  argument: string | true | undefined,
): number | "invalid" | undefined {
  if (argument === undefined) return undefined;
  if (argument === true || !/^\d+$/.test(argument)) return "invalid";
  return Math.min(Number(argument), MAX_DELTA);
}

/**
 * The freshness lifetime of a response in seconds (RFC 9111 4.2.1), or
 * `undefined` if it gives none.
 */
export function freshnessLifetime(
  headers: Headers,
  control: Directives,
  shared: boolean,
  now: number,
  withExpires = true,
): number | undefined {
  const sMaxAge = shared ? deltaSeconds(control.get("s-maxage")) : undefined;
  const maxAge = sMaxAge ?? deltaSeconds(control.get("max-age"));
  if (maxAge !== undefined) return maxAge === "invalid" ? 0 : maxAge;
  const expires = withExpires ? headers.get("expires") : null;
  if (expires === null) return undefined;
  const expiresAt = parseExpires(expires);
  if (expiresAt === undefined) return 0; // 5.3: an invalid date is in the past
  const date = parseHttpDate(headers.get("date")) ?? now;
  return Math.max(0, Math.floor((expiresAt - date) / 1000));
}

/**
 * An Expires date (RFC 9111 5.3): an HTTP-date, also in the wrong case
 * (`THU, 18 AUG 2050 02:01:18 gmt`), which is unambiguous.
 */
function parseExpires(value: string): number | undefined {
  return parseHttpDate(value) ?? parseHttpDate(
    value.replace(
      /[A-Za-z]+/g,
      (word) =>
        word.toUpperCase() === "GMT"
          ? "GMT"
          : word[0]!.toUpperCase() + word.slice(1).toLowerCase(),
    ),
  );
}

/** Whether the response may never be served stale (RFC 9111 4.2.4). */
export function mustRevalidate(control: Directives, shared: boolean): boolean {
  return control.has("must-revalidate") ||
    (shared && (control.has("proxy-revalidate") || control.has("s-maxage")));
}

/**
 * The entry lifetime of a response that arrived at `options.now`: its
 * freshness less its age as `maxAge`, and its stale windows, in ms. Fields
 * left out fall back to the cache's options.
 */
export function entryLifetime(
  headers: Headers,
  options: FreshnessOptions,
): EntryLifetime {
  const { shared, now, defaultTtl, targets } = options;
  const { directives: control, targeted } = governingDirectives(
    headers,
    targets,
  );
  const lifetime: Mutable<EntryLifetime> = {};
  const fresh = freshnessLifetime(headers, control, shared, now, !targeted);
  if (fresh !== undefined) {
    lifetime.maxAge = Math.max(0, fresh - initialAge(headers, now)) * 1000;
  } else if (defaultTtl !== undefined) {
    lifetime.maxAge = defaultTtl;
  }
  if (mustRevalidate(control, shared)) {
    lifetime.staleWhileRevalidate = 0;
    lifetime.staleIfError = 0;
    return lifetime;
  }
  const whileRevalidate = deltaSeconds(control.get("stale-while-revalidate"));
  if (typeof whileRevalidate === "number") {
    lifetime.staleWhileRevalidate = whileRevalidate * 1000;
  }
  const ifError = deltaSeconds(control.get("stale-if-error"));
  if (typeof ifError === "number") lifetime.staleIfError = ifError * 1000;
  return lifetime;
}
