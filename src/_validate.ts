// Argument checks shared by the public entry points. Every message says what
// was attempted, what was wrong and what was received (SEMANTICS rule 18).

import type { EntryMeta, Store } from "./store.ts";

/** Names a value's type for an error message: "number", "null", "Array". */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return typeof name === "string" && name !== "" ? name : "object";
}

/**
 * Quotes a key for a message, shortened so a 100 KB key cannot flood a log,
 * in time that does not grow with the key: only its head is quoted.
 */
export function quoteKey(key: string): string {
  const quoted = JSON.stringify(key.slice(0, 64));
  return key.length <= 64 && quoted.length <= 64
    ? quoted
    : `${quoted.slice(0, 60)}…" (${key.length} chars)`;
}

/** Throws a TypeError unless `key` is a string. */
export function checkKey(key: unknown, action: string): asserts key is string {
  if (typeof key !== "string") {
    throw new TypeError(
      `Cannot ${action}: key must be a string: received ${describeValue(key)}`,
    );
  }
}

/** Throws unless `value` is undefined or a non-negative safe integer. */
export function checkOffset(
  value: unknown,
  name: string,
  action: string,
): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: ${name} must be a number: received ${
        describeValue(value)
      }`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot ${action}: ${name} must be a non-negative integer: received ${value}`,
    );
  }
}

/**
 * Returns a deep-frozen copy of `meta`, so later changes to the caller's object
 * change nothing, or throws a TypeError unless it is a JSON-serialisable object.
 */
export function freezeMeta(
  meta: unknown,
  action: string,
): EntryMeta | undefined {
  if (meta === undefined) return undefined;
  const problem = `Cannot ${action}: meta must be a JSON-serialisable object`;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
    throw new TypeError(`${problem}: received ${describeValue(meta)}`);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(meta);
  } catch (cause) {
    throw new TypeError(`${problem}: ${(cause as Error).message}`, { cause });
  }
  const copy: unknown = json === undefined ? undefined : JSON.parse(json);
  // What is stored is the JSON form: a Date, or any toJSON() that returns a
  // string or null, is not an object once serialised, and a store could not
  // read such a record back (SEMANTICS 18).
  if (typeof copy !== "object" || copy === null || Array.isArray(copy)) {
    throw new TypeError(
      `${problem}: received ${describeValue(meta)}, which serialises to ${
        json === undefined ? "nothing" : json.slice(0, 40)
      }`,
    );
  }
  return deepFreeze(copy) as EntryMeta;
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The methods every {@linkcode Store} has. */
const STORE_METHODS = [
  "create",
  "lookup",
  "openReader",
  "remove",
  "release",
  "keys",
  "close",
] as const;

/** Throws a TypeError unless `store` has every method of the Store interface. */
export function checkStore(
  store: unknown,
  action: string,
): asserts store is Store {
  const problem = `Cannot ${action}: store must implement the Store interface`;
  if (typeof store !== "object" || store === null) {
    throw new TypeError(`${problem}: received ${describeValue(store)}`);
  }
  const missing = STORE_METHODS.filter((name) =>
    typeof (store as Record<string, unknown>)[name] !== "function"
  );
  if (missing.length > 0) {
    throw new TypeError(
      `${problem}: ${describeValue(store)} has no ${
        missing.map((name) => `${name}()`).join(", ")
      }`,
    );
  }
}
