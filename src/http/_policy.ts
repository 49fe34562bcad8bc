// Which responses may be stored: the default `shouldCache`, and the rules of
// RFC 9111 that hold whatever `shouldCache` says.

import { listedFields } from "./_cache_control.ts";
import { governingDirectives } from "./_targeted.ts";
import { varyKind } from "./_vary.ts";

/**
 * The default cacheability test: a 200 response without `Cache-Control:
 * no-store`, `no-cache` or `private` (their qualified forms, which name
 * fields, are fine: those fields are not stored), that sets no cookie (unless
 * `no-cache="set-cookie"` or `private="set-cookie"` keeps it out of the
 * store), and varies by no request header but `Accept-Encoding` (each
 * variant is stored apart; a response that varies by another field, or by
 * `*`, passes through).
 */
export function isCacheable(
  response: Response,
  targets: readonly string[] = [],
): boolean {
  if (response.status !== 200) return false;
  const control = governingDirectives(response.headers, targets).directives;
  if (
    control.has("no-store") || control.get("no-cache") === true ||
    control.get("private") === true
  ) {
    return false;
  }
  if (response.headers.has("set-cookie")) {
    const unshared = [
      ...listedFields(control.get("no-cache")),
      ...listedFields(control.get("private")),
    ];
    if (!unshared.includes("set-cookie")) return false;
  }
  return varyKind(response.headers) !== "other";
}

/**
 * Whether a response must not be stored, whatever `shouldCache` says:
 * - `no-store` (RFC 9111 5.2.2.5) binds every cache;
 * - `no-cache` without field names (5.2.2.4): it may not be reused without
 *   revalidation, which this cache does only for expired entries, so it is
 *   not stored;
 * - `private` without field names, in a shared cache (5.2.2.7);
 * - 206 and 304 are not whole representations (the handler never gets a
 *   Range or a condition, so it should not make them).
 */
export function mustNotStore(
  response: Response,
  shared: boolean,
  targets: readonly string[] = [],
): boolean {
  if (response.status === 206 || response.status === 304) return true;
  const control = governingDirectives(response.headers, targets).directives;
  return control.has("no-store") || control.get("no-cache") === true ||
    (shared && control.get("private") === true);
}
