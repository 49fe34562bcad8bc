// Consumer smoke test of the packed npm package: `node scripts/smoke.mjs
// [streamcache-x.y.z.tgz]` (without an argument it packs npm/, which
// `npm run build` makes). scripts/test.mjs runs it as its `smoke` step.
//
// In a temporary directory it installs the tarball as a consumer would
// (`npm install x.tgz --offline`: the package has no dependencies, so no
// registry is asked; the optional peers and fake-indexeddb the probes need
// come from npm's cache, at the project's versions), then, for every subpath of the installed package's
// exports map, runs that subpath's probe below: a small program that does
// real work through the public API and throws if the result is wrong.
//   node20, node22, node24   the probes as plain Node ESM (.mjs)
//   <node> require()         every subpath loaded with require() from
//                            CommonJS: the package is ESM-only, and its
//                            `engines` (Node 20.19+, 22.12+) is what
//                            require(esm) needs
//   bun                      the same files on Bun
//   deno                     the same, importing `npm:streamcache…`, with
//                            --node-modules-dir=manual (offline: Deno reads
//                            node_modules/ and asks no registry)
//   tsc-nodenext, tsc-bundler  the probes as .ts, `tsc --noEmit`, strict,
//                            skipLibCheck off (the package's .d.ts are checked)
//   tsc-web                  the browser-safe probes against ES + DOM with no
//                            @types/node: their declarations need no Node types
//   browser <subpath>        each browser-safe subpath's probe bundled by
//                            `esbuild --platform=browser` (a `node:` import
//                            fails it), checked to import nothing, and run
//   no-browser <subpath>     a server-only subpath must NOT bundle for the
//                            browser: proves the check above can fail
// The browser-safe subpaths are BROWSER_SAFE in tests/package/subpaths.mjs.
// Each check prints one line; the last line is "N passed, N failed".
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { BIN, exec, must, pool, ROOT } from "./_exec.mjs";
import { ensureNodes, nodeBin, NODES } from "./_nodes.mjs";
import { summary } from "./_results.mjs";
import {
  BROWSER_SAFE,
  PEERS,
  SERVER_ONLY,
} from "../tests/package/subpaths.mjs";

// ---- the probes -----------------------------------------------------------
// One per subpath, in the common ground of JavaScript and TypeScript (they
// run as .mjs and are type-checked as .ts). "streamcache" stands for the
// package's specifier ("npm:streamcache" on Deno). `expect`'s parameter
// types come from its defaults, so the same text is valid strict TypeScript.
const EXPECT = `const expect = (ok = false, what = "") => {
  if (!ok) throw new Error(\`smoke: \${what}\`);
};
`;

const PROBES = {
  // Two concurrent requests, one producer run, both read every byte.
  ".": `import { MemoryStore, StreamCache } from "streamcache";
${EXPECT}
const cache = new StreamCache({ store: new MemoryStore() });
let runs = 0;
const request = () =>
  cache.getOrCreate("report.csv", async function* () {
    runs++;
    yield new TextEncoder().encode("id,total\\n");
    yield new TextEncoder().encode("1,42\\n");
  });
const [a, b] = await Promise.all([request(), request()]);
const texts = await Promise.all(
  [a, b].map((entry) => new Response(entry.readable()).text()),
);
expect(texts.every((t) => t === "id,total\\n1,42\\n"), \`read \${texts}\`);
expect(runs === 1, \`the producer ran \${runs} times\`);
expect(await a.done === 14, "entry.done is the byte count");
await cache.close();
`,
  // An entry written through FsStore is served from disk by a new cache.
  "./fs": `import { StreamCache } from "streamcache";
import { FsStore } from "streamcache/fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
${EXPECT}
const dir = await mkdtemp(join(tmpdir(), "streamcache-smoke-"));
try {
  const first = new StreamCache({ store: new FsStore({ dir }) });
  const entry = await first.getOrCreate(
    "a/b?c",
    () => new TextEncoder().encode("on disk"),
  );
  expect(await entry.done === 7, "the entry was written");
  await first.close();
  const second = new StreamCache({ store: new FsStore({ dir }) });
  const hit = await second.getOrCreate("a/b?c", () => {
    throw new Error("the entry should come from disk");
  });
  const text = await new Response(hit.readable()).text();
  expect(text === "on disk", \`read back \${text}\`);
  await second.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
`,
  // A handler runs once; a Range request is answered from the cache.
  "./http": `import { StreamCache } from "streamcache";
import { cached } from "streamcache/http";
${EXPECT}
const cache = new StreamCache();
let runs = 0;
const handler = cached((request) => {
  runs++;
  return new Response(\`report for \${new URL(request.url).pathname}\`);
}, { cache });
const whole = await handler(new Request("http://localhost/q3"));
expect(await whole.text() === "report for /q3", "the whole body");
const part = await handler(
  new Request("http://localhost/q3", { headers: { range: "bytes=0-5" } }),
);
expect(part.status === 206, \`status \${part.status}\`);
expect(await part.text() === "report", "the range");
expect(runs === 1, \`the handler ran \${runs} times\`);
await cache.close();
`,
  // An entry written to IndexedDB (fake-indexeddb's, outside a browser) is
  // served from there by a new cache.
  "./idb": `import "fake-indexeddb/auto";
import { StreamCache } from "streamcache";
import { IndexedDbStore } from "streamcache/idb";
${EXPECT}
const store = () => new IndexedDbStore({ name: "smoke", chunkSize: 4 });
const first = new StreamCache({ store: store() });
const entry = await first.getOrCreate(
  "a/b?c",
  () => new TextEncoder().encode("in IndexedDB"),
);
expect(await entry.done === 12, "the entry was written");
await first.close();
const second = new StreamCache({ store: store() });
const hit = await second.getOrCreate("a/b?c", () => {
  throw new Error("the entry should come from IndexedDB");
});
const text = await new Response(hit.readable()).text();
expect(text === "in IndexedDB", \`read back \${text}\`);
await second.close();
`,
  // RedisStore takes the consumer's client and imports none: a stand-in
  // client sees the one command a lookup sends (no Redis here).
  "./redis": `import { RedisStore } from "streamcache/redis";
${EXPECT}
let sent = "";
const store = new RedisStore({
  client: {
    sendCommand: async (args) => {
      sent += \`\${args[0]};\`;
      return null;
    },
    duplicate() {
      return this;
    },
    connect: async () => undefined,
    destroy() {},
    on() {
      return undefined;
    },
  },
  prefix: "smoke:",
});
expect(await store.lookup("k") === undefined, "a miss");
expect(sent === "EVALSHA;", \`sent \${sent}\`);
let refused = false;
try {
  // @ts-expect-error: not a client
  new RedisStore({ client: { sendCommand: 1 } });
} catch (error) {
  refused = error instanceof TypeError;
}
expect(refused, "a client without sendCommand is a TypeError");
await store.close();
`,
};
/**
 * What the probes need besides the package: its optional peers (PEERS in
 * tests/package/subpaths.mjs) and an IndexedDB outside the browser, at the
 * project's versions, installed from npm's cache as a consumer would.
 */
const PROBE_DEPS = [
  ...new Set([
    ...Object.values(PEERS).flatMap((peers) => Object.keys(peers)),
    "fake-indexeddb",
  ]),
];

// ---- running --------------------------------------------------------------
const results = { passed: 0, failed: 0 };
/** Runs named checks, two at a time, printing one line each. */
async function checks(list) {
  await pool(list, async ([name, fn]) => {
    const started = Date.now();
    let failure = "";
    try {
      await fn();
    } catch (error) {
      failure = String(error?.message ?? error).trimEnd();
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    results[failure ? "failed" : "passed"]++;
    console.log(`smoke: ${failure ? "FAILED" : "ok"}  ${name}   (${secs} s)`);
    if (failure) console.log(failure.replace(/^/gm, "    "));
  });
}

// ---- the checks -----------------------------------------------------------
const NAME = JSON.parse(fs.readFileSync(join(ROOT, "package.json"))).name;
/** probe_root, probe_fs, probe_http: a subpath's file name, without extension. */
const probe = (sub) =>
  `probe_${sub === "." ? "root" : sub.slice(2).replaceAll("/", "_")}`;

/** Writes each subpath's probe as .mjs, .ts and .deno.mjs, and the mains. */
function writeProbes(app, subpaths) {
  const write = (file, text) => fs.writeFileSync(join(app, file), text);
  for (const sub of subpaths) {
    const text = PROBES[sub].replaceAll('"streamcache', `"${NAME}`);
    write(`${probe(sub)}.mjs`, text);
    write(`${probe(sub)}.ts`, text);
    const npm = text.replace(/from "([^"]+)"/g, (whole, spec) => {
      const ours = spec === NAME || spec.startsWith(`${NAME}/`);
      return ours ? `from "npm:${spec}"` : whole;
    }).replace(/import "([^".][^"]*)"/g, (whole, spec) => {
      const ours = PROBE_DEPS.some((dep) => spec.startsWith(dep));
      return ours ? `import "npm:${spec}"` : whole;
    });
    write(`${probe(sub)}.deno.mjs`, npm);
  }
  const main = (ext) =>
    subpaths.map((sub) => `await import("./${probe(sub)}${ext}");\n`)
      .join("") + `console.log("probes passed: ${subpaths.join(" ")}");\n`;
  write("main.mjs", main(".mjs"));
  write("main.deno.mjs", main(".deno.mjs"));
}

/** Runs every probe on a runtime: `main.mjs` imports each in turn. */
const runProbes = (app, cmd, argv) => async () => {
  const out = await must(cmd, argv, { cwd: app });
  if (!out.includes("probes passed:")) {
    throw new Error(`the probes did not all run:\n${out}`);
  }
};

/** `tsc --noEmit` over the probes of `subpaths`, strict, libraries checked. */
const typeCheck = (app, label, options, subpaths) => () => {
  const config = {
    compilerOptions: {
      target: "ES2022",
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      skipLibCheck: false,
      ...options,
    },
    files: subpaths.map((sub) => `${probe(sub)}.ts`),
  };
  const file = `tsconfig.${label}.json`;
  fs.writeFileSync(join(app, file), JSON.stringify(config, null, 2));
  return must(join(BIN, "tsc"), ["-p", file], { cwd: app });
};
const NODE_TYPES = {
  lib: ["ES2023"],
  types: ["node"],
  typeRoots: [join(ROOT, "node_modules/@types")],
};
const BROWSER = ["--bundle", "--platform=browser", "--format=esm"];

/** A browser-safe subpath's probe bundles for the browser, imports nothing, runs. */
const browserBundle = (app, sub) => async () => {
  const out = `browser_${probe(sub)}.mjs`;
  const meta = `${out}.json`;
  const argv = [`${probe(sub)}.mjs`, ...BROWSER, `--outfile=${out}`];
  await must(join(BIN, "esbuild"), [...argv, `--metafile=${meta}`], {
    cwd: app,
  });
  // Whatever the bundle still imports, it would import in the browser.
  const { outputs } = JSON.parse(fs.readFileSync(join(app, meta), "utf8"));
  const left = Object.values(outputs).flatMap((o) => o.imports);
  if (left.length) {
    throw new Error(`its browser bundle imports ${left.map((i) => i.path)}`);
  }
  await must(nodeBin("node24"), [out], { cwd: app }); // and the bundle still works
};

/**
 * The package is ESM-only; package.json `engines` promises Node 20.19+ and
 * 22.12+, which load ES modules with require(): every subpath must load so
 * from CommonJS (no top-level await anywhere in the package).
 */
const requireAll = (app, node, subpaths) => async () => {
  const file = "probe_require.cjs";
  const lines = subpaths.map((sub) =>
    `check(${JSON.stringify(NAME + sub.slice(1))});`
  );
  fs.writeFileSync(
    join(app, file),
    `const check = (specifier) => {
  const exports = require(specifier);
  if (!Object.values(exports).some((value) => typeof value === "function")) {
    throw new Error(\`require(\${specifier}) gave no functions\`);
  }
};
${lines.join("\n")}
console.log("required: ${subpaths.join(" ")}");
`,
  );
  const out = await must(nodeBin(node), [file], { cwd: app });
  if (!out.includes("required:")) throw new Error(`no output:\n${out}`);
};

/** A server-only subpath must fail to bundle for the browser, on `node:`. */
const notForBrowser = (app, sub) => async () => {
  const entry = `entry_${probe(sub)}.mjs`;
  fs.writeFileSync(join(app, entry), `export * from "${NAME}${sub.slice(1)}";`);
  const argv = [entry, ...BROWSER, "--outfile=/dev/null"];
  const { code, out } = await exec(join(BIN, "esbuild"), argv, { cwd: app });
  if (code === 0 || !out.includes('"node:')) {
    throw new Error(
      `esbuild should have rejected node: (exit ${code})\n${out}`,
    );
  }
};

/** The tarball: the argument, or npm/ packed into `tmp`. */
async function tarball(tmp) {
  if (process.argv[2]) return fs.realpathSync(process.argv[2]);
  if (!fs.existsSync(join(ROOT, "npm/package.json"))) {
    throw new Error("npm/ is not built: run `npm run build -- --no-test`");
  }
  await must("npm", ["pack", join(ROOT, "npm"), "--pack-destination", tmp], {
    cwd: tmp,
  });
  return join(tmp, fs.readdirSync(tmp).find((f) => f.endsWith(".tgz")));
}

// ---- main -----------------------------------------------------------------
const tmp = fs.mkdtempSync(join(tmpdir(), "streamcache-smoke-"));
try {
  await ensureNodes(NODES);
  const tgz = await tarball(tmp);
  const app = join(tmp, "app");
  fs.mkdirSync(app);
  const consumer = { name: "smoke", private: true, type: "module" };
  fs.writeFileSync(join(app, "package.json"), JSON.stringify(consumer));
  const { dependencies = {}, devDependencies = {} } = JSON.parse(
    fs.readFileSync(join(ROOT, "package.json")),
  );
  const versions = { ...devDependencies, ...dependencies };
  const deps = PROBE_DEPS.map((dep) => `${dep}@${versions[dep]}`);
  const install = [
    "install",
    tgz,
    ...deps,
    "--offline",
    "--no-audit",
    "--no-fund",
  ];
  await checks([[
    "npm install (offline)",
    () => must("npm", install, { cwd: app }),
  ]]);
  if (results.failed) throw new Error("the tarball did not install");

  const installed = join(app, "node_modules", NAME, "package.json");
  const subpaths = Object.keys(JSON.parse(fs.readFileSync(installed)).exports);
  const unprobed = subpaths.filter((s) => !(s in PROBES));
  if (unprobed.length) {
    throw new Error(`no probe for ${unprobed}: add one to PROBES above`);
  }
  const web = subpaths.filter((s) => BROWSER_SAFE.includes(s));
  const server = subpaths.filter((s) => SERVER_ONLY.includes(s));
  const unclassified = subpaths.filter((s) => ![...web, ...server].includes(s));
  if (unclassified.length) {
    throw new Error(
      `${unclassified}: in neither BROWSER_SAFE nor SERVER_ONLY (tests/package/subpaths.mjs)`,
    );
  }
  writeProbes(app, subpaths);

  const MAIN = "main.mjs";
  const deno = ["run", "-A", "--node-modules-dir=manual", "--no-lock"];
  const bundler = { module: "preserve", moduleResolution: "bundler" };
  const nodenext = { module: "nodenext", moduleResolution: "nodenext" };
  const dom = { lib: ["ES2022", "DOM", "DOM.Iterable"], types: [] };
  await checks([
    ...NODES.map((node) => [node, runProbes(app, nodeBin(node), [MAIN])]),
    ...NODES.map((node) => [
      `${node} require() (CommonJS)`,
      requireAll(app, node, subpaths),
    ]),
    ["bun", runProbes(app, join(BIN, "bun"), [MAIN])],
    ["deno", runProbes(app, join(BIN, "deno"), [...deno, "main.deno.mjs"])],
    [
      "tsc-nodenext",
      typeCheck(app, "nodenext", { ...nodenext, ...NODE_TYPES }, subpaths),
    ],
    [
      "tsc-bundler",
      typeCheck(app, "bundler", { ...bundler, ...NODE_TYPES }, subpaths),
    ],
    [
      "tsc-web (ES + DOM, no @types/node)",
      typeCheck(app, "web", { ...bundler, ...dom }, web),
    ],
    ...web.map((sub) => [`browser ${sub}`, browserBundle(app, sub)]),
    ...server.map((sub) => [`no-browser ${sub}`, notForBrowser(app, sub)]),
  ]);
} catch (error) {
  results.failed++;
  console.log(`smoke: FAILED  ${String(error?.message ?? error).trimEnd()}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(summary(results));
process.exitCode = results.failed ? 1 : 0;
