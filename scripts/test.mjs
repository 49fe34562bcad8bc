// Multi-runtime test runner: `npm test` (= `node scripts/test.mjs`).
// Plain JS ESM that runs on Node 20 (the system node).
//
//   node scripts/test.mjs                     every step below
//   node scripts/test.mjs --only deno,node22  only the named steps
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
//   check, fmt, lint, doc-lint, publish: deno check mod.ts src tests
//            npm-build.ts, deno fmt --check, deno lint, deno doc --lint
//            <every export>, deno publish --dry-run --allow-dirty (one each)
//   doc-examples  scripts/doc_examples.mjs: every exported symbol has a
//            titled @example (one test)
//   npm-build  deno run -A npm-build.ts --no-test: the npm package in npm/
//            (with its own checks), then npm pack (one test)
//   npm-node20, npm-node22, npm-node24, npm-bun: the suite run against the
//            built package (npm-build.ts --test-only --runtimes=<runtime>)
//   smoke    scripts/smoke.mjs on the tarball: a consumer installs it and
//            imports every subpath (one test per runtime/tsc/bundle check)
//   publint, attw: publint --strict and @arethetypeswrong/cli (ESM-only
//            profile) on the tarball (one test each)
// Counts are individual tests (it()s, leaf steps), never describe() blocks.
// The last line is "N passed, N failed"; the exit code is 1 when a step
// failed, a runner exited non-zero or a runtime ran no tests.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
process.chdir(ROOT);
const PARALLEL = 2; // the machines have 2 cores
const TIMEOUT_MS = 15 * 60_000; // a hung runtime must not hang CI
const NODES = ["node20", "node22", "node24"];
const nodeBin = (name) => `tools/nodes/node_modules/${name}/bin/node`;
const readJson = (path) => JSON.parse(fs.readFileSync(path, "utf8"));

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

// ---- environment ----------------------------------------------------------
if (process.platform !== "linux" || process.arch !== "x64") {
  const here = `${process.platform}-${process.arch}`;
  die(`the pinned runtimes are linux-x64 builds; this machine is ${here}`);
}
if (!fs.existsSync("node_modules/.bin/deno")) {
  die("node_modules/.bin/deno is missing: run `npm ci` first");
}

// Install the pinned Nodes when they are absent or not the pinned versions.
const pinned = readJson("tools/nodes/package.json").dependencies;
const stale = NODES.filter((name) => {
  const manifest = `tools/nodes/node_modules/${name}/package.json`;
  if (!fs.existsSync(nodeBin(name)) || !fs.existsSync(manifest)) return true;
  return !pinned[name]?.endsWith(`@${readJson(manifest).version}`);
});
if (stale.length) {
  console.log(`tools/nodes: installing ${stale} (npm ci --prefix tools/nodes)`);
  const npmArgs = ["ci", "--prefix", "tools/nodes", "--no-audit", "--no-fund"];
  const r = spawnSync("npm", npmArgs, { encoding: "utf8" });
  if (r.status !== 0) {
    die(`npm ci --prefix tools/nodes failed:\n${r.stdout}${r.stderr}`);
  }
}

const bin = join(ROOT, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
env.NO_COLOR = "1"; // plain output, for parsing and for logs
delete env.FORCE_COLOR; // Node warns when both are set

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

// ---- running and counting -------------------------------------------------
/** Runs a command; resolves to its exit code and its stdout+stderr. */
function exec(cmd, argv) {
  return new Promise((resolve) => {
    const chunks = [];
    const push = (text) => chunks.push(Buffer.from(text));
    const child = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => chunks.push(chunk));
    child.stderr.on("data", (chunk) => chunks.push(chunk));
    child.on("error", (err) => push(`\n[test.mjs] ${cmd}: ${err.message}\n`));
    const timer = setTimeout(() => {
      push(`\n[test.mjs] killed after ${TIMEOUT_MS / 1000} s\n`);
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(chunks).toString("utf8");
      resolve({ code: code ?? signal, out });
    });
  });
}

/** The number in the last match of `re` (a /gm regexp), or 0. */
const last = (out, re) => Number([...out.matchAll(re)].at(-1)?.[1] ?? 0);

// node --test-reporter=spec closes with "ℹ tests N", "ℹ suites N" (describe
// blocks, counted apart), "ℹ pass N", "ℹ fail N", "ℹ cancelled N" (a file
// that failed to load, a timeout: counted as failed), "ℹ skipped N", "ℹ todo N".
const nodeCounts = (out) => ({
  passed: last(out, /^ℹ pass (\d+)$/gm),
  failed: last(out, /^ℹ fail (\d+)$/gm) + last(out, /^ℹ cancelled (\d+)$/gm),
  skipped: last(out, /^ℹ skipped (\d+)$/gm) + last(out, /^ℹ todo (\d+)$/gm),
});

// bun test closes with " N pass", " N skip", " N todo", " N fail" (per it()).
const bunCounts = (out) => ({
  passed: last(out, /^ *(\d+) pass$/gm),
  failed: last(out, /^ *(\d+) fail$/gm),
  skipped: last(out, /^ *(\d+) skip$/gm) + last(out, /^ *(\d+) todo$/gm),
});

// Deno's summary ("N passed (M steps)") counts describe() blocks, and
// Deno.test()s that only hold steps, as tests too. Its JUnit report names each
// test and step by its path ("outer > inner > leaf"): count only the leaves.
// JSDoc examples are the cases of classname "./src/x.ts#12-20.ts".
function denoCounts(xml) {
  const re =
    /<testcase name="([^"]*)" classname="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  const cases = [...xml.matchAll(re)];
  const containers = new Set();
  for (const [, name] of cases) {
    const parts = name.split(" &gt; ");
    for (let i = 1; i < parts.length; i++) {
      containers.add(parts.slice(0, i).join(" &gt; "));
    }
  }
  const counts = { passed: 0, failed: 0, skipped: 0, docs: 0 };
  for (const [, name, classname, body = ""] of cases) {
    if (containers.has(name)) continue;
    if (/#\d+-\d+\.\w+$/.test(classname)) counts.docs++;
    if (/<failure|<error/.test(body)) counts.failed++;
    else if (body.includes("<skipped")) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

/** A step's result; a failed step always counts at least one failure. */
function result({ passed = 0, failed = 0, skipped = 0, docs = 0 }, note, out) {
  if (note) failed = Math.max(failed, 1);
  return { passed, failed, skipped, docs, ok: !note, note, out };
}

/** A test suite passes if its runner exited 0, nothing failed, some ran. */
function suite({ code, out }, counts) {
  let note = code === 0 ? "" : `exited with ${code}`;
  if (!note && counts.failed) note = "failures but exit code 0";
  if (!note && !counts.passed) note = "ran no tests";
  return result(counts, note, out);
}

/** A static check counts as one test, passed if the command exits 0. */
const check = (...argv) => async () => {
  const { code, out } = await exec("deno", argv);
  const ok = code === 0;
  return result({ passed: ok ? 1 : 0 }, ok ? "" : `exited with ${code}`, out);
};

// npm-build.ts and scripts/smoke.mjs close with "N passed, N failed[, N skipped]".
function ownCounts(out) {
  const re = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm;
  const [, passed = 0, failed = 0, skipped = 0] =
    [...out.matchAll(re)].at(-1) ?? [];
  return { passed: +passed, failed: +failed, skipped: +skipped };
}

// The npm package: built and packed once, by the first step that needs it.
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

/** A step on the packed tarball: one test, or `counts` of its output. */
const onPackage = (fn, counts) => async () => {
  const { tgz } = await packed();
  if (!tgz) return result({}, "no package (see npm-build)", "");
  const r = await fn(tgz);
  if (counts) return suite(r, counts(r.out));
  const note = r.code === 0 ? "" : `exited with ${r.code}`;
  return result({ passed: note ? 0 : 1 }, note, r.out);
};
const npmTests = (runtime) =>
  onPackage(() => {
    const argv = [...NPM_BUILD, "--test-only", `--runtimes=${runtime}`];
    return exec("deno", argv);
  }, ownCounts);

const nodeTests = (node, files, flags = []) => async () => {
  const r = await exec(nodeBin(node), [...flags, "--test", ...files]);
  return suite(r, nodeCounts(r.out));
};
const SPEC = "--test-reporter=spec"; // the default only on a terminal

const STEPS = {
  "npm-build": async () => {
    const { out, tgz } = await packed();
    const note = tgz ? "" : "npm-build.ts or npm pack failed";
    return result({ passed: tgz ? 1 : 0 }, note, out);
  },
  deno: async () => {
    const junit = join(tmp, "deno-junit.xml");
    const argv = ["test", "-A", "--doc", `--junit-path=${junit}`];
    const r = await exec("deno", [...argv, "tests/", "mod.ts", "src/"]);
    const xml = fs.existsSync(junit) ? fs.readFileSync(junit, "utf8") : "";
    return suite(r, denoCounts(xml));
  },
  node20: async () => {
    fs.rmSync(".build", { recursive: true, force: true }); // no stale output
    const build = await exec("tsc", ["-p", "tsconfig.build.json"]);
    if (build.code !== 0) {
      const out = `tsc -p tsconfig.build.json:\n${build.out}`;
      return result({}, "type errors in tsc -p tsconfig.build.json", out);
    }
    // Node 20 neither strips types nor expands globs: name each built file.
    const built = testFiles.map((f) => `.build/${f.replace(/ts$/, "js")}`);
    const flags = ["--enable-source-maps", SPEC];
    return nodeTests("node20", built, flags)();
  },
  // Bun takes an argument without a leading "./" as a name filter, not a path.
  bun: async () => {
    const r = await exec("bun", ["test", ...testFiles.map((f) => `./${f}`)]);
    return suite(r, bunCounts(r.out));
  },
  node22: nodeTests("node22", testFiles, [SPEC]),
  node24: nodeTests("node24", testFiles, [SPEC]),
  "npm-node20": npmTests("node20"),
  "npm-node22": npmTests("node22"),
  "npm-node24": npmTests("node24"),
  "npm-bun": npmTests("bun"),
  smoke: onPackage((tgz) => {
    return exec(process.execPath, ["scripts/smoke.mjs", tgz]);
  }, ownCounts),
  check: check("check", "mod.ts", "src", "tests", "npm-build.ts"),
  fmt: check("fmt", "--check"),
  lint: check("lint"),
  // Every entry point of deno.json's exports map.
  "doc-lint": check(
    "doc",
    "--lint",
    ...Object.values(readJson("deno.json").exports),
  ),
  "doc-examples": async () => {
    const { code, out } = await exec(process.execPath, [
      "scripts/doc_examples.mjs",
    ]);
    const note = code === 0 ? "" : `exited with ${code}`;
    return result({ passed: note ? 0 : 1 }, note, out);
  },
  publish: check("publish", "--dry-run", "--allow-dirty"),
  publint: onPackage((tgz) => exec("publint", ["run", tgz, "--strict"])),
  // ESM only by design: no CJS build, so no node10 or require() resolution.
  attw: onPackage((tgz) => {
    const argv = ["--profile", "esm-only", "--no-definitely-typed"];
    return exec("attw", [tgz, ...argv, "--no-color"]);
  }),
};
const RUNTIMES = new Set(["deno", "bun", ...NODES]);

// ---- main -----------------------------------------------------------------
const unknown = only?.filter((name) => !(name in STEPS)) ?? [];
if (unknown.length) {
  die(`unknown step ${unknown}; steps: ${Object.keys(STEPS).join(",")}`);
}
// In STEPS order: the slow test suites first, the quick checks last.
const queue = Object.keys(STEPS).filter((name) => only?.includes(name) ?? true);
const totals = { passed: 0, failed: 0 };

async function runStep(name) {
  if (RUNTIMES.has(name) && name !== "deno" && !testFiles.length) {
    return result({}, "ran no tests (no tests/**/*_test.ts)", "");
  }
  try {
    return await STEPS[name]();
  } catch (err) {
    return result({}, "crashed", String(err?.stack ?? err));
  }
}

async function worker() {
  for (let name = queue.shift(); name; name = queue.shift()) {
    const started = Date.now();
    const res = await runStep(name);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    totals.passed += res.passed;
    totals.failed += res.failed;
    const out = res.out.trimEnd();
    if (out && (verbose || !res.ok)) {
      console.log(`\n──── ${name} ────\n${out}\n──── end of ${name} ────`);
    }
    let line = `${name.padEnd(12)} ${res.passed} passed, ${res.failed} failed`;
    if (res.skipped) line += `, ${res.skipped} skipped`;
    line += `   (${secs} s)`;
    if (res.docs) line += `   incl. ${res.docs} doc examples`;
    console.log(res.note ? `${line}   FAILED: ${res.note}` : line);
  }
}

await Promise.all(Array.from({ length: PARALLEL }, worker));
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exitCode = totals.failed ? 1 : 0;
