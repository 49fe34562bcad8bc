// Runs the public HTTP cache test suite (github.com/http-tests/cache-tests)
// against a reverse proxy made with cached() (scripts/cache_tests/proxy.ts),
// everything on 127.0.0.1, and prints the results per test group.
//
//   git clone https://github.com/http-tests/cache-tests /tmp/cache-tests
//   (cd /tmp/cache-tests && npm i --omit=dev)
//   tools/nodes/node_modules/node22/bin/node scripts/cache_tests/run.mjs \
//     --suite /tmp/cache-tests [--out results.json] [--id test-id]
//
// It starts the suite's origin server (its test-engine/server, bound to
// 127.0.0.1 by listen_localhost.mjs) and the proxy (Deno) on free ports, runs
// the suite's CLI client against the proxy, and prints one line per group:
// pass, fail, optional fail (the suite's "optimal" tests), the yes/no of its
// "check" tests, and setup or harness failures. Tests are judged one by one,
// not through their dependencies, as the suite's CLI does for one test. The
// suite's code is never copied here: pass the folder it is cloned in.
// Run it with Node 22 or later (the suite's undici needs it).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = resolve(HERE, "../..");
const DENO = `${ROOT}/node_modules/.bin/deno`;
const DEADLINE_MS = 60_000;

const { values } = parseArgs({
  options: {
    suite: { type: "string" },
    out: { type: "string" },
    id: { type: "string", default: "" },
  },
});
if (!values.suite) {
  console.error("usage: run.mjs --suite DIR [--out FILE] [--id TEST-ID]");
  process.exit(2);
}
const suite = resolve(values.suite);
const children = [];

/** Starts a child and resolves with the URL in its first `listening` line. */
function start(name, cmd, args, env, pattern) {
  const child = spawn(cmd, args, {
    cwd: suite,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start`)),
      DEADLINE_MS,
    );
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`${name} exited ${code}`)));
  });
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill();
}
process.on("exit", stopAll);

try {
  const origin = await start(
    "origin",
    process.execPath,
    [
      "--import",
      pathToFileURL(`${HERE}listen_localhost.mjs`).href,
      "test-engine/server/server.mjs",
    ],
    {
      npm_config_protocol: "http",
      npm_config_port: "0",
      npm_config_pidfile: `/tmp/cache-tests-origin-${process.pid}.pid`,
    },
    /Listening on (http:\/\/127\.0\.0\.1:\d+)\//,
  );
  const proxy = await start(
    "proxy",
    DENO,
    [
      "run",
      "--allow-net=127.0.0.1",
      `${HERE}proxy.ts`,
      "--upstream",
      origin,
      "--port",
      "0",
    ],
    {},
    /listening on (http:\/\/127\.0\.0\.1:\d+)\//,
  );
  console.error(`origin ${origin}, proxy ${proxy}`);

  const client = spawn(process.execPath, [
    "--no-warnings",
    "test-engine/cli.mjs",
  ], {
    cwd: suite,
    env: {
      ...process.env,
      npm_config_base: proxy,
      npm_config_id: values.id,
      npm_package_config_id: values.id, // read when the first is empty
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  client.stdout.on("data", (chunk) => output += chunk);
  const code = await new Promise((done) => client.on("exit", done));
  if (values.id) {
    console.log(output);
    process.exit(code ?? 1);
  }
  if (code !== 0) throw new Error(`the suite's client exited ${code}`);
  const results = JSON.parse(output);
  if (values.out) writeFileSync(values.out, JSON.stringify(results, null, 2));
  await summarize(results);
} finally {
  stopAll();
}

/** Prints a Markdown table of results per test group. */
async function summarize(results) {
  const url = (path) => pathToFileURL(`${suite}/${path}`).href;
  const { default: groups } = await import(url("tests/index.mjs"));
  const { determineTestResult, resultTypes } = await import(
    url("test-engine/lib/results.mjs")
  );
  const names = new Map([
    [resultTypes.pass, "pass"],
    [resultTypes.fail, "fail"],
    [resultTypes.optional_fail, "optional fail"],
    [resultTypes.yes, "yes"],
    [resultTypes.no, "no"],
    [resultTypes.setup_fail, "setup fail"],
    [resultTypes.harness_fail, "harness fail"],
    [resultTypes.retry, "retry"],
    [resultTypes.untested, "untested"],
  ]);
  const columns = [...new Set(names.values())];
  const rows = [];
  const total = Object.fromEntries(columns.map((c) => [c, 0]));
  for (const group of groups) {
    const count = Object.fromEntries(columns.map((c) => [c, 0]));
    for (const test of group.tests) {
      if (test.browser_only) continue;
      const kind = names.get(
        determineTestResult(groups, test.id, results, false),
      );
      count[kind]++;
      total[kind]++;
    }
    rows.push([group.name, ...columns.map((c) => count[c])]);
  }
  rows.push(["**all**", ...columns.map((c) => total[c])]);
  const used = columns.filter((c) => total[c] > 0);
  const indexes = used.map((c) => columns.indexOf(c) + 1);
  console.log(`| group | ${used.join(" | ")} |`);
  console.log(`| --- | ${used.map(() => "---:").join(" | ")} |`);
  for (const row of rows) {
    console.log(`| ${row[0]} | ${indexes.map((i) => row[i]).join(" | ")} |`);
  }
}
