/**
 * W1, fan-out: one writer, 64 KiB chunks, 16 readers (8 from the start, 8
 * joining at 50 %), every reader checked byte for byte; streamcache against
 * its peers in the same process, rounds interleaved, medians of the paired
 * ratios (streamcache / peer, per round).
 *
 * `--store memory` (default 256 MiB): streamcache's `MemoryStore`, with
 * default readers and with BYOB readers (where the runtime's streams give
 * them), fs-capacitor 8 (a temp file its readers follow), and memcpy (one
 * `Uint8Array.set` of the entry's size, best of 3) as the limit. Also each
 * run's peak resident set growth over the resting size before it.
 *
 * `--store disk` (default 1 GiB): streamcache's `FsStore` (commit included),
 * default and BYOB readers, fs-capacitor, "generate to a temp file, then
 * serve" (the runtime's own file write, no fsync, then 16 readers of the
 * runtime's own file stream), and the limits: a raw write loop of the same
 * bytes, and 16 plain positioned readers (`fs.read`) of the complete file.
 *
 * `--baseline DIR` also measures the streamcache of another checkout (say
 * `git archive main | tar -x -C DIR`) in the same rounds: before and after.
 *
 *     deno run -A bench/w1_fanout.ts --store memory
 *     node bench/w1_fanout.ts --store disk --size 512 --rounds 3
 *     bun bench/w1_fanout.ts --store disk --baseline /tmp/perf-before
 *     npm run bench -- w1                  # both stores, every runtime
 *
 * Options: `--store memory|disk`, `--size MiB`, `--rounds N` (5), `--dir
 * PATH` (where temp files go; the OS temp dir), `--baseline DIR`, `--only
 * name,...` (only these subjects; the ratios are then to the first; e.g.
 * `--only "streamcache byob" --rounds 1` measures the peak RSS of one run in
 * a fresh process, or gives a profiler the cache alone), `--json`.
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { MemoryStore, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import {
  byobWorks,
  capacitorFanout,
  type FanoutRun,
  fileStreamApi,
  plainLimits,
  type Streamcache,
  streamcacheFanout,
  tempFileFanout,
} from "./_fanout_peers.ts";
import { restingRss } from "./_fs_rss.ts";
import { memcpyBandwidth } from "./_memcpy.ts";
import { median, runtime } from "./_stats.ts";

const MiB = 2 ** 20;
const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    store: { type: "string", default: "memory" },
    size: { type: "string" },
    rounds: { type: "string", default: "5" },
    dir: { type: "string" },
    baseline: { type: "string" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const disk = opts.store === "disk";
if (!disk && opts.store !== "memory") throw new Error("--store memory|disk");
const SIZE = Number(opts.size ?? (disk ? 1024 : 256)) * MiB;
const ROUNDS = Number(opts.rounds);
if (!(SIZE > 0) || SIZE % (64 * 1024) || !(ROUNDS > 0)) {
  throw new Error("--size must be a positive number of MiB, --rounds > 0");
}
const log = (line: string) => opts.json || console.log(line);

const current: Streamcache = { StreamCache, MemoryStore, FsStore };
const baseline: Streamcache | undefined = opts.baseline
  ? {
    ...(await import(
      pathToFileURL(path.resolve(opts.baseline, "mod.ts")).href
    )),
    ...(await import(
      pathToFileURL(path.resolve(opts.baseline, "src/fs/mod.ts")).href
    )),
  }
  : undefined;

const base = await fsp.mkdtemp(
  path.join(opts.dir ?? os.tmpdir(), "streamcache-w1-"),
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void fsp.rm(base, { recursive: true, force: true }).finally(() =>
      process.exit(130)
    );
  });
}
let serial = 0;
const fresh = () => path.join(base, `${++serial}`);

/** The subjects: name → one run, giving delivered bytes per second and more. */
type Subject = () => Promise<FanoutRun | { write: number; read: number }>;
const subjects: Record<string, Subject> = {};
const store = (lib: Streamcache, byob: boolean) => async () => {
  const dir = disk ? fresh() : undefined;
  try {
    return await streamcacheFanout(lib, SIZE, {
      byob,
      ...(dir ? { dir } : {}),
    });
  } finally {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  }
};
subjects["streamcache"] = store(current, false);
if (await byobWorks(current)) {
  subjects["streamcache byob"] = store(current, true);
}
if (baseline) subjects["before"] = store(baseline, false);
subjects["fs-capacitor"] = async () => {
  const dir = fresh();
  await fsp.mkdir(dir);
  try {
    return await capacitorFanout(SIZE, dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
};
if (disk) {
  subjects["temp file"] = () => tempFileFanout(SIZE, fresh());
  subjects["plain"] = () => plainLimits(SIZE, fresh());
}

// --only a,b: just these subjects (the ratios are then to the first).
const only = opts.only?.split(",");
const names = Object.keys(subjects).filter((name) =>
  !only || only.includes(name)
);
if (!names.some((name) => name !== "plain")) {
  throw new Error(`--only: none of ${Object.keys(subjects)}`);
}
const results: Record<string, FanoutRun[]> = {};
const limits: { write: number; read: number }[] = [];
const memcpy: number[] = [];
log(
  `W1 fan-out on ${runtime}: ${disk ? "disk" : "memory"}, ${
    SIZE / MiB
  } MiB in 64 KiB chunks, 8 + 8 readers; ${ROUNDS} rounds; load ${
    os.loadavg()[0]!.toFixed(2)
  }`,
);
try {
  // Warm-up: every subject once on a small entry (JIT, heap, allocator).
  for (const name of names) {
    if (name === "plain") continue;
    const lib = name === "before" ? baseline! : current;
    if (name.startsWith("streamcache") || name === "before") {
      await streamcacheFanout(lib, 8 * MiB, disk ? { dir: fresh() } : {});
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no subject always runs first (or after another).
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const resting = await restingRss(5, 10);
      const run = await subjects[name]!();
      if ("read" in run) {
        limits.push(run);
        log(
          `  round ${round + 1} ${name.padEnd(16)} raw write ${
            (run.write / MiB).toFixed(0)
          } MiB/s, 16 positioned readers ${(run.read / MiB).toFixed(0)} MiB/s`,
        );
        continue;
      }
      run.peakRss -= resting;
      (results[name] ??= []).push(run);
      log(
        `  round ${round + 1} ${name.padEnd(16)} delivered ${
          (run.delivered / MiB).toFixed(0).padStart(6)
        } MiB/s  writer ${
          (run.writer / MiB).toFixed(0).padStart(5)
        } MiB/s  RSS +${(run.peakRss / MiB).toFixed(0)} MiB`,
      );
    }
    if (!disk) memcpy.push(memcpyBandwidth(Math.min(SIZE, 256 * MiB), 3));
  }
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}

/** Median over the rounds of streamcache's figure / the other's, round by round. */
const paired = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!));
/** The subject the ratios are to: streamcache, else the first measured. */
const reference = results["streamcache"]
  ? "streamcache"
  : Object.keys(results)[0]!;
const sc = results[reference]!.map((r) => r.delivered);
const peers: Record<string, number[]> = {};
for (const name of names) {
  if (results[name]) peers[name] = results[name]!.map((r) => r.delivered);
}
if (memcpy.length) peers["memcpy"] = memcpy;
if (limits.length) peers["positioned readers"] = limits.map((l) => l.read);

const summary = {
  workload: "w1",
  store: disk ? "disk" : "memory",
  runtime,
  size: SIZE,
  rounds: ROUNDS,
  load: os.loadavg()[0],
  fileStream: fileStreamApi,
  delivered: Object.fromEntries(
    Object.entries(peers).map(([name, xs]) => [name, median(xs)]),
  ),
  ratio: Object.fromEntries(
    Object.entries(peers).map(([name, xs]) => [name, paired(sc, xs)]),
  ),
  byobRatio: results["streamcache byob"]
    ? Object.fromEntries(
      Object.entries(peers).map(([name, xs]) => [
        name,
        paired(results["streamcache byob"]!.map((r) => r.delivered), xs),
      ]),
    )
    : undefined,
  reference,
  writer: median(results[reference]!.map((r) => r.writer)),
  writerToRawWrite: limits.length
    ? paired(
      results[reference]!.map((r) => r.writer),
      limits.map((l) => l.write),
    )
    : undefined,
  rssGrowth: Object.fromEntries(
    Object.entries(results).map((
      [name, runs],
    ) => [name, median(runs.map((r) => r.peakRss))]),
  ),
};
if (opts.json) {
  console.log(JSON.stringify(summary));
} else {
  log(`medians (MiB/s) and ${reference} / peer (median of paired ratios):`);
  for (const [name, value] of Object.entries(summary.delivered)) {
    const byob = summary.byobRatio?.[name];
    log(
      `  ${name.padEnd(20)} ${(value / MiB).toFixed(0).padStart(6)}   ratio ${
        summary.ratio[name]!.toFixed(2)
      }${byob === undefined ? "" : `   byob ratio ${byob.toFixed(2)}`}`,
    );
  }
  log(
    `  writer ${(summary.writer / MiB).toFixed(0)} MiB/s${
      summary.writerToRawWrite === undefined
        ? ""
        : `, / raw write ${summary.writerToRawWrite.toFixed(2)}`
    }`,
  );
  for (const [name, growth] of Object.entries(summary.rssGrowth)) {
    log(
      `  peak RSS growth ${name.padEnd(16)} ${(growth / MiB).toFixed(0)} MiB (${
        (growth / SIZE).toFixed(2)
      } x entry)`,
    );
  }
}
