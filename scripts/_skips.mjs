// Which skipped tests a run may have, and why. A skip (or a todo) is a test
// that did not run, so it is never a pass: every script counts it apart and
// lists it by name. Under CI (scripts/_exec.mjs `isCI`) a skip is a failure
// unless it is in ALLOWED_SKIPS below, with the reason it may not run there.
// Plain JS ESM that runs on Node 20 and on Deno.

/**
 * Skips allowed under CI: a test's full name ("describe > it", as
 * scripts/_results.mjs reports it), or a RegExp over it, with the reason.
 * Every test runs in CI (.ci/run installs what the tests need); what is here
 * is a test file that cannot run against the npm package (npm-build.ts
 * counts it as a skipped test of the whole file), and still runs on every
 * runtime from the sources.
 *
 * @type {readonly { test: string | RegExp, reason: string }[]}
 */
export const ALLOWED_SKIPS = [
  {
    test: "tests/fs_hardening_test.ts (the whole file)",
    reason: "it finds entry files by FsStore's private key hashing " +
      "(src/fs/_layout.ts), which the package does not export; it runs " +
      "from the sources on every runtime",
  },
];

/**
 * Splits skipped tests into those allowed here and those that fail the run:
 * outside CI every skip is allowed (and still listed); under CI only those
 * on ALLOWED_SKIPS are.
 *
 * @param {readonly import("./_results.mjs").Skip[]} skips
 * @param {boolean} ci
 * @returns {{ allowed: string[], refused: string[] }} One line per skip.
 */
export function judgeSkips(skips, ci) {
  /** @type {string[]} */
  const allowed = [];
  /** @type {string[]} */
  const refused = [];
  for (const { name, kind, reason } of skips) {
    const line = `${kind}: ${name}${reason ? ` (${reason})` : ""}`;
    const listed = ALLOWED_SKIPS.find(({ test }) =>
      typeof test === "string" ? test === name : test.test(name)
    );
    if (!ci || listed) {
      allowed.push(listed ? `${line}: ${listed.reason}` : line);
    } else refused.push(`${line}: not on ALLOWED_SKIPS (scripts/_skips.mjs)`);
  }
  return { allowed, refused };
}
