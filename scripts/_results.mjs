// Counting test results for the test scripts: every runtime writes a JUnit
// report (deno test --junit-path, node --test-reporter=junit, bun test
// --reporter=junit), read here into the same shape: leaf tests only (never a
// describe() block), each passed, failed or skipped (todos are skipped), with
// its full name ("describe > describe > it"). The scripts close with the line
// "N passed, N failed[, N skipped]", which `ownCounts` reads back.
// Plain JS ESM that runs on Node 20 and on Deno.
import { judgeSkips } from "./_skips.mjs";

/**
 * @typedef {{ name: string, kind: "skip" | "todo", reason: string }} Skip
 * @typedef {{ passed: number, failed: number, skips: Skip[], docs: number,
 *   failures: string[] }} Counts
 */

/** @param {string} text */
const unescape = (text) =>
  text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|quot|apos|amp);/gi, (_, e) => {
    const named = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
    if (e[0] !== "#") return named[/** @type {keyof named} */ (e)];
    return String.fromCodePoint(
      e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)),
    );
  });

/**
 * An attribute's value. Node escapes some characters twice ("&amp;quot;"):
 * decoding twice gives every runtime's names the same text.
 *
 * @param {string} attrs
 * @param {string} name
 */
const attr = (attrs, name) => {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? unescape(unescape(m[1] ?? "")) : undefined;
};

/**
 * The leaf tests of a JUnit report. Node nests a <testsuite> per describe()
 * block; Bun too, inside one per file (it has a `file` attribute equal to its
 * name); Deno names each case by its whole path ("a > b > leaf") and lists
 * the describe() blocks themselves as cases, which are dropped here. JSDoc
 * examples (Deno) are the cases of classname "./src/x.ts$12-20.ts".
 *
 * @param {string} xml
 * @returns {Counts}
 */
export function junitCounts(xml) {
  /** @type {string[]} */
  const suites = [];
  /** @type {{ name: string, doc: boolean, body: string }[]} */
  const cases = [];
  const re =
    /<(\/?)(testsuite|testcase)\b((?:[^>"]|"[^"]*")*?)(\/?)>|<\/testcase>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const [whole, close, tag, attrs = "", selfClosing] = m;
    if (whole === "</testcase>") continue;
    if (tag === "testsuite") {
      if (close) suites.pop();
      else if (!selfClosing) {
        const name = attr(attrs, "name") ?? "";
        const file = attr(attrs, "file");
        // Bun's per-file suite and Deno's per-module suites name no test.
        const isModule = file === name || /^(\.\/|file:|ext:)/.test(name);
        suites.push(isModule ? "" : name);
      }
      continue;
    }
    let body = "";
    if (!selfClosing) {
      const end = xml.indexOf("</testcase>", re.lastIndex);
      body = xml.slice(re.lastIndex, end < 0 ? undefined : end);
      re.lastIndex = end < 0 ? xml.length : end;
    }
    const own = attr(attrs, "name") ?? "";
    const name = [...suites.filter(Boolean), own].join(" > ");
    const classname = attr(attrs, "classname") ?? "";
    cases.push({ name, doc: /[#$]\d+-\d+\.\w+$/.test(classname), body });
  }
  // Deno lists describe() blocks as cases too: drop each case named as a
  // prefix of another's path.
  const containers = new Set();
  for (const { name } of cases) {
    const parts = name.split(" > ");
    for (let i = 1; i < parts.length; i++) {
      containers.add(parts.slice(0, i).join(" > "));
    }
  }
  /** @type {Counts} */
  const counts = { passed: 0, failed: 0, skips: [], docs: 0, failures: [] };
  for (const { name, doc, body } of cases) {
    if (containers.has(name)) continue;
    if (doc) counts.docs++;
    if (/<(failure|error)\b/.test(body)) {
      counts.failed++;
      counts.failures.push(name);
      continue;
    }
    const skipped = /<skipped\b([^>]*)>/.exec(body);
    if (!skipped) {
      counts.passed++;
      continue;
    }
    const type = attr(skipped[1] ?? "", "type");
    const message = attr(skipped[1] ?? "", "message") ?? "";
    const todo = type === "todo" || message === "TODO";
    counts.skips.push({
      name,
      kind: todo ? "todo" : "skip",
      reason: message === "true" || message === "TODO" ? "" : message,
    });
  }
  return counts;
}

/**
 * Failures that a Bun JUnit report leaves out (a file that failed to load is
 * an "error" in its summary only): the summary's " N fail" plus " N error".
 *
 * @param {string} out
 * @returns {number}
 */
export function bunSummaryFailures(out) {
  const last = (/** @type {RegExp} */ re) =>
    Number([...out.matchAll(re)].at(-1)?.[1] ?? 0);
  return last(/^ *(\d+) fail$/gm) + last(/^ *(\d+) errors?$/gm);
}

/**
 * "N passed, N failed[, N skipped]": the closing line of every test script.
 *
 * @param {{ passed: number, failed: number, skipped?: number }} counts
 * @returns {string}
 */
export function summary({ passed, failed, skipped = 0 }) {
  return `${passed} passed, ${failed} failed` +
    (skipped ? `, ${skipped} skipped` : "");
}

/**
 * The last summary line in a script's output (npm-build.ts, smoke.mjs), and
 * the skips it listed, one per line as "  skip: …" or "  todo: …".
 *
 * @param {string} out
 * @returns {{ passed: number, failed: number, skipped: number,
 *   listed: string[] }}
 */
export function ownCounts(out) {
  const re = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm;
  const [, passed = 0, failed = 0, skipped = 0] =
    [...out.matchAll(re)].at(-1) ??
      [];
  const listed = [...out.matchAll(/^ {2}((?:skip|todo): .*)$/gm)]
    .map((m) => m[1] ?? "");
  return { passed: +passed, failed: +failed, skipped: +skipped, listed };
}

/**
 * The verdict on one run of a test suite: it passed if its runner exited 0,
 * nothing failed and some test ran. Skips are listed by name; under CI each
 * one that scripts/_skips.mjs does not allow counts as a failure.
 *
 * @param {{ code: number, counts: { passed: number, failed: number,
 *   skips?: Skip[], skipped?: number, listed?: string[], docs?: number } }} run
 *   `skipped` and `listed`: skips already judged and listed by a script
 *   that runs suites itself (npm-build.ts), as `ownCounts` reads them.
 * @param {boolean} ci
 * @returns {{ passed: number, failed: number, skipped: number, docs: number,
 *   note: string, listed: string[] }} `note` says why it failed ("" if not);
 *   `listed` has one line per skip.
 */
export function judge({ code, counts }, ci) {
  const { passed, skips = [], docs = 0 } = counts;
  let { failed } = counts;
  let note = code === 0 ? "" : `exited with ${code}`;
  if (!note && failed) note = "failures but exit code 0";
  if (!note && !passed) note = "ran no tests";
  const { allowed, refused } = judgeSkips(skips, ci);
  if (refused.length) {
    failed += refused.length;
    note ||= `${refused.length} skipped under CI`;
  }
  if (note) failed = Math.max(failed, 1);
  const skipped = (counts.skipped ?? 0) + skips.length - refused.length;
  const listed = [...(counts.listed ?? []), ...refused, ...allowed];
  return { passed, failed, skipped, docs, note, listed };
}
