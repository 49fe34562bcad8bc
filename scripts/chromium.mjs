// The browser tests: `node scripts/chromium.mjs` (scripts/test.mjs runs it
// as its `chromium` step). Plain JS ESM that runs on Node 20.
//
// It bundles the pages of tests/browser/ with esbuild for the browser (the
// shared suites' `node:test`, `node:assert/strict` and the few `node:`
// helpers resolved to tests/browser/_*.ts), serves them from a static server
// on 127.0.0.1 (a secure context: IndexedDB, Web Locks and service workers
// work there), and runs them in headless Chromium driven by playwright-core.
// Each page reports every test as it ends, then the scenarios of
// scripts/_chromium_scenarios.mjs run (a service worker, two tabs, a
// browser killed and relaunched, a quota); each test is one line here, and
// the last line is "N passed, N failed". `--only suites` or `--only
// scenarios` runs one half.
//
// Playwright starts Chromium in a process group of its own, talking to it
// over a pipe: when this process dies, even by SIGKILL, the pipe closes and
// Chromium exits.
//
// The browser is Debian's chromium (`apt-get install -y chromium`, which
// .ci/run does), at /usr/bin/chromium or $CHROMIUM. Without it the run fails,
// in CI or not: a browser test that cannot run is never a pass.
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { ROOT } from "./_exec.mjs";
import { summary } from "./_results.mjs";
import {
  EXAMPLE_SCENARIOS,
  origin as makeOrigin,
  SCENARIOS,
} from "./_chromium_scenarios.mjs";
import { bundle } from "./_browser_bundle.mjs";
import { serve } from "./_static_server.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/** The deadline of one page's whole run. */
const PAGE_DEADLINE_MS = 10 * 60_000;
/** Where the shared suites' `node:` imports resolve in a page. */
const SHIMS = {
  "node:test": "tests/browser/_node_test_shim.ts",
  "node:assert/strict": "tests/browser/_assert.ts",
  "node:assert": "tests/browser/_assert.ts",
};
const STUBS = "tests/browser/_node_stubs.ts";
const EXAMPLE = "examples/service_worker";
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
};

/** The pages: each bundles one entry of tests/browser/ into `<name>.js`. */
const PAGES = [
  { name: "conformance", entry: "tests/browser/conformance_page.ts" },
  // Driven by the scenarios (scripts/_chromium_scenarios.mjs), not a suite.
  { name: "scenario", entry: "tests/browser/scenario_page.ts", driven: true },
  { name: "sw", entry: "tests/browser/service_worker.ts", worker: true },
];

/** `--only suites` or `--only scenarios`: one half, while working on it. */
const onlyAt = process.argv.indexOf("--only");
const run = (part) => onlyAt < 0 || process.argv[onlyAt + 1] === part;

const results = { passed: 0, failed: 0 };

/** Prints one test's result and counts it. */
function record({ name, status, ms, error }) {
  if (status === "skip") {
    console.log(`  skip: ${name}`);
    return;
  }
  results[status === "pass" ? "passed" : "failed"]++;
  const secs = (ms / 1000).toFixed(2);
  console.log(
    `${status === "pass" ? "ok    " : "FAILED"}  ${name}   (${secs} s)`,
  );
  if (error) console.log(error.trimEnd().replace(/^/gm, "    "));
}

/** Bundles every page's entry into `dir` for the browser, with a page for each. */
async function bundlePages(dir) {
  const entries = Object.fromEntries(
    PAGES.map(({ name, entry }) => [name, entry]),
  );
  await bundle(entries, dir, { shims: SHIMS, fallback: STUBS });
  for (const { name, worker } of PAGES) {
    if (worker) continue;
    fs.writeFileSync(
      join(dir, `${name}.html`),
      `<!doctype html><meta charset="utf-8"><title>${name}</title>\n` +
        `<script type="module" src="/${name}.js"></script>\n`,
    );
  }
}

/** Runs one page: resolves once its tests have all reported. */
async function runPage(context, origin, { name }) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error?.stack ?? error)));
  await page.exposeFunction("report", (result) => record(result));
  try {
    await page.goto(`${origin}/${name}.html`);
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name}: no end after ${PAGE_DEADLINE_MS} ms`)),
        PAGE_DEADLINE_MS,
      );
    });
    try {
      await Promise.race([
        page.waitForFunction(() => globalThis.finished !== undefined, null, {
          timeout: 60_000,
        }).then(() => page.evaluate(() => globalThis.finished.then(() => {}))),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    record({
      name: `${name} page`,
      status: "fail",
      ms: 0,
      error: [String(error?.message ?? error), ...errors].join("\n"),
    });
  } finally {
    await page.close();
  }
}

const tmp = fs.mkdtempSync(join(tmpdir(), "streamcache-chromium-"));
let server;
let example;
let browser;
try {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`,
    );
  }
  const dist = join(tmp, "dist");
  await bundlePages(dist);
  // The service-worker example, as `npm run demo:browser` serves it.
  const exampleDist = join(tmp, "example");
  await bundle(
    { sw: `${EXAMPLE}/sw.ts`, page: `${EXAMPLE}/page.ts` },
    exampleDist,
  );
  fs.copyFileSync(
    join(ROOT, EXAMPLE, "index.html"),
    join(exampleDist, "index.html"),
  );
  example = await serve(exampleDist, { index: "index.html" });
  const origin = makeOrigin();
  server = await serve(dist, { routes: [origin.routes] });
  browser = await chromium.launch(LAUNCH);
  const context = await browser.newContext();
  for (const page of PAGES) {
    if (page.worker || page.driven || !run("suites")) continue;
    await runPage(context, server.origin, page);
  }
  await context.close();
  const scenarios = [...SCENARIOS, ...EXAMPLE_SCENARIOS];
  for (const [name, scenario] of run("scenarios") ? scenarios : []) {
    const started = performance.now();
    const notes = [];
    try {
      await scenario({
        browser,
        server,
        example,
        origin,
        launch: (profile) => chromium.launchPersistentContext(profile, LAUNCH),
        report: (note) => notes.push(note),
      });
      record({
        name: `scenarios > ${name}`,
        status: "pass",
        ms: performance.now() - started,
      });
      for (const note of notes) console.log(`    ${note}`);
    } catch (error) {
      record({
        name: `scenarios > ${name}`,
        status: "fail",
        ms: performance.now() - started,
        error: String(error?.stack ?? error),
      });
    }
  }
} catch (error) {
  results.failed++;
  console.log(`chromium: FAILED  ${String(error?.stack ?? error).trimEnd()}`);
} finally {
  await browser?.close();
  await server?.close();
  await example?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(summary(results));
process.exitCode = results.failed || !results.passed ? 1 : 0;
