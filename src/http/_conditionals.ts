// Conditional requests (RFC 9110, section 13) on a stored 2xx representation
// of a GET or HEAD: If-Match and If-Unmodified-Since (412), If-None-Match and
// If-Modified-Since (304), evaluated in the order of section 13.2.2, and
// If-Range, which decides whether a Range is honoured (13.1.5).

import { parseHttpDate } from "./_http_date.ts";

/** The validators of the selected representation. */
export interface Validators {
  /** Its entity tag, `"…"` or `W/"…"`. */
  readonly etag: string;
  /** Its Last-Modified time (ms since the epoch), if it has a valid one. */
  readonly lastModified: number | undefined;
  /**
   * Whether Last-Modified is a strong validator: whether a second-resolution
   * date can tell two versions apart (section 8.8.2.2). If-Range with a date
   * matches only a strong one.
   */
  readonly strongDate: boolean;
}

/**
 * The status that the preconditions of `headers` call for instead of the
 * normal answer: 412, 304, or `undefined` to go on (section 13.2.2).
 */
export function evaluatePreconditions(
  headers: Headers,
  validators: Validators,
): 304 | 412 | undefined {
  const { etag, lastModified } = validators;
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    // 13.1.1: strong comparison; "*" matches any current representation.
    if (!listMatches(ifMatch, etag, strongMatch)) return 412;
  } else {
    const since = parseHttpDate(headers.get("if-unmodified-since"));
    // 13.1.4: an invalid date is ignored.
    if (since !== undefined && lastModified !== undefined) {
      if (lastModified > since) return 412;
    }
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    // 13.1.2: weak comparison; "*" matches any current representation,
    // including one still being generated.
    if (listMatches(ifNoneMatch, etag, weakMatch)) return 304;
  } else {
    // 13.1.3: ignored when If-None-Match is present or the date is invalid.
    const since = parseHttpDate(headers.get("if-modified-since"));
    if (since !== undefined && lastModified !== undefined) {
      if (lastModified <= since) return 304;
    }
  }
  return undefined;
}

/**
 * Whether an If-Range value lets a Range through (13.1.5): an entity tag
 * that matches strongly, or a date equal to a strong Last-Modified.
 */
export function ifRangeMatches(value: string, validators: Validators): boolean {
  const text = value.trim();
  if (text.startsWith('"') || text.startsWith("W/")) {
    return strongMatch(text, validators.etag);
  }
  const date = parseHttpDate(text);
  return date !== undefined && validators.strongDate &&
    date === validators.lastModified;
}

/** Strong comparison (8.8.3.2): both strong, same opaque tag. */
function strongMatch(a: string, b: string): boolean {
  return !a.startsWith("W/") && !b.startsWith("W/") && a === b;
}

/** Weak comparison (8.8.3.2): same opaque tag, either may be weak. */
function weakMatch(a: string, b: string): boolean {
  return a.replace(/^W\//, "") === b.replace(/^W\//, "");
}

/** Whether a `*` / `#entity-tag` field value matches `etag`. */
function listMatches(
  value: string,
  etag: string,
  match: (a: string, b: string) => boolean,
): boolean {
  const tags = splitTags(value);
  return tags.includes("*") || tags.some((tag) => match(tag, etag));
}

/** The members of an entity-tag list; a quoted tag may contain commas. */
function splitTags(value: string): string[] {
  const tags: string[] = [];
  for (const [, tag] of value.matchAll(/\s*((?:W\/)?"[^"]*"|[^,]*)\s*,?/g)) {
    if (tag) tags.push(tag.trim());
  }
  return tags;
}
