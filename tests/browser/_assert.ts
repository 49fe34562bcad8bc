// The part of node:assert/strict the shared suites use, for a browser page
// (scripts/chromium.mjs bundles the suites with `node:assert/strict`
// resolved here): strict equality, strict deep equality with prototypes,
// typed arrays, Maps and Sets, and node's ways of naming an expected error.

export class AssertionError extends Error {
  override name = "AssertionError";
}

const show = (value: unknown): string => {
  if (value instanceof Uint8Array) {
    return `Uint8Array(${value.length}) [${value.slice(0, 16).join(", ")}${
      value.length > 16 ? ", …" : ""
    }]`;
  }
  try {
    const json = JSON.stringify(value);
    return json === undefined ? String(value) : json.slice(0, 200);
  } catch {
    return String(value);
  }
};

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}

function deepEqualValues(
  a: unknown,
  b: unknown,
  seen: Map<object, object>,
): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(
      (b as ArrayBufferView).buffer,
      (b as ArrayBufferView).byteOffset,
      (b as ArrayBufferView).byteLength,
    );
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (a instanceof Error && a.message !== (b as Error).message) return false;
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) {
      if (!m.has(k) || !deepEqualValues(v, m.get(k), seen)) return false;
    }
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    return a.size === s.size && [...a].every((v) => s.has(v));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.prototype.hasOwnProperty.call(b, k) &&
    deepEqualValues(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      seen,
    )
  );
}

function equal(
  actual: unknown,
  expected: unknown,
  message?: string | Error,
): void {
  if (!Object.is(actual, expected)) {
    fail(
      message,
      `Expected values to be strictly equal:\n${show(actual)} !== ${
        show(expected)
      }`,
    );
  }
}
function notEqual(
  actual: unknown,
  expected: unknown,
  message?: string | Error,
): void {
  if (Object.is(actual, expected)) {
    fail(
      message,
      `Expected "actual" to be strictly unequal to: ${show(expected)}`,
    );
  }
}
function deepEqual(
  actual: unknown,
  expected: unknown,
  message?: string | Error,
): void {
  if (!deepEqualValues(actual, expected, new Map())) {
    fail(
      message,
      `Expected values to be strictly deep-equal:\n${show(actual)}\n!==\n${
        show(expected)
      }`,
    );
  }
}
function ok(value: unknown, message?: string | Error): asserts value {
  if (!value) {
    fail(message, `The expression evaluated to a falsy value: ${show(value)}`);
  }
}
function match(text: string, re: RegExp, message?: string | Error): void {
  if (!re.test(text)) {
    fail(message, `The input did not match ${re}: ${show(text)}`);
  }
}

type Expected =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((error: unknown) => boolean)
  | Record<string, unknown>;

function check(
  error: unknown,
  expected: Expected | undefined,
  message?: string | Error,
): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error))) {
      fail(message, `The error did not match ${expected}: ${String(error)}`);
    }
    return;
  }
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && error instanceof expected) return;
    if (expected.prototype instanceof Error || expected === Error) {
      fail(
        message,
        `The error is not an instance of ${expected.name}: ${String(error)}`,
      );
    }
    if ((expected as (error: unknown) => boolean)(error) !== true) {
      fail(message, `The validation function rejected ${String(error)}`);
    }
    return;
  }
  for (const [key, want] of Object.entries(expected)) {
    const got = (error as Record<string, unknown>)?.[key];
    const good = want instanceof RegExp && typeof got === "string"
      ? want.test(got)
      : deepEqualValues(got, want, new Map());
    if (!good) {
      fail(
        message,
        `The error's ${key} is ${show(got)}, expected ${
          show(want instanceof RegExp ? String(want) : want)
        }`,
      );
    }
  }
}

function throws(
  fn: () => unknown,
  expected?: Expected,
  message?: string | Error,
): void {
  try {
    fn();
  } catch (error) {
    check(error, expected, message);
    return;
  }
  fail(message, "Missing expected exception.");
}

async function rejects(
  promise: Promise<unknown> | (() => Promise<unknown>),
  expected?: Expected,
  message?: string | Error,
): Promise<void> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    check(error, expected, message);
    return;
  }
  fail(message, "Missing expected rejection.");
}

const assert = Object.assign(
  (value: unknown, message?: string | Error) => ok(value, message),
  {
    AssertionError,
    deepEqual,
    deepStrictEqual: deepEqual,
    equal,
    strictEqual: equal,
    notEqual,
    notStrictEqual: notEqual,
    ok,
    match,
    throws,
    rejects,
    fail: (message?: string | Error): never => fail(message, "Failed"),
  },
);
export default assert;
