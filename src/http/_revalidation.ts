// Revalidation (RFC 9111, section 4.3): a conditional request built from a
// stored response's own validators (4.3.1), and the stored response freshened
// by the handler's 304 (4.3.4): its headers updated by those of the 304
// (3.2), its body kept.

import { formatHttpDate } from "./_http_date.ts";
import { type HttpMeta, type Stored, toMeta } from "./_meta.ts";

/** A field of a stored response. */
function field(meta: HttpMeta, name: string): string | undefined {
  return meta.headers.find(([stored]) => stored === name)?.[1];
}

/**
 * The precondition headers that revalidate a stored response: If-None-Match
 * with its entity tag, If-Modified-Since with its Last-Modified. Only the
 * handler's own validators count (the cache's default ones were never the
 * handler's); none, no conditional request.
 */
export function conditionalHeaders(meta: HttpMeta): [string, string][] {
  const conditions: [string, string][] = [];
  const etag = field(meta, "etag");
  if (etag !== undefined) conditions.push(["if-none-match", etag]);
  const lastModified = field(meta, "last-modified");
  if (lastModified !== undefined) {
    conditions.push(["if-modified-since", lastModified]);
  }
  return conditions;
}

/**
 * Whether a 304 selects the stored response (4.3.4): its entity tag, if it
 * has one, matches the stored one (weak comparison); else its Last-Modified,
 * if it has one, equals the stored one; a 304 without validators selects the
 * only stored response.
 */
export function selectsStored(meta: HttpMeta, notModified: Response): boolean {
  const etag = notModified.headers.get("etag");
  if (etag !== null) {
    const stored = field(meta, "etag");
    return stored !== undefined &&
      stored.trim().replace(/^W\//, "") === etag.trim().replace(/^W\//, "");
  }
  const lastModified = notModified.headers.get("last-modified");
  if (lastModified !== null) {
    const stored = field(meta, "last-modified");
    return stored === undefined || stored === lastModified;
  }
  return true;
}

/**
 * The stored response freshened by a 304 that arrived at `now`: each field
 * the 304 carries replaces the stored one (3.2; not Content-Length, nor what
 * is never stored), a stored Date the 304 does not renew becomes the time it
 * arrived, and its age is the 304's own. Status, length and variant stay.
 */
export function freshened(
  meta: HttpMeta,
  notModified: Response,
  now: number,
): Stored {
  const update = toMeta(notModified, now);
  const names = new Set(update.meta.headers.map(([name]) => name));
  const headers = meta.headers.filter(([name]) => !names.has(name));
  headers.push(...update.meta.headers);
  if (!names.has("date") && field(meta, "date") !== undefined) {
    const at = headers.findIndex(([name]) => name === "date");
    headers[at] = ["date", formatHttpDate(now)];
  }
  const { age } = update.meta;
  return {
    meta: {
      status: meta.status,
      statusText: meta.statusText,
      headers,
      ...(meta.length !== undefined ? { length: meta.length } : {}),
      created: now,
      ...(age !== undefined ? { age } : {}),
      ...(meta.variant !== undefined ? { variant: meta.variant } : {}),
    },
    unshared: update.unshared,
  };
}
