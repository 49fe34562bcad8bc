// Benchmark runner: `npm run bench` (= `node scripts/bench.mjs`).
// Plain JS ESM that runs on Node 20 (the system node).
//
//   node scripts/bench.mjs                      both benches on deno, node24, bun
//   node scripts/bench.mjs fanout               only bench/fanout.ts (MemoryStore fan-out)
//   node scripts/bench.mjs fs                   only bench/fs.ts (FsStore: writer, fan-out from disk)
//   node scripts/bench.mjs deno node22          only the named runtimes
//   node scripts/bench.mjs --runs 9             passed on to bench/fanout.ts
//   node scripts/bench.mjs fs --size 256        entry size in MiB for bench/fs.ts (default 1024)
//   node scripts/bench.mjs fs --fs-runs 5       timed writer pairs for bench/fs.ts (default 3)
//   npm run bench -- node22 --runs 9            the same through npm
//   node scripts/bench.mjs w1 w2 deno --record  workloads of issue 15 (w1...w6,
//                                               or `workloads`), results appended
//                                               to bench/RESULTS.md
//   node scripts/bench.mjs costs                what one 64 KiB chunk costs, piece
//                                               by piece (bench/chunk_costs.ts)
//
// Runtimes: deno, bun (node_modules/.bin), node22, node24 (tools/nodes, as
// `npm test` installs them). They run one after another, never at once: the
// machine has 2 cores and the figures are throughput. Each prints one JSON
// line (--json); this prints them as tables, in MiB/s. bench/fs.ts writes
// --size MiB (1 GiB by default) to a temp dir under the OS temp dir, twice
// per writer pair, and removes it after. Exits 1 if a runtime failed (a
// reader got wrong or missing bytes, a crash).
import { spawnSync } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ensureNodes, nodeBin } from "./_nodes.mjs";
import { runWorkloads, WORKLOADS } from "./_workloads.mjs";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));

// The workloads of issue 15 (w1 ... w6, or `workloads` for all; and `costs`,
// bench/chunk_costs.ts, which `workloads` leaves out): their own
// runner, scripts/_workloads.mjs. Arguments other than workload and runtime
// names go to every bench (e.g. `--rounds 3 --size 256`); `--record`
// appends the tables to bench/RESULTS.md.
{
  const argv = process.argv.slice(2);
  const all = [...Object.keys(WORKLOADS), "w6"];
  const workloads = argv.includes("workloads")
    ? all.filter((name) => name !== "costs")
    : argv.filter((arg) => all.includes(arg));
  if (workloads.length) {
    const runtimes = argv.filter((arg) =>
      ["deno", "bun", "node22", "node24"].includes(arg)
    );
    const extra = argv.filter((arg) =>
      arg !== "workloads" && arg !== "--record" && !all.includes(arg) &&
      !runtimes.includes(arg)
    );
    await ensureNodes([
      "node24",
      ...runtimes.filter((r) => r.startsWith("node")),
    ]);
    const ok = runWorkloads(
      workloads,
      runtimes.length ? runtimes : ["deno", "node24", "bun"],
      extra,
      argv.includes("--record"),
    );
    process.exit(ok ? 0 : 1);
  }
}
const BENCHES = {
  fanout: { file: "bench/fanout.ts", deno: [] },
  fs: {
    file: "bench/fs.ts",
    deno: [
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys=statfs",
    ],
  },
};
const RUNTIMES = {
  deno: (bench) => ["node_modules/.bin/deno", "run", ...bench.deno, bench.file],
  bun: (bench) => ["node_modules/.bin/bun", bench.file],
  node22: (bench) => [nodeBin("node22"), bench.file],
  node24: (bench) => [nodeBin("node24"), bench.file],
};

const USAGE = `usage: node scripts/bench.mjs [fanout|fs|all] [${
  Object.keys(RUNTIMES).join("|")
} ...] [--runs N] [--size MiB] [--fs-runs N]`;
const args = process.argv.slice(2);
const options = {};
const names = [];
for (let i = 0; i < args.length; i++) {
  if (["--runs", "--size", "--fs-runs"].includes(args[i])) {
    if (!/^[1-9]\d*$/.test(args[i + 1] ?? "")) {
      console.error(USAGE);
      process.exit(2);
    }
    options[args[i]] = args[++i];
  } else {
    names.push(args[i]);
  }
}
const benchNames = names.filter((name) => name in BENCHES || name === "all");
const runtimeNames = names.filter((name) => !benchNames.includes(name));
const benches = benchNames.length && !benchNames.includes("all")
  ? Object.keys(BENCHES).filter((name) => benchNames.includes(name))
  : Object.keys(BENCHES);
const chosen = runtimeNames.length ? runtimeNames : ["deno", "node24", "bun"];
const unknown = chosen.filter((name) => !(name in RUNTIMES));
if (unknown.length) {
  console.error(USAGE);
  process.exit(2);
}
const passOn = {
  fanout: options["--runs"] ? ["--runs", options["--runs"]] : [],
  fs: [
    ...(options["--size"] ? ["--size", options["--size"]] : []),
    ...(options["--fs-runs"] ? ["--runs", options["--fs-runs"]] : []),
  ],
};

// The pinned Nodes (tools/nodes), installed on first use as `npm test` does.
try {
  await ensureNodes(chosen.filter((name) => name.startsWith("node")));
} catch (error) {
  console.error(`scripts/bench.mjs: ${error?.message ?? error}`);
  process.exit(2);
}

const load = os.loadavg()[0];
const cpus = os.cpus();
console.log(
  `machine: ${cpus.length} x ${cpus[0]?.model.trim()}, ` +
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
let failed = false;

/** Runs `bench` on every chosen runtime; returns [name, result or undefined] pairs. */
function runAll(bench) {
  const results = [];
  for (const name of chosen) {
    const [cmd, ...argv] = RUNTIMES[name](BENCHES[bench]);
    const loadBefore = os.loadavg()[0];
    const r = spawnSync(cmd, [...argv, "--json", ...passOn[bench]], {
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
    }
    results.push([name, res && { ...res, load: loadBefore }]);
  }
  return results;
}

function printTable(rows) {
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((row) => row[c].length))
  );
  for (const row of rows) {
    console.log(
      row.map((cell, c) =>
        c ? cell.padStart(widths[c]) : cell.padEnd(widths[c])
      ).join("  ").trimEnd(),
    );
  }
}

if (benches.includes("fanout")) {
  console.log(
    "\nbench/fanout.ts: 1 writer -> 16 readers, 256 MiB in 64 KiB chunks, MemoryStore",
  );
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
  for (const [name, res] of runAll("fanout")) {
    rows.push(
      res
        ? [
          res.runtime,
          num(res.delivered),
          `(${num(res.deliveredMin)}-${num(res.deliveredMax)})`,
          num(res.writer),
          num(res.memcpy),
          num(res.copyOut),
          res.ratio.toFixed(2),
          (res.delivered / res.copyOut).toFixed(2),
        ]
        : [name, "FAILED", "", "", "", "", "", ""],
    );
  }
  console.log(
    "\nMiB/s: median (and range) of the timed runs; memcpy and copy-out best of 5",
  );
  printTable(rows);
}

if (benches.includes("fs")) {
  const size = Number(options["--size"] ?? 1024);
  console.log(
    `\nbench/fs.ts: FsStore, ${size} MiB in 64 KiB chunks, in ${os.tmpdir()}`,
  );
  const results = runAll("fs");
  const writerRows = [[
    "runtime",
    "load",
    "store",
    "plain",
    "store/plain",
    "(min-max)",
    "store writes",
    "plain writes",
    "commit s",
    "fsync s",
    "sha256",
  ]];
  const fanoutRows = [[
    "runtime",
    "load",
    "delivered",
    "writer",
    "wall s",
    "resting RSS",
    "peak RSS",
    "RSS growth",
  ]];
  for (const [name, res] of results) {
    if (!res) {
      writerRows.push([name, "FAILED", ...Array(9).fill("")]);
      fanoutRows.push([name, "FAILED", ...Array(6).fill("")]);
      continue;
    }
    writerRows.push([
      res.runtime,
      res.load.toFixed(2),
      num(res.store),
      num(res.plain),
      res.ratio.toFixed(2),
      `(${res.ratioMin.toFixed(2)}-${res.ratioMax.toFixed(2)})`,
      num(res.storeWrites),
      num(res.plainWrites),
      res.storeCommit.toFixed(2),
      res.plainSync.toFixed(2),
      num(res.sha256),
    ]);
    fanoutRows.push([
      res.runtime,
      res.load.toFixed(2),
      num(res.delivered),
      num(res.fanoutWriter),
      res.wall.toFixed(2),
      num(res.baselineRss),
      num(res.peakRss),
      num(res.rssGrowth),
    ]);
  }
  console.log(
    "\nwriter, MiB/s: median of the pairs; store = cache.open() writable incl. commit," +
      "\nplain = the runtime's file API + fsync; writes = until the last write resolved",
  );
  printTable(writerRows);
  console.log(
    "\nfan-out from disk, 1 writer -> 8 + 8 readers: MiB/s, and RSS in MiB (one run)",
  );
  printTable(fanoutRows);
}
process.exitCode = failed ? 1 : 0;
