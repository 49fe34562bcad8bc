/**
 * W6, HTTP: a cached download from the download server
 * (examples/download_server/, entries in an `FsStore`) against each
 * runtime's static file path, over loopback, with autocannon: for each size
 * (10 MiB and 1 GiB) and each number of connections (1 and 16), one run of
 * bench/http.ts (servers alternating in each round), then the ratios
 * streamcache / yardstick of the median MiB/s: on Node against sirv, on
 * Deno against `Deno.serve` with the file's readable, on Bun against
 * `Bun.serve` with `Bun.file()` (bench/_http_static_runtime.ts).
 *
 *     node bench/w6_http.ts                          # Node 24 or 22.18+
 *     node bench/w6_http.ts --sizes 10 --connections 1,16 --duration 5
 *
 * Options: `--sizes MiB,...` (10,1024), `--connections N,...` (1,16),
 * `--duration s` (10; a 1 GiB download needs it), `--rounds N` (3),
 * `--json`.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "10,1024" },
    connections: { type: "string", default: "1,16" },
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const HTTP = fileURLToPath(new URL("http.ts", import.meta.url));
/** Each download server, and the yardstick it is compared with. */
const PAIRS = [
  ["node24", "static"],
  ["deno", "static-deno"],
  ["bun", "static-bun"],
] as const;
const servers = PAIRS.flat().join(",");

interface Row {
  server: string;
  mibPerSecond: number;
  p50: number;
  p99: number;
}
const results: unknown[] = [];
const log = (line: string) => opts.json || console.log(line);
log(`W6 HTTP; load ${os.loadavg()[0]!.toFixed(2)}`);
for (const size of opts.sizes.split(",")) {
  for (const connections of opts.connections.split(",")) {
    const run = spawnSync(process.execPath, [
      HTTP,
      "--servers",
      servers,
      "--size",
      size,
      "--connections",
      connections,
      "--duration",
      opts.duration,
      "--warmup",
      "2",
      "--rounds",
      opts.rounds,
      "--json",
    ], { encoding: "utf8", timeout: 30 * 60_000 });
    if (run.status !== 0) {
      throw new Error(`bench/http.ts failed:\n${run.stdout}${run.stderr}`);
    }
    const { rows } = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as {
      rows: Row[];
    };
    const byServer = new Map(
      PAIRS.flat().map((name, i) => [name, rows[i]!] as const),
    );
    const ratios = Object.fromEntries(
      PAIRS.map(([cache, yardstick]) => [
        cache,
        byServer.get(cache)!.mibPerSecond /
        byServer.get(yardstick)!.mibPerSecond,
      ]),
    );
    results.push({
      size: Number(size),
      connections: Number(connections),
      rows,
      ratios,
    });
    log(
      `${size} MiB, ${connections} connection(s): MiB/s, and streamcache / yardstick`,
    );
    for (const [cache, yardstick] of PAIRS) {
      const c = byServer.get(cache)!;
      const y = byServer.get(yardstick)!;
      log(
        `  ${cache.padEnd(7)} ${c.mibPerSecond.toFixed(0).padStart(6)} vs ${
          y.server.padEnd(26)
        } ${y.mibPerSecond.toFixed(0).padStart(6)}   ratio ${
          ratios[cache]!.toFixed(2)
        }`,
      );
    }
  }
}
if (opts.json) {
  console.log(
    JSON.stringify({ workload: "w6", load: os.loadavg()[0], results }),
  );
}
