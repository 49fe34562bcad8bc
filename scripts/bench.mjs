// Benchmark runner: `npm run bench` (= `node scripts/bench.mjs`).
// Plain JS ESM that runs on Node 20 (the system node).
//
//   node scripts/bench.mjs                      bench/fanout.ts on deno, node24, bun
//   node scripts/bench.mjs deno node22          only the named runtimes
//   node scripts/bench.mjs --runs 9             passed on to bench/fanout.ts
//   npm run bench -- node22 --runs 9            the same through npm
//
// Runtimes: deno, bun (node_modules/.bin), node22, node24 (tools/nodes, as
// `npm test` installs them). They run one after another, never at once: the
// machine has 2 cores and the figures are throughput. Each prints one JSON
// line (bench/fanout.ts --json); this prints them as a table, in MiB/s.
// Exits 1 if a runtime failed (a reader got wrong or missing bytes, a crash).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));
const BENCH = "bench/fanout.ts";
const RUNTIMES = {
  deno: ["node_modules/.bin/deno", "run", BENCH],
  bun: ["node_modules/.bin/bun", BENCH],
  node22: ["tools/nodes/node_modules/node22/bin/node", BENCH],
  node24: ["tools/nodes/node_modules/node24/bin/node", BENCH],
};

const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const passOn = runsAt < 0 ? [] : ["--runs", args[runsAt + 1]];
const names = args.filter((_, i) =>
  runsAt < 0 || (i !== runsAt && i !== runsAt + 1)
);
const chosen = names.length ? names : ["deno", "node24", "bun"];
const unknown = chosen.filter((name) => !(name in RUNTIMES));
if (
  unknown.length || (runsAt >= 0 && !/^[1-9]\d*$/.test(args[runsAt + 1] ?? ""))
) {
  console.error(
    `usage: node scripts/bench.mjs [${
      Object.keys(RUNTIMES).join("|")
    } ...] [--runs N]`,
  );
  process.exit(2);
}

// The pinned Nodes live in tools/nodes, installed by `npm test`; install them here too.
if (
  chosen.some((name) =>
    name.startsWith("node") && !fs.existsSync(RUNTIMES[name][0])
  )
) {
  console.log("tools/nodes: installing (npm ci --prefix tools/nodes)");
  const npmArgs = ["ci", "--prefix", "tools/nodes", "--no-audit", "--no-fund"];
  const r = spawnSync("npm", npmArgs, { stdio: "inherit" });
  if (r.status !== 0) process.exit(2);
}

const load = os.loadavg()[0];
const cpus = os.cpus();
console.log(
  `bench/fanout.ts: 1 writer -> 16 readers, 256 MiB in 64 KiB chunks, MemoryStore` +
    `\nmachine: ${cpus.length} x ${cpus[0]?.model.trim()}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${
      load.toFixed(2)
    }`,
);
if (load > 0.5) {
  console.log(
    "warning: the machine is busy; the figures will be low and noisy",
  );
}

const env = { ...process.env, NO_COLOR: "1" };
const MiB = 2 ** 20;
const num = (x) => (x / MiB).toFixed(0);
const rows = [[
  "runtime",
  "delivered",
  "(min-max)",
  "writer",
  "memcpy",
  "copy-out",
  "delivered/memcpy",
  "delivered/copy-out",
]];
let failed = false;
for (const name of chosen) {
  const [cmd, ...argv] = RUNTIMES[name];
  const r = spawnSync(cmd, [...argv, "--json", ...passOn], {
    env,
    encoding: "utf8",
    timeout: 10 * 60_000, // a hung runtime must not hang the run
  });
  const line = r.stdout?.trim().split("\n").at(-1) ?? "";
  let res;
  try {
    res = r.status === 0 ? JSON.parse(line) : undefined;
  } catch {
    res = undefined;
  }
  if (!res) {
    failed = true;
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}`;
    console.log(
      `\n${name}: FAILED (${why})\n${r.stdout ?? ""}${r.stderr ?? ""}`,
    );
    rows.push([name, "FAILED", "", "", "", "", "", ""]);
    continue;
  }
  rows.push([
    res.runtime,
    num(res.delivered),
    `(${num(res.deliveredMin)}-${num(res.deliveredMax)})`,
    num(res.writer),
    num(res.memcpy),
    num(res.copyOut),
    res.ratio.toFixed(2),
    (res.delivered / res.copyOut).toFixed(2),
  ]);
}

const widths = rows[0].map((_, c) =>
  Math.max(...rows.map((row) => row[c].length))
);
console.log(
  "\nMiB/s: median (and range) of the timed runs; memcpy and copy-out best of 5",
);
for (const row of rows) {
  console.log(
    row.map((cell, c) => c ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ").trimEnd(),
  );
}
process.exitCode = failed ? 1 : 0;
