// Parsing of a Range request header (RFC 9110, section 14.2), for the one
// range unit there is: bytes. Only single ranges are served; anything else is
// ignored, as the RFC allows, and gets the whole representation.

/** One requested byte range: `first-last`, `first-`, or the last `suffix` bytes. */
export type ByteRange =
  | { readonly first: number; readonly last: number | undefined }
  | { readonly suffix: number };

/** Parses `bytes=…` with exactly one range; `undefined` for anything else. */
export function parseRange(header: string | null): ByteRange | undefined {
  if (header === null) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined; // another unit, several ranges, or malformed
  const [, first = "", last = ""] = match;
  if (first === "") {
    return last === "" ? undefined : { suffix: Number(last) };
  }
  const range = {
    first: Number(first),
    last: last === "" ? undefined : Number(last),
  };
  if (range.last !== undefined && range.last < range.first) return undefined;
  if (
    !Number.isSafeInteger(range.first) || !Number.isSafeInteger(range.last ?? 0)
  ) {
    return undefined;
  }
  return range;
}

/**
 * Resolves a range against a known total length: `[start, end)` to send, or
 * `undefined` if it cannot be satisfied.
 */
export function resolveRange(
  range: ByteRange,
  total: number,
): { start: number; end: number } | undefined {
  if ("suffix" in range) {
    if (range.suffix === 0 || total === 0) return undefined;
    return { start: Math.max(0, total - range.suffix), end: total };
  }
  if (range.first >= total) return undefined;
  return {
    start: range.first,
    end: Math.min(range.last ?? Infinity, total - 1) + 1,
  };
}
