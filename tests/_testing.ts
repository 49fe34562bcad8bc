// node:test as the test files use it, with a deadline on every test. Deno's
// node:test has no default timeout and ignores a describe()'s, Node has none
// either, and Bun's 5 s is too short for a heavy test on a loaded machine:
// here every it() has an explicit one, so a lost wake-up fails that test, by
// name, in a minute instead of hanging the run. Heavy tests (child
// processes, hundreds of scenarios) pass `{ timeout: HEAVY_TIMEOUT_MS }`.
//
// Decide skips when the test is declared (`{ skip: "reason" }`), never with
// `t.skip()` inside it: Deno reports such a test as passed.

import process from "node:process";
import * as nodeTest from "node:test";

export { after, afterEach, before, beforeEach, describe } from "node:test";

/** The deadline of a test that does not give its own. */
export const TEST_TIMEOUT_MS = 60_000;
/** The deadline of a heavy test: child processes, hundreds of scenarios. */
export const HEAVY_TIMEOUT_MS = 240_000;

type TestFn = nodeTest.TestFn;

/** node:test's `it`, with `timeout` defaulting to {@linkcode TEST_TIMEOUT_MS}. */
export function it(name: string, fn: TestFn): void;
export function it(
  name: string,
  options: nodeTest.TestOptions,
  fn: TestFn,
): void;
export function it(
  name: string,
  optionsOrFn: nodeTest.TestOptions | TestFn,
  maybeFn?: TestFn,
): void {
  const [options, fn] = typeof optionsOrFn === "function"
    ? [{}, optionsOrFn]
    : [optionsOrFn, maybeFn!];
  void nodeTest.it(name, { timeout: TEST_TIMEOUT_MS, ...options }, fn);
}

/**
 * Whether the environment says CI, by the rule of scripts/_exec.mjs: CI set
 * to anything but "", "0" or "false". A test that cannot run fails then.
 */
export function isCI(): boolean {
  const value = (process.env.CI ?? "").trim().toLowerCase();
  return value !== "" && value !== "0" && value !== "false";
}
