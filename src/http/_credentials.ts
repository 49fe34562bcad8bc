// A shared cache never lets a response cross users (SEMANTICS rule 20; RFC
// 9111, section 3.5). A request with credentials (Authorization, or a Cookie,
// which most applications use for sessions) is answered from the cache only
// by a stored response that says it may be shared, and its own response is
// stored only if it says so: `public`, `s-maxage` or `must-revalidate`.

import { parseCacheControl } from "./_cache_control.ts";

/** Whether a request carries credentials: `Authorization` or `Cookie`. */
export function hasCredentials(request: Request): boolean {
  return request.headers.has("authorization") || request.headers.has("cookie");
}

/**
 * Whether a response's Cache-Control lets a shared cache use it for requests
 * with credentials (RFC 9111 3.5).
 */
export function sharedWithCredentials(cacheControl: string | null): boolean {
  const control = parseCacheControl(cacheControl);
  return control.has("public") || control.has("s-maxage") ||
    control.has("must-revalidate");
}
