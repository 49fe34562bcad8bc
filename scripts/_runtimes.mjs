// How each runtime runs the node:test files, for scripts/test.mjs and for
// npm-build.ts (the suite against the built package): the command, a JUnit
// report counted by scripts/_results.mjs, and the runtime's own per-test
// limit as a backstop behind the tests' explicit timeouts (tests/_testing.ts).
// Plain JS ESM that runs on Node 20 and on Deno.
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, exec } from "./_exec.mjs";
import { nodeBin } from "./_nodes.mjs";
import { bunSummaryFailures, junitCounts } from "./_results.mjs";

/** The runtimes' own per-test limit (Node and Bun; Deno has none). */
export const BACKSTOP_MS = 5 * 60_000;

/**
 * The command that runs `files` on `runtime` and writes a JUnit report to
 * `junit`.
 *
 * @param {string} runtime deno, bun, node20, node22 or node24
 * @param {readonly string[]} files Test files (paths relative to the cwd),
 *   or, for Deno, anything `deno test` takes.
 * @param {string} junit
 * @param {readonly string[]} [flags] More flags for the runtime.
 * @returns {[string, string[]]}
 */
export function testCommand(runtime, files, junit, flags = []) {
  if (runtime === "deno") {
    return [join(BIN, "deno"), [
      "test",
      "-A",
      ...flags,
      `--junit-path=${junit}`,
      ...files,
    ]];
  }
  if (runtime === "bun") {
    // Bun takes an argument without a leading "./" as a name filter.
    return [join(BIN, "bun"), [
      "test",
      ...flags,
      `--timeout=${BACKSTOP_MS}`,
      "--reporter=junit",
      `--reporter-outfile=${junit}`,
      ...files.map((f) => f.startsWith("/") ? f : `./${f}`),
    ]];
  }
  return [nodeBin(runtime), [
    ...flags,
    `--test-timeout=${BACKSTOP_MS}`,
    "--test-reporter=spec", // the default only on a terminal
    "--test-reporter-destination=stdout",
    "--test-reporter=junit",
    `--test-reporter-destination=${junit}`,
    "--test",
    ...files,
  ]];
}

/**
 * Runs `files` on `runtime` and counts the results from its JUnit report.
 *
 * @param {string} runtime
 * @param {readonly string[]} files
 * @param {{ cwd?: string, flags?: readonly string[] }} [options]
 * @returns {Promise<{ code: number, out: string,
 *   counts: import("./_results.mjs").Counts }>}
 */
export async function runTests(runtime, files, options = {}) {
  const dir = fs.mkdtempSync(join(tmpdir(), "streamcache-junit-"));
  try {
    const junit = join(dir, "report.xml");
    const [cmd, argv] = testCommand(runtime, files, junit, options.flags);
    const { code, out } = await exec(
      cmd,
      argv,
      options.cwd ? { cwd: options.cwd } : {},
    );
    const xml = fs.existsSync(junit) ? fs.readFileSync(junit, "utf8") : "";
    const counts = junitCounts(xml);
    // A file that fails to load is in Bun's summary, not in its report.
    if (runtime === "bun") {
      counts.failed = Math.max(counts.failed, bunSummaryFailures(out));
    }
    return { code, out, counts };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
