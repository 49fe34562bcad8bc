// The part of node:test the shared suites use, for a browser page: the
// Chromium step (scripts/chromium.mjs) bundles the suites with `node:test`
// resolved here. describe() and it() register; run() runs every test in
// order, each with its deadline, and reports each result as it ends.

/** Options of it() the suites use. */
export interface TestOptions {
  timeout?: number;
  skip?: boolean | string;
}
type Fn = (context: { signal: AbortSignal; name: string }) => unknown;
type Hook = () => unknown;
export type TestFn = Fn;

interface Suite {
  name: string;
  children: (Suite | Case)[];
  before: Hook[];
  after: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
}
interface Case {
  name: string;
  fn: Fn;
  options: TestOptions;
}

/** One test's outcome, as run() reports it. */
export interface Result {
  name: string;
  status: "pass" | "fail" | "skip";
  ms: number;
  error?: string;
}

const root: Suite = {
  name: "",
  children: [],
  before: [],
  after: [],
  beforeEach: [],
  afterEach: [],
};
let current = root;

export function describe(name: string, fn: () => void): void {
  const suite: Suite = {
    name,
    children: [],
    before: [],
    after: [],
    beforeEach: [],
    afterEach: [],
  };
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    fn();
  } finally {
    current = parent;
  }
}

export function it(
  name: string,
  optionsOrFn: TestOptions | Fn,
  maybeFn?: Fn,
): void {
  const [options, fn] = typeof optionsOrFn === "function"
    ? [{}, optionsOrFn]
    : [optionsOrFn, maybeFn!];
  current.children.push({ name, fn, options });
}
export const test = it;

export const before = (fn: Hook): void => void current.before.push(fn);
export const after = (fn: Hook): void => void current.after.push(fn);
export const beforeEach = (fn: Hook): void => void current.beforeEach.push(fn);
export const afterEach = (fn: Hook): void => void current.afterEach.push(fn);

const describeError = (error: unknown): string =>
  error instanceof Error
    ? `${error.name}: ${error.message}\n${error.stack ?? ""}`
    : String(error);

/** Runs `fn` with a deadline; rejects when it passes. */
async function withDeadline(fn: Fn, name: string, ms: number): Promise<void> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`test timed out after ${ms} ms`));
    }, ms);
  });
  try {
    await Promise.race([fn({ signal: controller.signal, name }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs every registered test in order (hooks around them as node:test runs
 * them) and calls `report` with each result; resolves with all of them.
 */
export async function run(
  report: (result: Result) => unknown,
): Promise<Result[]> {
  const results: Result[] = [];
  const visit = async (
    suite: Suite,
    path: string[],
    eachBefore: Hook[],
    eachAfter: Hook[],
  ) => {
    const befores = [...eachBefore, ...suite.beforeEach];
    const afters = [...suite.afterEach, ...eachAfter];
    for (const hook of suite.before) await hook();
    for (const child of suite.children) {
      if ("children" in child) {
        await visit(child, [...path, child.name], befores, afters);
        continue;
      }
      const name = [...path, child.name].join(" > ");
      const started = performance.now();
      let result: Result;
      if (child.options.skip) {
        result = { name, status: "skip", ms: 0 };
      } else {
        try {
          for (const hook of befores) await hook();
          await withDeadline(child.fn, name, child.options.timeout ?? 60_000);
          for (const hook of afters) await hook();
          result = { name, status: "pass", ms: performance.now() - started };
        } catch (error) {
          result = {
            name,
            status: "fail",
            ms: performance.now() - started,
            error: describeError(error),
          };
        }
      }
      results.push(result);
      await report(result);
    }
    for (const hook of suite.after) await hook();
  };
  await visit(root, [], [], []);
  return results;
}
