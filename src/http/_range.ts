// Range requests (RFC 9110, section 14) for the one range unit there is:
// bytes. Only a single range is served; several ranges, another unit or a
// malformed or invalid header are ignored, as section 14.2 allows, and get
// the whole representation (200).
//
// Positions of 2^53 - 1 and more are still valid and read as Infinity (no
// representation is that long, and the byte after it has no exact number): a last
// position that large means "to the end" (section 14.1.2), a first position
// that large is beyond any representation (416), a suffix that large is the
// whole representation.

/** One requested byte range: `first-last`, `first-`, or the last `suffix` bytes. */
export type ByteRange =
  | { readonly first: number; readonly last: number } // last: Infinity if absent
  | { readonly suffix: number };

/** The bytes `[start, end)` to send of a representation. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

const SINGLE = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/** Parses `bytes=…` with exactly one valid range; `undefined` for anything else. */
export function parseRange(header: string | null): ByteRange | undefined {
  if (header === null) return undefined;
  const match = SINGLE.exec(header);
  if (!match) return undefined; // another unit, several ranges, or malformed
  const [, first = "", last = ""] = match;
  if (first === "") {
    return last === "" ? undefined : { suffix: toNumber(last) };
  }
  // last < first is an invalid range-spec (14.1.1): ignored. (Compared
  // exactly, however long the numbers.)
  if (last !== "" && BigInt(last) < BigInt(first)) return undefined;
  return {
    first: toNumber(first),
    last: last === "" ? Infinity : toNumber(last),
  };
}

/**
 * Whether the range is `first-last` with both finite: the one kind whose
 * span can be known before the total length is.
 */
export function isClosed(
  range: ByteRange,
): range is { first: number; last: number } {
  return "first" in range && Number.isFinite(range.last);
}

/**
 * Resolves a range against a known total length: the span to send, or
 * `undefined` if there is none (14.1.1: a first position at or past the end
 * and a suffix of 0 are not satisfiable; on an empty representation no span
 * exists, though a non-zero suffix counts as satisfiable there).
 */
export function resolveRange(
  range: ByteRange,
  total: number,
): Span | undefined {
  if ("suffix" in range) {
    if (range.suffix === 0 || total === 0) return undefined;
    return { start: Math.max(0, total - range.suffix), end: total };
  }
  if (range.first >= total) return undefined;
  return { start: range.first, end: Math.min(range.last, total - 1) + 1 };
}

/** A digit string as an exact number, or Infinity from 2^53 - 1 on. */
function toNumber(digits: string): number {
  const value = Number(digits);
  return value < Number.MAX_SAFE_INTEGER ? value : Infinity;
}
