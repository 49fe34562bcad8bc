/**
 * Scale benchmark: `FsStore` over a directory of many committed entries
 * (100,000 by default), as after a restart (SEMANTICS 13; issue 14, point
 * 10). Three things are timed, each on a new store over the same directory,
 * from the store's construction:
 *
 * 1. first served: `new FsStore()` + `new StreamCache()`, then `cache.get()`
 *    of one key and reading its whole body (checked byte for byte). The
 *    start-up scan of committed entries may still run after it.
 * 2. keys: listing every key with `cache.keys()` (the count is checked).
 * 3. records: listing every record with `store.records()` (count and the sum
 *    of sizes are checked), where the store has it.
 *
 * Also shown: how long the background start-up scan takes to finish on a
 * fresh store (`store.scanned`, where the store has it), and the process's
 * peak resident set during each listing, above its resting size before
 * (sampled every 10 ms; `process.memoryUsage.rss()`, also on Deno and Bun).
 *
 * The entries are written directly in FsStore's file format (no commit, no
 * fsync: 100,000 commits would take minutes and measure nothing here), with
 * `--size` bytes of body each and keys like `/reports/000123.csv?v=1`, into
 * a new directory under the OS temp dir that is removed afterwards. The
 * files are then in the page cache: these are warm-cache figures (dropping
 * the caches needs root and slows every other process on the machine).
 *
 * `--without-index` removes the store's record index (`index.json`) before
 * each measurement, as after an upgrade from a version without one, or a
 * crash before the first index was written: every file is then read.
 *
 * `--baseline DIR` also measures the `FsStore` of another checkout of the
 * project (e.g. `git archive main | tar -x -C DIR`), on the same directory,
 * in the same process, alternating with this one (`--runs` rounds). Its
 * `StreamCache` is this checkout's.
 *
 *     deno run -A bench/fs_scale.ts
 *     node bench/fs_scale.ts --baseline /tmp/streamcache-main   # Node 22.18+ / 24
 *     bun bench/fs_scale.ts --entries 50000 --json
 *
 * Options: `--entries N` (100000), `--size bytes` (256), `--runs N` (1),
 * `--baseline DIR`, `--dir PATH` to keep the generated entries in PATH and
 * reuse them in later invocations (they are made there if missing, and left
 * in place), `--json` (one JSON line).
 *
 * @module
 */

import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { StreamCache } from "../mod.ts";
import type { Store } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { hashKey } from "../src/fs/_layout.ts";
import { encodeTrailer } from "../src/fs/_trailer.ts";
import { restingRss, RssSampler } from "./_fs_rss.ts";
import { median, runtime } from "./_stats.ts";

const USAGE = "usage: fs_scale.ts [--entries N] [--size bytes] [--runs N] " +
  "[--baseline DIR] [--dir PATH] [--without-index] [--json]";
const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined) throw new Error(USAGE);
  return value;
}
const ENTRIES = Number(option("--entries") ?? 100_000);
const SIZE = Number(option("--size") ?? 256);
const RUNS = Number(option("--runs") ?? 1);
const baselineDir = option("--baseline");
const keptDir = option("--dir");
const json = args.includes("--json");
const withoutIndex = args.includes("--without-index");
for (const n of [ENTRIES, SIZE, RUNS]) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(USAGE);
}

const keyOf = (i: number) =>
  `/reports/${String(i).padStart(6, "0")}.csv?v=${i % 7}`;
const bodyOf = (i: number) => {
  const body = new Uint8Array(SIZE);
  for (let k = 0; k < SIZE; k++) body[k] = (i * 131 + k * 31) & 255;
  return body;
};

// ---- the directory -------------------------------------------------------------

/** Writes `ENTRIES` committed entry files into `dir/entries`, 64 at a time. */
async function generate(dir: string): Promise<void> {
  const entries = path.join(dir, "entries");
  await fsp.mkdir(entries, { recursive: true });
  const created = Date.now() - 86_400_000;
  let next = 0;
  const worker = async () => {
    while (next < ENTRIES) {
      const i = next++;
      const key = keyOf(i);
      const body = bodyOf(i);
      const trailer = encodeTrailer({
        key,
        id: crypto.randomUUID(),
        meta: { type: "text/csv", n: i },
        size: SIZE,
        created: created + i,
        checksum: createHash("sha256").update(body).digest("base64"),
      });
      const file = new Uint8Array(SIZE + trailer.byteLength);
      file.set(body);
      file.set(trailer, SIZE);
      await fsp.writeFile(path.join(entries, await hashKey(key)), file);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

/** The directory to measure: reused if `--dir` holds a matching one. */
async function prepare(): Promise<
  { dir: string; cleanup: () => Promise<void> }
> {
  const marker = JSON.stringify({ entries: ENTRIES, size: SIZE });
  if (keptDir) {
    const markerPath = path.join(keptDir, "fs_scale.json");
    const found = await fsp.readFile(markerPath, "utf8").catch(() => "");
    if (found !== marker) {
      await fsp.rm(keptDir, { recursive: true, force: true });
      await fsp.mkdir(keptDir, { recursive: true });
      await generate(keptDir);
      await fsp.writeFile(markerPath, marker);
    }
    return { dir: keptDir, cleanup: async () => {} };
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-scale-"));
  const cleanup = () => fsp.rm(dir, { recursive: true, force: true });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  await generate(dir);
  return { dir, cleanup };
}

// ---- the measurements ----------------------------------------------------------

type MakeStore = (dir: string) => Store & { scanned?: Promise<void> };

interface Figures {
  /** Seconds from construction to the end of the first body. */
  first: number;
  /** Seconds from construction to the last key listed. */
  keys: number;
  /** CPU seconds (every thread of the process) over the same time. */
  keysCpu: number;
  keysRss: number;
  /** Seconds from construction to the last record listed (if any). */
  records: number | undefined;
  recordsCpu: number | undefined;
  recordsRss: number | undefined;
  /** Seconds from construction until the start-up scan is done (if known). */
  scanned: number | undefined;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;
const cpuSeconds = (since: ReturnType<typeof process.cpuUsage>) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
};

async function firstServed(make: MakeStore, dir: string): Promise<number> {
  const i = Math.floor(ENTRIES / 2);
  const t0 = performance.now();
  const cache = new StreamCache({ store: make(dir) });
  try {
    const entry = await cache.get(keyOf(i));
    if (!entry) throw new Error(`${keyOf(i)} was not served`);
    const body = new Uint8Array(
      await new Response(entry.readable()).arrayBuffer(),
    );
    const t = seconds(t0);
    if (body.join() !== bodyOf(i).join()) throw new Error("wrong body served");
    return t;
  } finally {
    await cache.close();
  }
}

async function listing(
  make: MakeStore,
  dir: string,
  what: "keys" | "records",
): Promise<{ time: number; cpu: number; rss: number } | undefined> {
  const store = make(dir);
  if (what === "records" && !store.records) {
    await store.close();
    return undefined;
  }
  const resting = await restingRss(5, 10);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const cache = new StreamCache({ store });
  const sampler = new RssSampler();
  try {
    let count = 0;
    let bytes = 0;
    if (what === "keys") {
      for await (const _ of cache.keys()) count++;
    } else {
      for await (const record of store.records!()) {
        count++;
        bytes += record.size;
      }
    }
    const time = seconds(t0);
    const cpu = cpuSeconds(c0);
    const { peak } = sampler.stop();
    if (count !== ENTRIES || (what === "records" && bytes !== ENTRIES * SIZE)) {
      throw new Error(`${what}: listed ${count} entries, ${bytes} bytes`);
    }
    return { time, cpu, rss: peak - resting };
  } finally {
    sampler.stop();
    await cache.close();
  }
}

async function scanned(
  make: MakeStore,
  dir: string,
): Promise<number | undefined> {
  const store = make(dir);
  try {
    if (!store.scanned) return undefined;
    const t0 = performance.now();
    await store.scanned;
    return seconds(t0);
  } finally {
    await store.close();
  }
}

async function measure(make: MakeStore, dir: string): Promise<Figures> {
  const fresh = async <T>(task: () => Promise<T>): Promise<T> => {
    if (withoutIndex) {
      await fsp.rm(path.join(dir, "index.json"), { force: true });
    }
    return await task();
  };
  const first = await fresh(() => firstServed(make, dir));
  const keys = (await fresh(() => listing(make, dir, "keys")))!;
  const records = await fresh(() => listing(make, dir, "records"));
  return {
    first,
    keys: keys.time,
    keysCpu: keys.cpu,
    keysRss: keys.rss,
    records: records?.time,
    recordsCpu: records?.cpu,
    recordsRss: records?.rss,
    scanned: await fresh(() => scanned(make, dir)),
  };
}

// ---- main ------------------------------------------------------------------------

const implementations: [string, MakeStore][] = [
  ["this checkout", (dir) => new FsStore({ dir })],
];
if (baselineDir) {
  const url = pathToFileURL(path.resolve(baselineDir, "src/fs/mod.ts")).href;
  const baseline = (await import(url)) as { FsStore: typeof FsStore };
  implementations.unshift([
    `baseline (${baselineDir})`,
    (dir) => new baseline.FsStore({ dir }),
  ]);
}

const { dir, cleanup } = await prepare();
const results = new Map<string, Figures[]>(
  implementations.map(([name]) => [name, []]),
);
try {
  for (let run = 0; run < RUNS; run++) {
    // Alternate which goes first, so neither always meets a colder cache.
    const order = run % 2 ? [...implementations].reverse() : implementations;
    for (const [name, make] of order) {
      results.get(name)!.push(await measure(make, dir));
    }
  }
} finally {
  await cleanup();
}

const MiB = 2 ** 20;
const med = (xs: (number | undefined)[]) => {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length ? median(known) : undefined;
};
const summary = [...results].map(([name, runs]) => ({
  name,
  first: med(runs.map((r) => r.first)),
  keys: med(runs.map((r) => r.keys)),
  keysCpu: med(runs.map((r) => r.keysCpu)),
  keysRssMiB: med(runs.map((r) => r.keysRss / MiB)),
  records: med(runs.map((r) => r.records)),
  recordsCpu: med(runs.map((r) => r.recordsCpu)),
  recordsRssMiB: med(runs.map((r) => r.recordsRss && r.recordsRss / MiB)),
  scanned: med(runs.map((r) => r.scanned)),
}));
if (json) {
  console.log(JSON.stringify({
    runtime,
    withoutIndex,
    loadAverage: os.loadavg()[0],
    entries: ENTRIES,
    size: SIZE,
    runs: RUNS,
    summary,
  }));
} else {
  const f = (x: number | undefined, digits = 2) =>
    x === undefined ? "-" : x.toFixed(digits);
  console.log(
    `${runtime}: ${ENTRIES} entries of ${SIZE} bytes, median of ${RUNS} run(s)` +
      `${withoutIndex ? ", without the record index" : ""}; ` +
      `seconds from construction; load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  for (const s of summary) {
    console.log(
      `  ${s.name}: first served ${f(s.first, 3)} s · keys ${f(s.keys)} s ` +
        `(${f(s.keysCpu)} s CPU, +${f(s.keysRssMiB, 0)} MiB RSS) · ` +
        `records ${f(s.records)} s (${f(s.recordsCpu)} s CPU, ` +
        `+${f(s.recordsRssMiB, 0)} MiB RSS) · scan done ${f(s.scanned)} s`,
    );
  }
}
