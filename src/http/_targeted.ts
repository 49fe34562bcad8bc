// Targeted cache-control fields (RFC 9213): a cache that is a member of a
// field's target list obeys that field instead of Cache-Control, and ignores
// Expires, when the field is a valid Structured Field Dictionary (RFC 8941)
// whose directives have their types (durations are Integers). `cached()`
// obeys the fields its `targets` option names, first valid one wins; by
// default none (it is the application's own cache, not its CDN).

import { type Directives, parseCacheControl } from "./_cache_control.ts";

/** The directives that govern this cache, and whether a targeted field gave them. */
export interface Governing {
  readonly directives: Directives;
  /** Set when a targeted field gave them: Expires is then ignored too. */
  readonly targeted: boolean;
}

/** Directives whose value is a number of seconds. */
const DURATIONS = new Set([
  "max-age",
  "s-maxage",
  "stale-while-revalidate",
  "stale-if-error",
]);

const KEY = /^[a-z*][a-z0-9_\-.*]*/;
const BARE_ITEM = new RegExp(
  [
    /-?\d{1,15}(?:\.\d{1,3})?/, // Integer, Decimal
    /"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"/, // String
    /[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/, // Token
    /:[A-Za-z0-9+/=]*:/, // Byte Sequence
    /\?[01]/, // Boolean
  ].map((part) => `(?:${part.source})`).join("|"),
);

/** The directives of a targeted field, or `undefined` if it is not valid. */
export function parseTargeted(value: string): Directives | undefined {
  const directives = new Map<string, string | true>();
  let rest = value.replace(/^[ \t]+|[ \t]+$/g, "");
  while (rest.length > 0) {
    const key = KEY.exec(rest)?.[0];
    if (key === undefined) return undefined;
    rest = rest.slice(key.length);
    let item: string | true = true;
    if (rest.startsWith("=")) {
      const bare = new RegExp(`^(?:${BARE_ITEM.source})`).exec(rest.slice(1));
      if (!bare) return undefined;
      item = bare[0];
      rest = rest.slice(1 + item.length);
    }
    // Parameters are allowed, and ignored.
    for (;;) {
      const param = new RegExp(
        `^;[ ]*[a-z*][a-z0-9_\\-.*]*(?:=(?:${BARE_ITEM.source}))?`,
      ).exec(rest);
      if (!param) break;
      rest = rest.slice(param[0].length);
    }
    if (DURATIONS.has(key)) {
      if (typeof item !== "string" || !/^-?\d+$/.test(item)) return undefined;
    } else if (item === "?1") item = true;
    else if (item === "?0") item = "?0";
    if (!directives.has(key) && item !== "?0") directives.set(key, item);
    const separator = /^[ \t]*,[ \t]*/.exec(rest);
    if (separator) {
      rest = rest.slice(separator[0].length);
      if (rest.length === 0) return undefined; // a trailing comma
    } else if (rest.length > 0) return undefined;
  }
  return directives;
}

/** The directives of the first valid targeted field, else of Cache-Control. */
export function governingDirectives(
  headers: Headers,
  targets: readonly string[],
): Governing {
  for (const name of targets) {
    const value = headers.get(name);
    const directives = value === null ? undefined : parseTargeted(value);
    if (directives && directives.size > 0) {
      return { directives, targeted: true };
    }
  }
  return {
    directives: parseCacheControl(headers.get("cache-control")),
    targeted: false,
  };
}
