/**
 * Builds the npm package `streamcache` into npm/ and tests it: the job dnt
 * does, done with tsc (JSR, and so dnt, is out of reach).
 *
 *   deno run -A npm-build.ts [version]      build, then test the package
 *   npm run build [-- version]              the same (version: deno.json's)
 *   deno run -A npm-build.ts --no-test      build only
 *   deno run -A npm-build.ts --test-only [--runtimes=node20,bun]
 *                                           test the npm/ already built
 *
 * The build:
 * 1. `tsc -p tsconfig.npm.json` compiles mod.ts and src/** (never tests/,
 *    bench/ or examples/) to ESM + .d.ts in npm/esm/, the emitted tree
 *    mirroring the source tree (`./src/fs/mod.ts` → `esm/src/fs/mod.js`).
 * 2. Declarations are fixed up: relative `.ts` specifiers become `.js` (tsc
 *    rewrites them in .js only: microsoft/TypeScript#61037); a declaration
 *    that names a disposable type references `lib="esnext.disposable"`, so
 *    consumers need neither @types/node nor a lib setting for
 *    `AsyncDisposable`; doc examples name the npm package, not the JSR one.
 * 3. npm/package.json: its `exports` is deno.json's, subpath by subpath
 *    (`types` first), and the build fails when they cannot agree (a subpath
 *    that is not a library file, or has no emitted .js or .d.ts). No runtime
 *    dependencies: every import the emitted code makes is relative, `node:`,
 *    or an optional peer of its subpath (PEERS in tests/package/subpaths.mjs,
 *    one line each); browser-safe subpaths (BROWSER_SAFE there) reach no
 *    `node:` module and type-check against ES + DOM without @types/node.
 * 4. README.md, LICENSE and SEMANTICS.md are copied in.
 *
 * The tests: the package is tested by the project's own suite, with its
 * imports redirected rather than with tests of its own (one suite, no
 * drift). Each file under tests/ (not tests/deno/, Deno-only, nor
 * tests/package/) and the examples the suite runs (those the Node 20 build
 * compiles, by tsconfig.build.json: the download server) is copied to a
 * temporary directory with
 * every import of a deno.json entry point (`../mod.ts`, `../src/fs/mod.ts`)
 * rewritten to the package's specifier (`streamcache`, `streamcache/fs`);
 * there node_modules/streamcache links to npm/, so the package resolves by
 * its exports map as a consumer's would. tsc compiles the copies against
 * npm/'s .d.ts (the suite type-checks against the published declarations,
 * not the sources) and the JS runs with `node --test` on Node 20, 22 and 24
 * and `bun test` on Bun, counted as scripts/test.mjs counts (the scripts/_*
 * modules: JUnit reports, skips listed, per-test timeouts, process groups).
 * A test file that imports a module that is neither an entry point nor in
 * that copy (say `../src/_block_log.ts`) cannot run against the package, and
 * one that SOURCE_ONLY in scripts/_skips.mjs names (it checks the repository
 * itself) must not: each is a skipped test of the whole file, named with the
 * reason, and so a failure under CI unless SOURCE_ONLY allows it.
 *
 * @module
 */

import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { BIN, exec, isCI, pool } from "./scripts/_exec.mjs";
import { ensureNodes, NODES } from "./scripts/_nodes.mjs";
import { judge, summary } from "./scripts/_results.mjs";
import { runTests } from "./scripts/_runtimes.mjs";
import { SOURCE_ONLY, wholeFile } from "./scripts/_skips.mjs";
import { BROWSER_SAFE, PEERS, SERVER_ONLY } from "./tests/package/subpaths.mjs";

const ROOT = fileURLToPath(new URL(".", import.meta.url));
const OUT = `${ROOT}npm`;
/** The runtimes the package is tested on. */
const RUNTIMES = [...NODES, "bun"];
/** Lib for the browser check: ES + DOM, no @types/node. */
const WEB_LIB = [
  "ES2023",
  "ESNext.Disposable",
  "DOM",
  "DOM.Iterable",
  "DOM.AsyncIterable",
];
/** Files copied into the package besides the code (README and LICENSE must exist). */
const DOCS = ["README.md", "LICENSE", "SEMANTICS.md"];
/** package.json fields copied as they are into the package. */
const METADATA = [
  "description",
  "engines",
  "keywords",
  "homepage",
  "bugs",
  "license",
  "author",
  "contributors",
  "funding",
  "repository",
];

class BuildError extends Error {
  override name = "BuildError";
}

function fail(message: string): never {
  throw new BuildError(message);
}

// deno-lint-ignore no-explicit-any
type Json = any;
const readJson = (path: string): Json =>
  JSON.parse(Deno.readTextFileSync(path));
const writeJson = (path: string, value: unknown) =>
  Deno.writeTextFileSync(path, JSON.stringify(value, null, 2) + "\n");
const exists = (path: string) => {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
};

/** Every file under `dir`, as paths relative to it, sorted. */
function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(`${dir}/${prefix}`)) {
    const path = prefix + entry.name;
    if (entry.isDirectory) out.push(...walk(dir, `${path}/`));
    else out.push(path);
  }
  return out.sort();
}

/** Runs a command that must succeed; its output is the error otherwise. */
async function must(what: string, cmd: string, args: string[], cwd = ROOT) {
  const { code, out } = await exec(cmd, args, { cwd });
  if (code !== 0) fail(`${what} failed (exit ${code}):\n${out.trimEnd()}`);
  return out;
}

/** Writes a tsconfig in a fresh temporary directory; returns its path. */
function tempTsconfig(config: Json): string {
  const dir = Deno.makeTempDirSync({ prefix: "streamcache-npm-" });
  writeJson(`${dir}/tsconfig.json`, config);
  return `${dir}/tsconfig.json`;
}

// ---- the package ----------------------------------------------------------

interface Subpath {
  /** "./fs" */
  readonly name: string;
  /** "./src/fs/mod.ts" (deno.json's target) */
  readonly source: string;
  /** "./esm/src/fs/mod" (in npm/, without extension) */
  readonly base: string;
}

/** deno.json's exports, checked to be library files and classified. */
function subpaths(deno: Json): Subpath[] {
  const exports = typeof deno.exports === "string"
    ? { ".": deno.exports }
    : deno.exports ?? {};
  const list = Object.entries(exports).map(([name, source]) => {
    if (typeof source !== "string" || !/^\.\/(mod|src\/.+)\.ts$/.test(source)) {
      fail(
        `deno.json exports ${name} as ${JSON.stringify(source)}: ` +
          "only mod.ts and src/**/*.ts are built into the package",
      );
    }
    const safe = BROWSER_SAFE.includes(name);
    if (safe === SERVER_ONLY.includes(name)) {
      fail(
        `deno.json exports ${name}: name it in exactly one of BROWSER_SAFE ` +
          "and SERVER_ONLY in tests/package/subpaths.mjs",
      );
    }
    return { name, source, base: `./esm/${source.slice(2, -3)}` };
  });
  if (!list.length) fail("deno.json exports nothing");
  return list;
}

/** The emitted files a subpath needs: its .d.ts (first: `types`) and .js. */
function targets(sub: Subpath): { types: string; default: string } {
  return { types: `${sub.base}.d.ts`, default: `${sub.base}.js` };
}

function packageJson(version: string, deno: Json, pkg: Json, subs: Subpath[]) {
  const exports: Record<string, { types: string; default: string }> = {};
  for (const sub of subs) exports[sub.name] = targets(sub);
  const peers: Record<string, string> = {};
  for (const sub of subs) Object.assign(peers, PEERS[sub.name]);
  const manifest: Json = { name: pkg.name, version };
  for (const field of METADATA) {
    if (pkg[field] !== undefined) manifest[field] = pkg[field];
  }
  manifest.license ??= deno.license;
  Object.assign(manifest, {
    type: "module",
    sideEffects: false,
    // For tools that predate `exports` (TypeScript's "node10" resolution).
    main: exports["."]?.default,
    types: exports["."]?.types,
    exports,
    files: ["esm/", ...DOCS.filter((doc) => exists(`${OUT}/${doc}`))],
  });
  if (Object.keys(peers).length) {
    manifest.peerDependencies = peers;
    manifest.peerDependenciesMeta = Object.fromEntries(
      Object.keys(peers).map((name) => [name, { optional: true }]),
    );
  }
  return manifest;
}

/** Fixes up what tsc emitted (see the header, step 2). */
function fixUp(jsrName: string, npmName: string) {
  for (const file of walk(`${OUT}/esm`)) {
    const path = `${OUT}/esm/${file}`;
    let text = Deno.readTextFileSync(path);
    const original = text;
    // Doc examples: `from "@scope/name/fs"` → `from "name/fs"`.
    text = text.replaceAll(`"${jsrName}"`, `"${npmName}"`)
      .replaceAll(`"${jsrName}/`, `"${npmName}/`);
    if (file.endsWith(".d.ts")) {
      text = text.replace(
        /((?:from|import)\s*\(?\s*")(\.\.?\/[^"]*?)(?<!\.d)\.ts(")/g,
        "$1$2.js$3",
      );
      if (
        /\b(?:Async)?Disposable(?:Stack)?\b|Symbol\.(?:async)?[dD]ispose\b/
          .test(text)
      ) {
        text = `/// <reference lib="esnext.disposable" />\n${text}`;
      }
    }
    if (text !== original) Deno.writeTextFileSync(path, text);
  }
}

/**
 * The imports of each subpath's module graph (esbuild's metafile): checks
 * there are no runtime dependencies, and no `node:` in browser-safe subpaths.
 */
async function checkImports(subs: Subpath[]) {
  const tmp = Deno.makeTempDirSync({ prefix: "streamcache-npm-" });
  try {
    const meta = `${tmp}/meta.json`;
    await must("esbuild (the import graph of npm/esm)", `${BIN}/esbuild`, [
      ...subs.map((sub) => `${sub.base}.js`),
      "--bundle",
      "--format=esm",
      "--platform=node",
      "--packages=external",
      "--log-level=error",
      `--metafile=${meta}`,
      `--outdir=${tmp}/out`,
    ], OUT);
    const inputs: Record<
      string,
      { imports: { path: string; external?: boolean }[] }
    > = readJson(meta).inputs;
    const builtins = new Set(builtinModules);
    for (const sub of subs) {
      const peers = PEERS[sub.name] ?? {};
      const seen = new Set<string>();
      const queue = [sub.base.slice(2) + ".js"];
      for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
        if (seen.has(file)) continue;
        seen.add(file);
        for (const { path, external } of inputs[file]?.imports ?? []) {
          if (!external) {
            queue.push(path);
            continue;
          }
          const where = `${sub.name} (npm/${file}) imports "${path}"`;
          if (path.startsWith("node:") || builtins.has(path)) {
            if (BROWSER_SAFE.includes(sub.name)) {
              fail(
                `${where}, yet ${sub.name} is in BROWSER_SAFE (tests/package/subpaths.mjs)`,
              );
            }
            continue;
          }
          const name = path.split("/").slice(0, path.startsWith("@") ? 2 : 1)
            .join("/");
          if (!(name in peers)) {
            fail(
              `${where}: the package has no runtime dependencies; declare it ` +
                `an optional peer of ${sub.name} in PEERS (tests/package/subpaths.mjs)`,
            );
          }
        }
      }
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

/** Browser-safe sources type-check against ES + DOM, without @types/node. */
async function checkWebTypes(subs: Subpath[]) {
  const web = subs.filter((sub) => BROWSER_SAFE.includes(sub.name));
  if (!web.length) return;
  const config = tempTsconfig({
    extends: `${ROOT}tsconfig.npm.json`,
    compilerOptions: { noEmit: true, types: [], lib: WEB_LIB },
    include: [],
    files: web.map((sub) => `${ROOT}${sub.source.slice(2)}`),
  });
  try {
    await must(
      `tsc (${web.map((s) => s.name)} against ${WEB_LIB}, no @types/node)`,
      `${BIN}/tsc`,
      ["-p", config],
    );
  } finally {
    Deno.removeSync(config.replace(/\/[^/]+$/, ""), { recursive: true });
  }
}

async function build(version: string) {
  const deno = readJson(`${ROOT}deno.json`);
  const pkg = readJson(`${ROOT}package.json`);
  if (
    !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(version)
  ) {
    fail(`not a semantic version: ${version}`);
  }
  if (typeof pkg.name !== "string") fail("package.json has no name");
  if (typeof pkg.engines?.node !== "string") {
    fail("package.json has no engines.node: the package's needs on Node");
  }
  const subs = subpaths(deno);

  if (exists(OUT)) Deno.removeSync(OUT, { recursive: true });
  await must("tsc -p tsconfig.npm.json", `${BIN}/tsc`, [
    "-p",
    "tsconfig.npm.json",
  ]);
  const emitted = walk(`${OUT}/esm`);
  const strays = emitted.filter((f) => !/^(mod\.|src\/)/.test(f));
  if (strays.length) {
    fail(`tsc emitted files outside mod.ts and src/: ${strays}`);
  }
  for (const sub of subs) {
    for (const file of Object.values(targets(sub))) {
      if (!emitted.includes(file.slice("./esm/".length))) {
        fail(
          `deno.json exports ${sub.name} (${sub.source}), but npm/${
            file.slice(2)
          } was not emitted`,
        );
      }
    }
  }
  fixUp(deno.name, pkg.name);

  for (const doc of DOCS) {
    if (exists(`${ROOT}${doc}`)) {
      Deno.copyFileSync(`${ROOT}${doc}`, `${OUT}/${doc}`);
    } else if (doc !== "SEMANTICS.md") fail(`${doc} is missing`);
  }
  const manifest = packageJson(version, deno, pkg, subs);
  writeJson(`${OUT}/package.json`, manifest);

  // The written map must be deno.json's, and point at files that exist.
  const npmSubpaths = Object.keys(manifest.exports).sort().join();
  const denoSubpaths = subs.map((s) => s.name).sort().join();
  if (npmSubpaths !== denoSubpaths) {
    fail(
      `npm/package.json exports ${npmSubpaths}; deno.json exports ${denoSubpaths}`,
    );
  }
  for (const [name, conditions] of Object.entries(manifest.exports)) {
    for (const file of Object.values(conditions as Record<string, string>)) {
      if (!exists(`${OUT}/${file}`)) {
        fail(`exports ${name}: npm/${file.slice(2)} does not exist`);
      }
    }
  }

  // Both run to the end (and clean up) before a failure is reported.
  const checks = await Promise.allSettled([
    checkImports(subs),
    checkWebTypes(subs),
  ]);
  for (const check of checks) {
    if (check.status === "rejected") throw check.reason;
  }
  console.log(
    `npm-build: built ${pkg.name}@${version} in npm/ (${emitted.length} files; ` +
      `exports ${subs.map((s) => s.name).join(" ")})`,
  );
}

// ---- the package's tests --------------------------------------------------

/**
 * The examples the suite runs, as the Node 20 build compiles them: the
 * examples/ folders of tsconfig.build.json's `include` ("examples/x/").
 */
function suiteExamples(): string[] {
  const text = Deno.readTextFileSync(`${ROOT}tsconfig.build.json`)
    .replace(/^\s*\/\/.*$/gm, "");
  const include: string[] = JSON.parse(text).include ?? [];
  return include.filter((glob) => glob.startsWith("examples/"))
    .map((glob) => glob.replace(/\*.*$/, ""));
}

/**
 * Copies tests/ and the examples the suite runs to `dir` with entry-point
 * imports redirected; see the header. Returns the test files that can run,
 * and those that cannot or must not (SOURCE_ONLY), each with the reason.
 */
function redirectTests(
  dir: string,
  npmName: string,
  subs: Subpath[],
): { runnable: string[]; leftOut: Map<string, string> } {
  const bySource = new Map(
    subs.map((s) => [s.source.slice(2), npmName + s.name.slice(1)]),
  );
  const examples = suiteExamples();
  const files = ["tests", ...examples].flatMap((top) =>
    exists(`${ROOT}${top}`) ? walk(ROOT, `${top.replace(/\/?$/, "/")}`) : []
  ).filter((f) => !/^tests\/(deno|package)\//.test(f));
  // file → why it can't run
  const blocked = new Map<string, string>(
    Object.entries(SOURCE_ONLY).filter(([file]) => files.includes(file)),
  );
  const importers = new Map<string, string[]>(); // file → files importing it
  const bare = new Set<string>();
  for (const file of files) {
    Deno.mkdirSync(`${dir}/${file}`.replace(/\/[^/]+$/, ""), {
      recursive: true,
    });
    if (!file.endsWith(".ts")) {
      Deno.copyFileSync(`${ROOT}${file}`, `${dir}/${file}`);
      continue;
    }
    const text = Deno.readTextFileSync(`${ROOT}${file}`).replace(
      /((?:from|import)\s*\(?\s*")([^"]+)(")/g,
      (whole, head: string, spec: string, tail: string) => {
        if (spec.startsWith("node:") || spec.startsWith("npm:")) return whole;
        if (!spec.startsWith(".")) {
          bare.add(
            spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/"),
          );
          return whole;
        }
        const target = new URL(spec, `file:///${file}`).pathname.slice(1);
        const entry = bySource.get(target);
        if (entry) return head + entry + tail;
        if (!files.includes(target)) {
          blocked.set(
            file,
            `it imports ${spec}, which is neither an entry point nor in ` +
              `the suite's copy (tests/, ${examples.join(", ")})`,
          );
          return whole;
        }
        importers.set(target, [...importers.get(target) ?? [], file]);
        return whole;
      },
    );
    Deno.writeTextFileSync(`${dir}/${file}`, text);
  }
  // What imports a blocked file is blocked too.
  const queue = [...blocked.keys()];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    for (const importer of importers.get(file) ?? []) {
      if (blocked.has(importer)) continue;
      blocked.set(importer, `it imports ${file}: ${blocked.get(file)}`);
      queue.push(importer);
    }
  }
  for (const file of blocked.keys()) Deno.removeSync(`${dir}/${file}`);
  // The package by its name, the suite's own dependencies from the project.
  Deno.mkdirSync(`${dir}/node_modules`, { recursive: true });
  Deno.symlinkSync(OUT, `${dir}/node_modules/${npmName}`);
  for (const name of bare) {
    if (name === npmName || !exists(`${ROOT}node_modules/${name}`)) continue;
    Deno.mkdirSync(`${dir}/node_modules/${name}`.replace(/\/[^/]+$/, ""), {
      recursive: true,
    });
    Deno.symlinkSync(
      `${ROOT}node_modules/${name}`,
      `${dir}/node_modules/${name}`,
    );
  }
  const tests = files.filter((f) => /^tests\/.*_test\.ts$/.test(f));
  return {
    runnable: tests.filter((f) => !blocked.has(f)),
    leftOut: new Map(
      tests.filter((f) => blocked.has(f)).map((f) => [f, blocked.get(f)!]),
    ),
  };
}

async function test(runtimes: string[]): Promise<boolean> {
  if (!exists(`${OUT}/package.json`)) {
    fail("npm/ is not built: run npm-build.ts without --test-only");
  }
  const deno = readJson(`${ROOT}deno.json`);
  const manifest = readJson(`${OUT}/package.json`);
  const subs = subpaths(deno);
  const dir = Deno.makeTempDirSync({ prefix: "streamcache-npm-test-" });
  let ok = true;
  try {
    // The project's `start` script: tests/server_e2e_test.ts runs `npm
    // start` (the download server, from the suite's copy of examples/).
    const { scripts } = readJson(`${ROOT}package.json`);
    writeJson(`${dir}/package.json`, {
      private: true,
      type: "module",
      scripts: { start: scripts?.start },
    });
    const { runnable, leftOut } = redirectTests(dir, manifest.name, subs);
    if (!runnable.length) fail("no test file can run against the package");
    writeJson(`${dir}/tsconfig.json`, {
      extends: `${ROOT}tsconfig.build.json`,
      compilerOptions: {
        rootDir: ".",
        outDir: "out",
        typeRoots: [`${ROOT}node_modules/@types`],
      },
      include: ["tests/**/*.ts", ...suiteExamples().map((d) => `${d}**/*.ts`)],
      exclude: [],
    });
    await must(
      "tsc (the suite, against npm/'s declarations)",
      `${BIN}/tsc`,
      ["-p", `${dir}/tsconfig.json`],
    );
    await ensureNodes(runtimes.filter((r) => NODES.includes(r)));
    const built = runnable.map((f) => `out/${f.replace(/ts$/, "js")}`);
    // A test file that cannot run against the package is a skipped test, of
    // the whole file: listed, and under CI a failure (scripts/_skips.mjs).
    const skips = [...leftOut].map(([file, why]) => ({
      name: wholeFile(file),
      kind: "skip" as const,
      reason: why,
    }));
    const totals = { passed: 0, failed: 0, skipped: 0 };
    await pool(runtimes, async (name: string) => {
      const started = Date.now();
      const run = await runTests(name, built, { cwd: dir });
      run.counts.skips.push(...skips);
      const verdict = judge(run, isCI());
      if (verdict.note) {
        ok = false;
        console.log(
          `\n──── ${name} (npm) ────\n${run.out.trimEnd()}\n──── end ────`,
        );
      }
      totals.passed += verdict.passed;
      totals.failed += verdict.failed;
      totals.skipped += verdict.skipped;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `npm-build: ${name.padEnd(6)} ${summary(verdict)}   (${secs} s)` +
          (verdict.note ? `   FAILED: ${verdict.note}` : ""),
      );
      for (const line of verdict.listed) console.log(`  ${line}`);
    });
    console.log(summary(totals));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  return ok;
}

// ---- main -----------------------------------------------------------------

if (import.meta.main) {
  const flags = Deno.args.filter((a) => a.startsWith("--"));
  const positional = Deno.args.filter((a) => !a.startsWith("--"));
  const runtimesFlag = flags.find((f) => f.startsWith("--runtimes="));
  const runtimes = runtimesFlag?.slice(11).split(",") ?? RUNTIMES;
  const known = ["--no-test", "--test-only"];
  const unknown = flags.filter((f) => f !== runtimesFlag && !known.includes(f));
  const badRuntime = runtimes.filter((r) => !RUNTIMES.includes(r));
  if (unknown.length || badRuntime.length || positional.length > 1) {
    console.error(
      "usage: deno run -A npm-build.ts [version] [--no-test | --test-only] " +
        `[--runtimes=${RUNTIMES}]`,
    );
    Deno.exit(2);
  }
  try {
    if (!flags.includes("--test-only")) {
      await build(positional[0] ?? readJson(`${ROOT}deno.json`).version);
    }
    if (!flags.includes("--no-test") && !(await test(runtimes))) Deno.exit(1);
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(`npm-build: ${error.message}`);
    Deno.exit(1);
  }
}
