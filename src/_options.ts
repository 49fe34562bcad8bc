// Checks of the numbers a cache is bounded by (SEMANTICS 16, 18): byte and
// entry limits are non-negative integers, times are non-negative numbers of
// milliseconds; anything else is a TypeError or RangeError that names it.

import { checkStore, describeValue } from "./_validate.ts";
import { LIFETIME_FIELDS } from "./_record_lifetime.ts";
import type { EntryLifetime, Store } from "./store.ts";

/** The cache's limits, checked. */
export interface Limits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
}

/** Throws unless `value` is undefined or a non-negative number (a duration, a size). */
function checkAmount(
  value: unknown,
  name: string,
  action: string,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a number: received ${
        describeValue(value)
      }`,
    );
  }
  const valid = integer
    ? (Number.isSafeInteger(value) || value === Infinity) && value >= 0
    : !Number.isNaN(value) && value >= 0;
  if (!valid) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be a non-negative ${
        integer ? "integer" : "number of milliseconds"
      }: received ${value}`,
    );
  }
  return value;
}

/** Picks and checks the lifetime fields of `source` (options, a producer's result). */
export function checkLifetime(
  source: object,
  action: string,
): EntryLifetime | undefined {
  let lifetime: Record<string, number> | undefined;
  for (const name of LIFETIME_FIELDS) {
    const value = checkAmount(
      (source as Record<string, unknown>)[name],
      name,
      action,
      false,
    );
    if (value !== undefined) (lifetime ??= {})[name] = value;
  }
  return lifetime;
}

/** Checks the options of a StreamCache. */
export function checkCacheOptions(options: unknown): {
  store: Store | undefined;
  limits: Limits;
  lifetime: EntryLifetime;
  clock: () => number;
  sweepInterval: number | undefined;
} {
  const action = "create StreamCache";
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${action}: options must be an object: received ${
        describeValue(options)
      }`,
    );
  }
  const given = options as Record<string, unknown>;
  if (given.store !== undefined) checkStore(given.store, action);
  const clock = given.clock ?? Date.now;
  if (typeof clock !== "function") {
    throw new TypeError(
      `Cannot ${action}: clock must be a function: received ${
        describeValue(clock)
      }`,
    );
  }
  const limit = (name: string) =>
    checkAmount(given[name], name, action, true) ?? Infinity;
  const sweepInterval = checkAmount(
    given.sweepInterval,
    "sweepInterval",
    action,
    false,
  );
  if (sweepInterval === 0) {
    throw new RangeError(
      `Cannot ${action}: sweepInterval must be positive: received 0`,
    );
  }
  return {
    store: given.store as Store | undefined,
    limits: {
      maxEntries: limit("maxEntries"),
      maxBytes: limit("maxBytes"),
      maxEntryBytes: limit("maxEntryBytes"),
    },
    lifetime: checkLifetime(given, action) ?? {},
    clock: clock as () => number,
    sweepInterval,
  };
}
