// The workload benches of issue 15 (bench/w1_fanout.ts ... bench/w6_http.ts),
// for scripts/bench.mjs: `npm run bench -- w1 w3 deno node24 --record`.
// Each workload runs in one fresh process per runtime (and per store where
// it has two), one after another, never two at once; each prints one JSON
// line, shown here as a table; `--record` appends the tables to
// bench/RESULTS.md with the machine, the load average and the versions.
// Plain JS ESM that runs on Node 20 (the system node).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import process from "node:process";
import { nodeBin } from "./_nodes.mjs";

const DENO = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
const RUN = {
  deno: (file, gc) => [
    "node_modules/.bin/deno",
    "run",
    ...DENO,
    ...(gc ? ["--v8-flags=--expose-gc"] : []),
    file,
  ],
  bun: (file) => ["node_modules/.bin/bun", file],
  node22: (
    file,
    gc,
  ) => [nodeBin("node22"), ...(gc ? ["--expose-gc"] : []), file],
  node24: (
    file,
    gc,
  ) => [nodeBin("node24"), ...(gc ? ["--expose-gc"] : []), file],
};

const MiB = 2 ** 20;
const f0 = (x) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(0));
const f2 = (x) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(2));
const us = (ms) => f0(ms * 1000);

/**
 * The options each bench takes (every one with a value), so that one command
 * line can give `--size` to W1 and W5 and `--hits` to W2: each run gets the
 * options of its bench only. An option no selected bench takes is an error.
 */
const OPTIONS = {
  w1: ["size", "rounds", "dir", "baseline", "only"],
  w2: ["hits", "misses", "rounds", "baseline"],
  w3: ["requests", "size", "rounds"],
  w4: ["appends", "rounds"],
  w5: ["readers", "size", "read"],
  w6: ["sizes", "connections", "duration", "rounds"],
  costs: ["count"],
};

/** `extra` (`--name value` or `--name=value`, in order) split by option name. */
function parseExtra(extra) {
  const given = [];
  for (let i = 0; i < extra.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(extra[i]);
    if (!match) throw new Error(`unexpected argument ${extra[i]}`);
    const value = match[2] ?? extra[++i];
    if (value === undefined) throw new Error(`--${match[1]} needs a value`);
    given.push([match[1], value]);
  }
  return given;
}

/** The options of `given` that workload `name` takes, as arguments. */
function optionsFor(name, given) {
  return given.filter(([option]) => OPTIONS[name].includes(option))
    .flatMap(([option, value]) => [`--${option}`, value]);
}

/** Each workload: its runs (file and arguments) and how its JSON becomes table rows. */
export const WORKLOADS = {
  w1: {
    title:
      "W1 fan-out: 1 writer, 8 + 8 readers; MiB/s, and streamcache / peer (median of paired ratios)",
    runs: (extra) => [
      ["bench/w1_fanout.ts", ["--store", "memory", ...extra]],
      ["bench/w1_fanout.ts", ["--store", "disk", ...extra]],
    ],
    header: [
      "runtime",
      "store",
      "load",
      "streamcache",
      "byob",
      "before",
      "fs-capacitor",
      "temp file",
      "positioned",
      "memcpy",
      "writer / raw write",
      "RSS growth / entry (default, byob)",
    ],
    row: (r) => {
      const d = r.delivered, q = r.ratio, b = r.byobRatio ?? {};
      const cell = (name) =>
        d[name] === undefined
          ? "-"
          : `${f0(d[name] / MiB)} (${f2(q[name])}${
            b[name] === undefined ? "" : `, byob ${f2(b[name])}`
          })`;
      return [
        r.runtime,
        `${r.store} ${r.size / MiB} MiB`,
        f2(r.load),
        f0(d.streamcache / MiB),
        d["streamcache byob"] === undefined
          ? "-"
          : f0(d["streamcache byob"] / MiB),
        cell("before"),
        cell("fs-capacitor"),
        cell("temp file"),
        cell("positioned readers"),
        cell("memcpy"),
        f2(r.writerToRawWrite),
        `${f2(r.rssGrowth.streamcache / r.size)}, ${
          f2(r.rssGrowth["streamcache byob"] / r.size)
        }`,
      ];
    },
  },
  w2: {
    title:
      "W2 small entries (1 KiB): hits/s and miss p50/p99 µs; ratio streamcache / peer (above 1: streamcache faster)",
    runs: (extra) => [
      ["bench/w2_small.ts", ["--store", "memory", ...extra]],
      ["bench/w2_small.ts", ["--store", "disk", ...extra]],
    ],
    header: [
      "runtime",
      "store",
      "load",
      "subject",
      "hits/s",
      "hit ratio",
      "miss p50",
      "miss p99",
      "miss ratio",
    ],
    rows: (r) =>
      Object.entries(r.subjects).map(([name, s]) => [
        r.runtime,
        r.store,
        f2(r.load),
        name,
        f0(s.hits),
        f2(s.hitRatio),
        us(s.missP50),
        us(s.missP99),
        f2(s.missRatio),
      ]),
  },
  w3: {
    title:
      "W3 stampede: 1,000 concurrent requests for a cold 1 MiB key; ms to the last byte; ratio: subject / streamcache memory",
    runs: (extra) => [["bench/w3_stampede.ts", extra]],
    header: [
      "runtime",
      "load",
      "subject",
      "producer runs",
      "last byte ms",
      "ratio",
    ],
    rows: (r) =>
      Object.entries(r.subjects).map(([name, s]) => [
        r.runtime,
        f2(r.load),
        name,
        String(s.producerRuns),
        f0(s.seconds * 1000),
        f2(s.ratio),
      ]),
  },
  w4: {
    title:
      "W4 catch-up latency: 1 KiB every 1 ms, append to a waiting reader's receipt, µs",
    runs: (extra) => [["bench/w4_catchup.ts", extra]],
    header: ["runtime", "load", "subject", "p50 µs", "p99 µs"],
    rows: (r) =>
      Object.entries(r.subjects).map((
        [name, s],
      ) => [r.runtime, f2(r.load), name, us(s.p50), us(s.p99)]),
  },
  w5: {
    title:
      "W5: 1,000 readers of one disk entry, each 1 MiB read then open; MiB and open fds",
    gc: true,
    runs: (extra) => [["bench/w5_readers.ts", extra]],
    header: [
      "runtime",
      "load",
      "case",
      "peak RSS growth",
      "retained after GC",
      "open fds (more)",
    ],
    rows: (r) =>
      Object.entries(r.results).map(([name, s]) => [
        r.runtime,
        f2(r.load),
        `${name}, ${r.size / MiB} MiB`,
        f0(s.rssGrowth / MiB),
        f2(s.retained / MiB),
        `${s.fds} (${s.fds - s.fdsBefore})`,
      ]),
  },
  costs: {
    title:
      "What one 64 KiB chunk costs, piece by piece (bench/chunk_costs.ts): µs per chunk, median of 5",
    runs: (extra) => [["bench/chunk_costs.ts", extra]],
    header: ["runtime", "load", "piece", "µs"],
    rows: (r) =>
      Object.entries(r.costs).map(([name, us]) => [
        r.runtime,
        f2(r.load),
        name,
        us === null ? "-" : f2(us),
      ]),
  },
};

function table(rows) {
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((row) => String(row[c]).length))
  );
  return rows.map((row) =>
    row.map((cell, c) => String(cell).padEnd(widths[c])).join("  ").trimEnd()
  ).join("\n");
}
const markdown = (rows) =>
  [rows[0], rows[0].map(() => "---"), ...rows.slice(1)].map((row) =>
    `| ${row.join(" | ")} |`
  ).join("\n");

/**
 * Runs `names` (w1...w6) on `runtimes`, prints tables; with `record`,
 * appends them to bench/RESULTS.md. Returns whether every run succeeded.
 */
export function runWorkloads(names, runtimes, extra, record) {
  const given = parseExtra(extra);
  for (const [option] of given) {
    if (!names.some((name) => OPTIONS[name].includes(option))) {
      throw new Error(
        `--${option}: no selected workload takes it (${names.join(", ")})`,
      );
    }
  }
  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model.trim()}, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB, ${os.type()} ${os.release()}`;
  const startLoad = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`machine: ${machine}; load average ${startLoad}`);
  const versions = new Set();
  const sections = [];
  const failed = [];
  let ok = true;
  for (const name of names) {
    if (name === "w6") {
      const r = spawnSync(nodeBin("node24"), [
        "bench/w6_http.ts",
        "--json",
        ...optionsFor("w6", given),
      ], { encoding: "utf8", timeout: 60 * 60_000 });
      const line = r.stdout?.trim().split("\n").at(-1) ?? "";
      if (r.status !== 0) {
        ok = false;
        failed.push("w6");
        console.log(`w6: FAILED\n${r.stdout}${r.stderr}`);
        continue;
      }
      const res = JSON.parse(line);
      const rows = [[
        "load",
        "size",
        "connections",
        "server",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "streamcache / yardstick",
      ]];
      for (const x of res.results) {
        for (const row of x.rows) {
          const cache = Object.keys(x.ratios).find((k) =>
            row.server.endsWith(`on ${k}`)
          );
          rows.push([
            f2(res.load),
            `${x.size} MiB`,
            String(x.connections),
            row.server,
            f0(row.mibPerSecond),
            String(row.p50),
            String(row.p99),
            cache ? f2(x.ratios[cache]) : "",
          ]);
        }
      }
      const title =
        "W6 HTTP: cached download vs each runtime's static file path (autocannon in Node 24, loopback)";
      console.log(`\n${title}\n${table(rows)}`);
      sections.push(`${title}\n\n${markdown(rows)}`);
      continue;
    }
    const workload = WORKLOADS[name];
    const rows = [workload.header];
    for (const runtime of runtimes) {
      for (const [file, args] of workload.runs(optionsFor(name, given))) {
        const [cmd, ...argv] = RUN[runtime](file, workload.gc);
        const r = spawnSync(cmd, [...argv, ...args, "--json"], {
          encoding: "utf8",
          timeout: 60 * 60_000,
          env: { ...process.env, NO_COLOR: "1" },
        });
        const line = r.stdout?.trim().split("\n").at(-1) ?? "";
        let res;
        try {
          res = r.status === 0 ? JSON.parse(line) : undefined;
        } catch {
          res = undefined;
        }
        if (!res) {
          ok = false;
          failed.push(`${name} ${runtime} ${args.join(" ")}`);
          console.log(
            `${name} ${runtime} ${args.join(" ")}: FAILED\n${r.stdout ?? ""}${
              r.stderr ?? ""
            }`,
          );
          continue;
        }
        versions.add(res.runtime);
        rows.push(
          ...(workload.rows ? workload.rows(res) : [workload.row(res)]),
        );
      }
    }
    if (rows.length === 1) continue; // every run of it failed: no table
    console.log(`\n${workload.title}\n${table(rows)}`);
    sections.push(`${workload.title}\n\n${markdown(rows)}`);
  }
  if (failed.length) sections.push(`Failed runs: ${failed.join("; ")}.`);
  // A record holds at least one table; failures alone are not recorded.
  if (record && sections.length > (failed.length ? 1 : 0)) {
    const when = new Date().toISOString().slice(0, 16).replace("T", " ");
    const text = [
      `\n### ${when} UTC: \`npm run bench -- ${
        [...names, ...runtimes, ...extra].join(" ")
      }\``,
      "",
      `Machine: ${machine}. Load average at the start ${startLoad}, at the end ${
        os.loadavg().map((x) => x.toFixed(2)).join(" ")
      }. Runtimes: ${[...versions].join(", ") || "see the rows"}.`,
      "",
      sections.join("\n\n"),
      "",
    ].join("\n");
    fs.appendFileSync("bench/RESULTS.md", text);
    // As `deno fmt --check` (part of npm test) wants the file.
    spawnSync("node_modules/.bin/deno", ["fmt", "-q", "bench/RESULTS.md"]);
    console.log("\nappended to bench/RESULTS.md");
  }
  return ok;
}
