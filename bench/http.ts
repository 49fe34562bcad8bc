/**
 * HTTP benchmark: a cached 10 MiB download from the download server
 * (examples/download_server/, entries in an `FsStore`) against a static file
 * server, npm `sirv` on `node:http`, serving the same bytes from a file. Each
 * server is a child process on 127.0.0.1; the load comes from npm
 * `autocannon` (programmatic API) in this process, so the load generator
 * shares the machine's cores with the server under test.
 *
 * For each server: start it, check that a download has exactly the
 * expected bytes (SHA-256), let autocannon warm it up, then one timed run of
 * `--duration` seconds with `--connections` keep-alive connections, each
 * downloading the whole file again and again. Reported: requests per
 * second, MiB per second, latency (median and p99), and the CPU the server
 * and the load generator used, in cores. `--rounds N` repeats the set of
 * servers N times, alternating, and reports the median round.
 *
 *     node bench/http.ts                    # Node 24 (or 22.18+: strips the types)
 *     node bench/http.ts --servers node24,deno --duration 5 --connections 8
 *     node bench/http.ts --json             # one JSON line
 *
 * Options: `--servers` any of `static`, `static-deno`, `static-bun`,
 * `deno`, `bun`, `node22`, `node24` (default `static` and the download
 * server on each runtime but node22; `static-deno` and `static-bun` are
 * Deno's and Bun's own file responses, bench/_http_static_runtime.ts),
 * `--size MiB` (10; past 64, the load comes from bench/_http_load.ts, as
 * autocannon cannot hold a larger body), `--connections N` (4), `--duration
 * s` (10), `--warmup s` (2), `--rounds N` (1). Everything is
 * bounded in time; only 127.0.0.1 is contacted. The temp directory (the
 * cache and the static file) is removed afterwards.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { streamingLoad } from "./_http_load.ts";
import { reportBytes } from "../examples/download_server/generate.ts";
import {
  type BenchServer,
  SERVER_RUNTIMES,
  startDownloadServer,
  startStaticServer,
} from "./_http_servers.ts";

/** The slice of autocannon's result used here. */
interface LoadResult {
  requests: { average: number; total: number };
  throughput: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
}) => Promise<LoadResult>;

const MiB = 1024 * 1024;
const NAME = "bench.csv";
/** The size past which the load comes from bench/_http_load.ts. */
const STREAMING_FROM = 64 * MiB;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    servers: { type: "string", default: "static,deno,bun,node24" },
    size: { type: "string", default: "10" },
    connections: { type: "string", default: "4" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const count = (name: keyof typeof values, max: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`--${name} must be a whole number from 1 to ${max}`);
    process.exit(2);
  }
  return n;
};
const size = count("size", 1024) * MiB;
const connections = count("connections", 64);
const duration = count("duration", 120);
const warmup = count("warmup", 60);
const rounds = count("rounds", 9);
const servers = String(values.servers).split(",");
/** The yardsticks: sirv on Node, and Deno's and Bun's own file responses. */
const STATIC_SERVERS = ["static", "static-deno", "static-bun"];
for (const name of servers) {
  if (!STATIC_SERVERS.includes(name) && !(name in SERVER_RUNTIMES)) {
    console.error(
      `unknown server ${name}: use ${STATIC_SERVERS}, ${
        Object.keys(SERVER_RUNTIMES)
      }`,
    );
    process.exit(2);
  }
}
const say = (line: string) => values.json || console.log(line);

/** One timed run against one server. */
interface Measure {
  server: string;
  requestsPerSecond: number;
  mibPerSecond: number;
  p50: number;
  p99: number;
  serverCores: number;
  loadCores: number;
  requests: number;
}

async function fetchSha(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return createHash("sha256").update(bytes).digest("hex");
}

let caches = 0;

/** Starts the server `name`, and checks that it serves the expected bytes. */
async function prepare(
  name: string,
  dir: string,
  expected: string,
): Promise<{ server: BenchServer; url: string }> {
  if (STATIC_SERVERS.includes(name)) {
    const runtime = name === "static" ? undefined : name.slice(7) as "deno";
    const server = await startStaticServer(join(dir, "static"), runtime);
    const url = `${server.url}${NAME}`;
    if (await fetchSha(url) !== expected) {
      throw new Error("static: wrong bytes");
    }
    return { server, url };
  }
  // Each run gets a new cache, so that the first download generates the
  // entry there (fast: rate=1G).
  const server = await startDownloadServer(
    name,
    join(dir, `cache-${name}-${++caches}`),
  );
  const key = `/downloads/${NAME}?size=${size}`;
  const url = `${server.url}${key.slice(1)}&rate=1G`;
  if (await fetchSha(url) !== expected) throw new Error(`${name}: wrong bytes`);
  await server.waitForLine((line) => line.startsWith(`stored ${key} `));
  if (await fetchSha(url) !== expected) {
    throw new Error(`${name}: wrong bytes from the cache`);
  }
  return { server, url };
}

async function measure(
  name: string,
  dir: string,
  expected: string,
): Promise<Measure> {
  const { server, url } = await prepare(name, dir, expected);
  // autocannon keeps each body as a string: past 64 MiB, our own streaming
  // client (bench/_http_load.ts), which checks each body's size itself.
  const streaming = size > STREAMING_FROM;
  const load = streaming
    ? (options: { url: string; connections: number; duration: number }) =>
      streamingLoad({ ...options, size })
    : autocannon as unknown as Autocannon;
  try {
    const options = { url, connections, timeout: 30 };
    await load({ ...options, duration: warmup });
    const cpu = server.cpuSeconds();
    const ownCpu = process.cpuUsage();
    const started = performance.now();
    const result = await load({ ...options, duration });
    const wall = (performance.now() - started) / 1000;
    const own = process.cpuUsage(ownCpu);
    const problems = result.errors + result.timeouts + result.non2xx;
    if (problems) {
      throw new Error(
        `${server.name}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`,
      );
    }
    // Each response must have carried the whole file (plus its headers).
    const perResponse = result.throughput.total / result.requests.total;
    if (!streaming && (perResponse < size || perResponse > size + 4096)) {
      throw new Error(
        `${server.name}: ${
          perResponse.toFixed(0)
        } bytes per response, expected ${size} and headers`,
      );
    }
    return {
      server: server.name,
      requestsPerSecond: result.requests.total / wall,
      mibPerSecond: result.throughput.total / wall / MiB,
      p50: result.latency.p50,
      p99: result.latency.p99,
      serverCores: (server.cpuSeconds() - cpu) / wall,
      loadCores: (own.user + own.system) / 1e6 / wall,
      requests: result.requests.total,
    };
  } finally {
    const code = await server.stop();
    if (code !== 0 && code !== null) {
      console.error(`${server.name} exited with ${code}`);
    }
  }
}

/** The range of the rounds' MiB/s. */
function spread(runs: Measure[]): string {
  const rates = runs.map((r) => r.mibPerSecond);
  return `(${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)})`;
}

function median(runs: Measure[]): Measure {
  const sorted = [...runs].sort((a, b) => a.mibPerSecond - b.mibPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const cpus = os.cpus();
say(
  `machine: ${cpus.length} x ${cpus[0]?.model.trim()}; load average ${
    os.loadavg()[0]!.toFixed(2)
  }; load generator: ${
    size > STREAMING_FROM ? "bench/_http_load.ts" : "autocannon"
  } in Node ${process.versions.node}`,
);
say(
  `${
    size / MiB
  } MiB download, ${connections} connections, ${warmup} s warm-up + ${duration} s timed, ${rounds} round(s)`,
);

const dir = await mkdtemp(join(os.tmpdir(), "streamcache-bench-http-"));
const stop = () => {
  rm(dir, { recursive: true, force: true }).finally(() => process.exit(130));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
try {
  const bytes = reportBytes(NAME, size);
  const expected = createHash("sha256").update(bytes).digest("hex");
  await mkdir(join(dir, "static"));
  await writeFile(join(dir, "static", NAME), bytes);

  const results = new Map<string, Measure[]>();
  for (let round = 0; round < rounds; round++) {
    for (const name of servers) {
      const result = await measure(name, dir, expected);
      results.set(name, [...(results.get(name) ?? []), result]);
    }
  }
  const rows = servers.map((name) => median(results.get(name)!));
  if (values.json) {
    console.log(JSON.stringify({ size, connections, duration, rows }));
  } else {
    const table = [
      [
        "server",
        "req/s",
        "MiB/s",
        "(min-max)",
        "p50 ms",
        "p99 ms",
        "server cores",
        "autocannon cores",
      ],
      ...rows.map((r, i) => [
        r.server,
        r.requestsPerSecond.toFixed(1),
        r.mibPerSecond.toFixed(0),
        spread(results.get(servers[i]!)!),
        String(r.p50),
        String(r.p99),
        r.serverCores.toFixed(2),
        r.loadCores.toFixed(2),
      ]),
    ];
    const widths = table[0]!.map((_, c) =>
      Math.max(...table.map((row) => row[c]!.length))
    );
    console.log("");
    for (const row of table) {
      console.log(
        row.map((cell, c) =>
          c ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)
        ).join("  "),
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
