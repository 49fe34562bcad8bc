// Invalidation (RFC 9111, section 4.4): a non-error response to an unsafe
// request invalidates the stored response for its target URI, and for the
// URIs its Location and Content-Location name when they have the same
// origin.

/** The safe methods (RFC 9110 9.2.1); any other method, known or not, is unsafe. */
const SAFE = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/**
 * The URLs whose entries `response` to `request` invalidates: none for a
 * safe method or an error status (4xx, 5xx).
 */
export function invalidatedUrls(request: Request, response: Response): URL[] {
  if (SAFE.has(request.method) || response.status >= 400) return [];
  const target = new URL(request.url);
  const urls = [target];
  for (const name of ["location", "content-location"]) {
    const value = response.headers.get(name);
    if (value === null) continue;
    try {
      const url = new URL(value, target);
      if (url.origin === target.origin) urls.push(url);
    } catch {
      // Not a URI reference: nothing to invalidate.
    }
  }
  return urls;
}
