// Which skipped tests a run may have, and why. A skip (or a todo) is a test
// that did not run, so it is never a pass: every script counts it apart and
// lists it by name. Under CI (scripts/_exec.mjs `isCI`) a skip is a failure
// unless it is allowed below, with the reason it may not run there.
// Plain JS ESM that runs on Node 20 and on Deno.

/**
 * Single tests allowed to skip under CI: a test's full name ("describe >
 * it", as scripts/_results.mjs reports it), or a RegExp over it, with the
 * reason. Empty: every test runs in CI (.ci/run installs what they need).
 *
 * @type {readonly { test: string | RegExp, reason: string }[]}
 */
export const ALLOWED_SKIPS = [];

/**
 * Test files that do not run against the npm package (npm-build.ts
 * --test-only), and why. Each runs from the sources on every runtime; in the
 * package's run it is a skipped test of the whole file (see `wholeFile`),
 * allowed under CI. A test file that cannot run against the package and is
 * not here fails that run under CI.
 *
 * @type {Readonly<Record<string, string>>}
 */
export const SOURCE_ONLY = {
  "tests/readme_test.ts":
    "it checks README.md against the programs of examples/ in the " +
    "repository, and runs them",
  "tests/fs_read_mode_test.ts":
    "it tests FsStore's private read helper (src/fs/_read_fully.ts), which " +
    "the package does not export",
  "tests/recipes_test.ts":
    "it runs the server recipes of examples/servers/ as written, from the " +
    "repository",
};

/**
 * The name of the skipped test that stands for a whole test file left out.
 *
 * @param {string} file
 * @returns {string}
 */
export const wholeFile = (file) => `${file} (the whole file)`;

/**
 * Splits skipped tests into those allowed here and those that fail the run:
 * outside CI every skip is allowed (and still listed); under CI only those
 * that ALLOWED_SKIPS or SOURCE_ONLY allow.
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
  const files = Object.entries(SOURCE_ONLY).map(([file, reason]) => ({
    test: wholeFile(file),
    reason,
  }));
  for (const { name, kind, reason } of skips) {
    const line = `${kind}: ${name}${reason ? ` (${reason})` : ""}`;
    const listed = [...ALLOWED_SKIPS, ...files].find(({ test }) =>
      typeof test === "string" ? test === name : test.test(name)
    );
    if (!ci || listed) {
      allowed.push(listed ? `${line}: ${listed.reason}` : line);
    } else refused.push(`${line}: not allowed in scripts/_skips.mjs`);
  }
  return { allowed, refused };
}
