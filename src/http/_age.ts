// The Age of a response served from the cache (RFC 9111, sections 4.2.3 and
// 5.1): the age it already had when it was stored, plus how long it has been
// in the cache, in whole seconds.

import type { HttpMeta } from "./_meta.ts";
import { parseHttpDate } from "./_http_date.ts";

/**
 * The corrected initial age of a response that arrived at `now`, in whole
 * seconds: the larger of its `Age` and how far its `Date` lies in the past.
 * (The response delay is left out: the handler usually runs in this process.)
 */
export function initialAge(headers: Headers, now: number): number {
  const ageValue = /^\s*(\d+)\s*(?:,|$)/.exec(headers.get("age") ?? "")?.[1];
  const date = parseHttpDate(headers.get("date"));
  const apparent = date === undefined ? 0 : Math.max(0, now - date) / 1000;
  return Math.floor(Math.max(Number(ageValue ?? 0), apparent));
}

/**
 * The current age of a stored response at `now`, in whole seconds, or
 * `undefined` for an entry stored without its creation time.
 */
export function currentAge(meta: HttpMeta, now: number): number | undefined {
  if (typeof meta.created !== "number") return undefined;
  const resident = Math.max(0, now - meta.created) / 1000;
  return Math.floor((meta.age ?? 0) + resident);
}
