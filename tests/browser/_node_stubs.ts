// What the shared suites' helpers (tests/_helpers.ts, tests/_testing.ts)
// take from node:process, node:v8, node:vm and node:crypto, for a browser
// page: the Chromium step bundles them resolved here. A page has no
// process memory figures nor a gc() to call: the tests that need them
// (the conformance suite's `bulk` ones) are left out of the page's run.

const unavailable = (what: string) => () => {
  throw new Error(`${what} is not available in a browser page`);
};

/** The default export of each of them: node:process's, with v8's and vm's gc() plumbing. */
const builtin = {
  env: {} as Record<string, string | undefined>,
  versions: {} as Record<string, string | undefined>,
  memoryUsage: unavailable("process.memoryUsage()"),
  setFlagsFromString: unavailable("v8.setFlagsFromString()"),
  runInNewContext: unavailable("vm.runInNewContext()"),
};
export default builtin;
export const createHash = unavailable("node:crypto createHash()");
