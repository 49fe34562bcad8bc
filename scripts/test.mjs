// Multi-runtime test runner: `npm test` (= `node scripts/test.mjs`).
// Plain JS ESM that runs on Node 20.19+ (the system node).
//
//   node scripts/test.mjs                     every step below
//   node scripts/test.mjs --only deno,bun     only the named steps
//   node scripts/test.mjs --verbose           print every step's full output
//   npm test -- --only bun --verbose          the same through npm
//
// Steps (two at a time; each prints one summary line, and its buffered output
// whole when it fails):
//   deno     deno test -A --doc: tests/ (node:test files and the Deno-only
//            tests/deno/), plus the JSDoc examples of mod.ts and src/
//   node20   tsc -p tsconfig.build.json into .build/, then node --test on
//            the built .build/tests/**/*_test.js
//   bun      bun test ./tests/**/*_test.ts (not tests/deno/)
//   node22   node --test tests/**/*_test.ts (Node strips the types itself)
//   node24   the same on Node 24
//   chromium scripts/chromium.mjs: tests/browser/ pages (the conformance
//            suite over IndexedDB, the service-worker scenarios) in headless
//            Debian chromium through playwright-core (one test per test)
//   check, fmt, lint, doc-lint, publish: deno check mod.ts src tests
//            npm-build.ts, deno fmt --check, deno lint, deno doc --lint
//            <every export>, deno publish --dry-run --allow-dirty (one each)
//   doc-examples  scripts/doc_examples.mjs: every exported symbol has a
//            titled @example, and every example asserts (one test)
//   timeouts  no test file takes it() or test() from node:test itself, so
//            every test has the deadline of tests/_testing.ts (one test)
//   npm-build  deno run -A npm-build.ts --no-test: the npm package in npm/
//            (with its own checks), then npm pack (one test)
//   npm-node20, npm-node22, npm-node24, npm-bun: the suite run against the
//            built package (npm-build.ts --test-only --runtimes=<runtime>)
//   smoke    scripts/smoke.mjs on the tarball: a consumer installs it and
//            imports every subpath (one test per runtime/tsc/bundle check)
//   publint, attw: publint --strict and @arethetypeswrong/cli (ESM-only
//            profile) on the tarball (one test each)
//
// Counts are individual tests (it()s, leaf steps), never describe() blocks,
// read from each runtime's JUnit report (scripts/_results.mjs). Skips and
// todos are counted apart and listed by name; under CI (`CI` set to anything
// but "", "0" or "false") a skip is a failure unless scripts/_skips.mjs
// allows it, with a reason. The last line is "N passed, N failed[, N
// skipped]"; the exit code is 1 when a step failed, a runner exited non-zero
// or a runtime ran no tests.
//
// Timeouts: every test has its own (tests/_testing.ts, 60 s unless the
// test says otherwise), so a lost wake-up fails that test fast, by name; the
// runtimes get a backstop for the rest (node --test-timeout, bun --timeout).
// Every command runs in a process group of its own (scripts/_group.mjs) with
// a 15-minute deadline: a hung step, and whatever it started, is killed, and
// killing this runner (even with SIGKILL) kills every process it started.
//
// The pinned Node 20/22/24 (tools/nodes) are installed on first use, each
// only when a selected step needs it. They are linux-x64 builds: on another
// kind of machine the steps that need them fail with a message saying so,
// and the runner prints the `--only` list of the steps that can run there
// (deno, bun, npm-bun, the checks).
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { exec, isCI, PARALLEL, pool, readJson, ROOT } from "./_exec.mjs";
import { ensureNodes, NODES, nodesUnavailable } from "./_nodes.mjs";
import { judge, ownCounts, summary } from "./_results.mjs";
import { runTests } from "./_runtimes.mjs";

process.chdir(ROOT);
const CI = isCI();

function die(message) {
  console.error(`scripts/test.mjs: ${message}`);
  process.exit(2);
}

// ---- command line ---------------------------------------------------------
const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const onlyAt = args.indexOf("--only");
const only = onlyAt < 0 ? null : (args[onlyAt + 1] ?? "").split(",");
const extra = args.filter((a, i) =>
  a !== "--verbose" && (onlyAt < 0 || (i !== onlyAt && i !== onlyAt + 1))
);
if (extra.length || only?.includes("")) {
  die(`usage: node scripts/test.mjs [--only step,step] [--verbose]`);
}
if (!fs.existsSync("node_modules/.bin/deno")) {
  die("node_modules/.bin/deno is missing: run `npm ci` first");
}

// Test files for every runtime: tests/**/*_test.ts except tests/deno/.
function findTests(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return path === "tests/deno" ? [] : findTests(path);
    return e.name.endsWith("_test.ts") ? [path] : [];
  }).sort();
}
const testFiles = fs.existsSync("tests") ? findTests("tests") : [];
const tmp = fs.mkdtempSync(join(tmpdir(), "streamcache-test-"));

// ---- results --------------------------------------------------------------
/** A step's verdict: scripts/_results.mjs `judge`, plus its output. */
const suite = (run) => ({ ...judge(run, CI), out: run.out });

/** A step that could not run, or whose preparation failed: one failure. */
const broken = (note, out = "") => ({
  passed: 0,
  failed: 1,
  skipped: 0,
  docs: 0,
  note,
  listed: [],
  out,
});

/** A command that counts as one test, passed if it exits 0. */
const single = ({ code, out }) =>
  suite({ code, out, counts: { passed: code === 0 ? 1 : 0, failed: 0 } });
const check = (...argv) => async () => single(await exec("deno", argv));

// ---- the npm package ------------------------------------------------------
// Built and packed once, by the first step that needs it.
const NPM_BUILD = ["run", "-A", "npm-build.ts"];
let npmPackage;
const packed = () =>
  npmPackage ??= (async () => {
    const build = await exec("deno", [...NPM_BUILD, "--no-test"]);
    if (build.code !== 0) return { out: build.out };
    const dir = join(tmp, "pack");
    fs.mkdirSync(dir);
    const pack = await exec("npm", [
      "pack",
      "./npm",
      "--pack-destination",
      dir,
    ]);
    const tgz = fs.readdirSync(dir).find((f) => f.endsWith(".tgz"));
    const out = `${build.out}\nnpm pack ./npm:\n${pack.out}`;
    return pack.code === 0 && tgz ? { out, tgz: join(dir, tgz) } : { out };
  })();

/** A step on the packed tarball: one test, or the counts of its own summary. */
const onPackage = (fn, counted) => async () => {
  const { tgz } = await packed();
  if (!tgz) return broken("no package (see npm-build)");
  const r = await fn(tgz);
  return counted ? suite({ ...r, counts: ownCounts(r.out) }) : single(r);
};
const npmTests = (runtime) =>
  onPackage(() => {
    const argv = [...NPM_BUILD, "--test-only", `--runtimes=${runtime}`];
    return exec("deno", argv);
  }, true);

// ---- the steps ------------------------------------------------------------
const tests = (runtime, files, flags) => async () =>
  suite(await runTests(runtime, files, { flags }));

/** Each step, and the pinned Nodes it needs. */
const STEPS = {
  "npm-build": {
    run: async () => {
      const { out, tgz } = await packed();
      return tgz
        ? single({ code: 0, out })
        : broken("npm-build.ts or npm pack failed", out);
    },
  },
  deno: { run: tests("deno", ["tests/", "mod.ts", "src/"], ["--doc"]) },
  node20: {
    nodes: ["node20"],
    run: async () => {
      fs.rmSync(".build", { recursive: true, force: true }); // no stale output
      const build = await exec("tsc", ["-p", "tsconfig.build.json"]);
      if (build.code !== 0) {
        const out = `tsc -p tsconfig.build.json:\n${build.out}`;
        return broken("type errors in tsc -p tsconfig.build.json", out);
      }
      // Node 20 neither strips types nor expands globs: name each built file.
      const built = testFiles.map((f) => `.build/${f.replace(/ts$/, "js")}`);
      return tests("node20", built, ["--enable-source-maps"])();
    },
  },
  bun: { run: tests("bun", testFiles) },
  node22: { nodes: ["node22"], run: tests("node22", testFiles) },
  node24: { nodes: ["node24"], run: tests("node24", testFiles) },
  chromium: {
    run: async () => {
      const r = await exec(process.execPath, ["scripts/chromium.mjs"]);
      return suite({ ...r, counts: ownCounts(r.out) });
    },
  },
  "npm-node20": { nodes: ["node20"], run: npmTests("node20") },
  "npm-node22": { nodes: ["node22"], run: npmTests("node22") },
  "npm-node24": { nodes: ["node24"], run: npmTests("node24") },
  "npm-bun": { run: npmTests("bun") },
  smoke: {
    nodes: NODES,
    run: onPackage(
      (tgz) => exec(process.execPath, ["scripts/smoke.mjs", tgz]),
      true,
    ),
  },
  check: { run: check("check", "mod.ts", "src", "tests", "npm-build.ts") },
  fmt: { run: check("fmt", "--check") },
  lint: { run: check("lint") },
  // Every entry point of deno.json's exports map.
  "doc-lint": {
    run: check(
      "doc",
      "--lint",
      ...Object.values(readJson("deno.json").exports),
    ),
  },
  "doc-examples": {
    run: async () =>
      single(await exec(process.execPath, ["scripts/doc_examples.mjs"])),
  },
  timeouts: { run: () => untimedTests() },
  publish: { run: check("publish", "--dry-run", "--allow-dirty") },
  publint: {
    run: onPackage((tgz) => exec("publint", ["run", tgz, "--strict"])),
  },
  // ESM only by design: no CJS build, so no node10 or require() resolution.
  attw: {
    run: onPackage((tgz) => {
      const argv = ["--profile", "esm-only", "--no-definitely-typed"];
      return exec("attw", [tgz, ...argv, "--no-color"]);
    }),
  },
};
const RUNTIMES = new Set(["bun", ...NODES]);

/** The `timeouts` step: test files that import it() or test() from node:test. */
function untimedTests() {
  const all = (dir) =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) return path === "tests/deno" ? [] : all(path);
      return /\.m?[jt]s$/.test(e.name) ? [path] : [];
    });
  const imports = /import\s*(\*\s*as\s+\w+|\{[^}]*\})\s*from\s*"node:test"/g;
  const bad = all("tests").filter((file) => {
    if (file === "tests/_testing.ts") return false;
    const text = fs.readFileSync(file, "utf8");
    return [...text.matchAll(imports)].some(([, what]) =>
      what.startsWith("*") || /\b(it|test)\b/.test(what)
    );
  });
  const out = bad.map((file) =>
    `${file} takes it() from node:test: import it from "./_testing.ts"\n`
  ).join("");
  return Promise.resolve(single({ code: bad.length ? 1 : 0, out }));
}

// ---- main -----------------------------------------------------------------
const unknown = only?.filter((name) => !(name in STEPS)) ?? [];
if (unknown.length) {
  die(`unknown step ${unknown}; steps: ${Object.keys(STEPS).join(",")}`);
}
// In STEPS order: the slow test suites first, the quick checks last.
const selected = Object.keys(STEPS).filter((name) =>
  only?.includes(name) ?? true
);
const unavailable = nodesUnavailable();
const needNodes = (name) => STEPS[name].nodes ?? [];
const runnable = selected.filter((name) =>
  !unavailable || !needNodes(name).length
);
try {
  await ensureNodes([...new Set(runnable.flatMap(needNodes))].sort());
} catch (error) {
  die(String(error?.message ?? error));
}

const totals = { passed: 0, failed: 0, skipped: 0 };

async function runStep(name) {
  if (!runnable.includes(name)) {
    const needs = needNodes(name).join(", ");
    return broken(`cannot run here: it needs ${needs}, and ${unavailable}`);
  }
  if (RUNTIMES.has(name) && !testFiles.length) {
    return broken("ran no tests (no tests/**/*_test.ts)");
  }
  try {
    return await STEPS[name].run();
  } catch (err) {
    return broken("crashed", String(err?.stack ?? err));
  }
}

await pool(selected, async (name) => {
  const started = Date.now();
  const res = await runStep(name);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  totals.passed += res.passed;
  totals.failed += res.failed;
  totals.skipped += res.skipped;
  const out = res.out.trimEnd();
  if (out && (verbose || res.note)) {
    console.log(`\n──── ${name} ────\n${out}\n──── end of ${name} ────`);
  }
  let line = `${name.padEnd(12)} ${summary(res)}   (${secs} s)`;
  if (res.docs) line += `   incl. ${res.docs} doc examples`;
  console.log(res.note ? `${line}   FAILED: ${res.note}` : line);
  for (const skip of res.listed) console.log(`  ${skip}`);
}, PARALLEL);

fs.rmSync(tmp, { recursive: true, force: true });
if (selected.length > runnable.length) {
  const here = Object.keys(STEPS).filter((name) => !needNodes(name).length);
  console.log(
    `Steps that need the pinned Nodes cannot run on this machine; the others: ` +
      `npm test -- --only ${here.join(",")}`,
  );
}
console.log(summary(totals));
process.exitCode = totals.failed ? 1 : 0;
