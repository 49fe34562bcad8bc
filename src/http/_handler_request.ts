// The request the handler gets when it produces an entry (SEMANTICS rule
// 20): a GET for the whole representation, with the first client's headers
// but none of its Range or conditional headers (the cache answers those
// itself, for every client; it adds its own to revalidate a stored
// response), and an abort signal of its own, so that the first client
// disconnecting cannot abort what others are reading.

/** Request headers that concern one client's copy, never the representation. */
const PER_CLIENT = [
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
];

/**
 * The handler's request for producing `request`'s entry; `conditions` are
 * the cache's own preconditions, to revalidate a stored response (RFC 9111
 * 4.3.1).
 */
export function handlerRequest(
  request: Request,
  signal: AbortSignal,
  conditions: readonly (readonly [string, string])[] = [],
): Request {
  const headers = new Headers(request.headers);
  for (const name of PER_CLIENT) headers.delete(name);
  for (const [name, value] of conditions) headers.set(name, value);
  return new Request(request.url, { method: "GET", headers, signal });
}
