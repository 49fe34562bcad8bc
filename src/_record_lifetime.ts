// An entry's creation time and lifetime, as stores keep them in a record (FsStore
// in its JSON trailer and index, IndexedDbStore in its link records)
// (SEMANTICS 13, 16). The record is JSON, which has no Infinity: an infinite
// duration ("never stale") is written as null and read back as Infinity.
// Reading is lenient, so a record written by a later version with more
// lifetime fields is still served: unknown fields, and fields that are not
// durations, are left out; an entry is never lost over its lifetime.

import { describeValue } from "./_validate.ts";
import type { EntryLifetime, StoreCreateOptions } from "./store.ts";

/** The fields of an {@linkcode EntryLifetime}. */
export const LIFETIME_FIELDS: readonly (keyof EntryLifetime)[] = [
  "ttl",
  "maxAge",
  "staleWhileRevalidate",
  "staleIfError",
  "keepStale",
];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Checks `create`'s options for what a JSON record can hold, and returns the
 * creation time and a copy of the lifetime with its known fields only.
 */
export function checkCreateOptions(
  options: StoreCreateOptions,
  action: string,
): { created: number; lifetime: EntryLifetime | undefined } {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${action}: options must be an object: received ${
        describeValue(options)
      }`,
    );
  }
  const { created = Date.now(), lifetime } = options;
  if (typeof created !== "number" || !Number.isFinite(created)) {
    throw new TypeError(
      `Cannot ${action}: created must be a finite number: received ${
        typeof created === "number" ? created : describeValue(created)
      }`,
    );
  }
  if (lifetime === undefined) return { created, lifetime };
  if (typeof lifetime !== "object" || lifetime === null) {
    throw new TypeError(
      `Cannot ${action}: lifetime must be an object: received ${
        describeValue(lifetime)
      }`,
    );
  }
  const copy: Mutable<EntryLifetime> = {};
  for (const field of LIFETIME_FIELDS) {
    const value: unknown = lifetime[field];
    if (value === undefined) continue;
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new TypeError(
        `Cannot ${action}: lifetime.${field} must be a number of milliseconds: received ${
          typeof value === "number" ? value : describeValue(value)
        }`,
      );
    }
    if (value < 0) {
      throw new RangeError(
        `Cannot ${action}: lifetime.${field} must not be negative: received ${value}`,
      );
    }
    copy[field] = value;
  }
  return { created, lifetime: copy };
}

/** Reads a record's lifetime; `undefined` unless it is an object. */
export function parseLifetime(value: unknown): EntryLifetime | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }
  const fields = value as Record<string, unknown>;
  const lifetime: Mutable<EntryLifetime> = {};
  for (const field of LIFETIME_FIELDS) {
    const duration = fields[field];
    if (duration === null) lifetime[field] = Infinity;
    else if (typeof duration === "number" && duration >= 0) {
      lifetime[field] = duration;
    }
  }
  return lifetime;
}
