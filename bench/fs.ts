/**
 * File-system benchmark: `FsStore` under `StreamCache`, against the disk.
 * 1 GiB by default, always in 64 KiB chunks, in a new directory under the
 * OS temp dir that is removed afterwards (also on failure, Ctrl-C or
 * SIGTERM).
 *
 * 1. Writer throughput. The same bytes written two ways, alternately, on the
 *    same disk in the same run:
 *    - store: through `cache.open()`'s writable into an `FsStore`, including
 *      the commit that `close()` does (record, fsync, close, rename, fsync of
 *      the directory);
 *    - plain: the runtime's own file API (`Deno.FsFile` on Deno, a
 *      `node:fs/promises` FileHandle elsewhere: what `FsStore` uses there),
 *      then one fsync and close.
 *    Each is timed from opening the file to its last close, and the ratio
 *    store / plain is taken per pair; the medians are printed. Also timed:
 *    the write phase alone (until the last write resolved: the bytes are in
 *    the page cache, not yet on the disk) and the commit / fsync alone. The
 *    yardstick is this runtime's SHA-256 speed, since `FsStore` hashes every
 *    byte and a plain write does not.
 * 2. Fan-out from disk: one writer, 8 readers from the start and 8 joining
 *    at 50 %, one entry in an `FsStore`. Every reader checks it got every
 *    byte, spot-checks each chunk's first and last byte (they encode the
 *    chunk's index) and compares every 257th chunk whole. Printed: delivered
 *    bytes (all readers) per second of wall time, the writer's rate
 *    (including the commit), and the peak growth of the process's resident
 *    set over its resting size before the run, sampled every 10 ms and every
 *    MiB written. The growth stays far below the entry's size: readers read
 *    each chunk from the file, so the entry never sits in memory.
 *
 * Run it with any of:
 *
 *     deno run --allow-read --allow-write --allow-env bench/fs.ts
 *     node bench/fs.ts                  # Node 22.18+ / 24 (strips the types)
 *     bun bench/fs.ts
 *     npm run bench                     # both benches, every runtime: scripts/bench.mjs
 *
 * Options: `--size MiB` the entry size (default 1024), `--runs N` timed
 * writer pairs (default 3), `--only writer|fanout` one part,
 * `--dir PATH` where to make the temp directory (default the OS temp dir),
 * `--json` (one JSON line, for scripts/bench.mjs). An untimed warm-up of
 * each part at 64 MiB (or `--size`, if smaller) comes first.
 *
 * @module
 */

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { createPlainFile, plainApi, sha256Bandwidth } from "./_fs_plain.ts";
import { restingRss, type RssPeak, RssSampler } from "./_fs_rss.ts";
import { checkMarks, mark } from "./_marks.ts";
import { median, runtime } from "./_stats.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const EARLY = 8; // readers that start with the writer
const LATE = 8; // readers that join at 50 %
const FULL_CHECK = 257; // every 257th chunk is compared whole

const USAGE = "usage: fs.ts [--size MiB] [--runs N] [--only writer|fanout] " +
  "[--dir PATH] [--json]";
const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined) throw new Error(USAGE);
  return value;
}
const json = args.includes("--json");
const TOTAL = Number(option("--size") ?? 1024) * MiB;
const RUNS = Number(option("--runs") ?? 3);
const only = option("--only");
const parent = option("--dir") ?? os.tmpdir();
if (
  !Number.isInteger(TOTAL / MiB) || TOTAL < MiB || !Number.isInteger(RUNS) ||
  RUNS < 1 || (only !== undefined && only !== "writer" && only !== "fanout")
) {
  throw new Error(USAGE);
}
const WARM = Math.min(TOTAL, 64 * MiB);

// ---- the bytes ---------------------------------------------------------------

/** One chunk; `mark` makes it chunk i's. Chunks are reused: stores copy. */
function newSource(): Uint8Array {
  const source = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) source[i] = (i * 31) & 255;
  return source;
}

/**
 * Reads `readable` to its end; checks the byte count, every chunk's marks,
 * and every FULL_CHECK-th chunk whole (where it arrives as one piece).
 */
async function consume(
  readable: ReadableStream<Uint8Array>,
  total: number,
): Promise<number> {
  const reader = readable.getReader();
  let offset = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    checkMarks(value, offset, CHUNK, (i, at) => {
      if (i % FULL_CHECK !== 0) return;
      for (let k = 1; k < CHUNK - 1; k++) {
        if (value[at + k] !== ((k * 31) & 255)) {
          throw new Error(
            `chunk ${i}: wrong byte at offset ${offset + at + k}`,
          );
        }
      }
    });
    offset += value.byteLength;
  }
  if (offset !== total) {
    throw new Error(`a reader got ${offset} bytes, expected ${total}`);
  }
  return offset;
}

/** Checks that `dir` holds one committed entry of `total` bytes (plus its record). */
async function checkCommitted(dir: string, total: number): Promise<void> {
  const names = await fsp.readdir(`${dir}/entries`);
  const sizes = await Promise.all(
    names.map(async (name) => (await fsp.stat(`${dir}/entries/${name}`)).size),
  );
  if (sizes.length !== 1 || !(sizes[0]! > total && sizes[0]! < total + CHUNK)) {
    throw new Error(
      `expected one committed file of ${total} bytes and a record in ${dir}/entries, found sizes ${sizes}`,
    );
  }
}

// ---- 1. writer throughput ------------------------------------------------------

interface WriteRun {
  /** Seconds from opening the file until the last write resolved. */
  writes: number;
  /** Seconds of the commit (store) or of fsync + close (plain). */
  commit: number;
  /** Seconds from opening the file to the end of the commit / close. */
  total: number;
}

/** Writes `total` bytes through a `StreamCache` over a new `FsStore` in `dir`. */
async function storeWrite(dir: string, total: number): Promise<WriteRun> {
  const cache = new StreamCache({ store: new FsStore({ dir }) });
  try {
    await cache.has("ready"); // the store's start-up (mkdir, scan) is not timed
    const source = newSource();
    const t0 = performance.now();
    const { writable } = await cache.open("writer");
    const writer = writable!.getWriter();
    for (let i = 0; i < total / CHUNK; i++) {
      mark(source, i);
      await writer.write(source);
    }
    const t1 = performance.now();
    await writer.close(); // commit: record, fsync, close, rename, fsync dir
    const t2 = performance.now();
    if ((await cache.get("writer"))?.size !== total) {
      throw new Error("store: the committed entry has the wrong size");
    }
    await checkCommitted(dir, total);
    return {
      writes: (t1 - t0) / 1000,
      commit: (t2 - t1) / 1000,
      total: (t2 - t0) / 1000,
    };
  } finally {
    await cache.close();
  }
}

/** Writes the same bytes to a new file `file` with the runtime's file API. */
async function plainWrite(file: string, total: number): Promise<WriteRun> {
  const source = newSource();
  const t0 = performance.now();
  const out = await createPlainFile(file);
  try {
    for (let i = 0; i < total / CHUNK; i++) {
      mark(source, i);
      await out.write(source);
    }
  } catch (error) {
    await out.close();
    throw error;
  }
  const t1 = performance.now();
  try {
    await out.sync();
  } finally {
    await out.close();
  }
  const t2 = performance.now();
  const { size } = await fsp.stat(file);
  if (size !== total) {
    throw new Error(`plain: wrote ${size} bytes, not ${total}`);
  }
  return {
    writes: (t1 - t0) / 1000,
    commit: (t2 - t1) / 1000,
    total: (t2 - t0) / 1000,
  };
}

/** One store write and one plain write, in the given order; their files removed after. */
async function writerPair(
  base: string,
  total: number,
  storeFirst: boolean,
): Promise<{ store: WriteRun; plain: WriteRun }> {
  const dir = `${base}/store`;
  const file = `${base}/plain`;
  const store = async () => {
    try {
      return await storeWrite(dir, total);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  };
  const plain = async () => {
    try {
      return await plainWrite(file, total);
    } finally {
      await fsp.rm(file, { force: true });
    }
  };
  if (storeFirst) {
    const s = await store();
    return { store: s, plain: await plain() };
  }
  const p = await plain();
  return { store: await store(), plain: p };
}

// ---- 2. fan-out from disk -------------------------------------------------------

interface FanoutRun {
  /** Bytes per second delivered to all readers together, over the wall time. */
  delivered: number;
  /** Bytes per second written, first write to the end of the commit. */
  writer: number;
  /** Seconds from the first write until the last reader finished. */
  wall: number;
}

/** 1 writer, EARLY + LATE readers of one `total`-byte entry in a new `FsStore` in `dir`. */
async function fanout(
  dir: string,
  total: number,
  sampler?: RssSampler,
): Promise<FanoutRun> {
  const cache = new StreamCache({ store: new FsStore({ dir }) });
  try {
    await cache.has("ready");
    const { entry, writable } = await cache.open("fanout");
    const source = newSource();
    const chunks = total / CHUNK;
    const readers: Promise<number>[] = [];
    const addReader = () => {
      const reader = consume(entry.readable(), total);
      reader.catch(() => {}); // awaited below; not unhandled if the writer fails first
      readers.push(reader);
    };
    for (let r = 0; r < EARLY; r++) addReader();
    const writer = writable!.getWriter();
    const start = performance.now();
    for (let i = 0; i < chunks; i++) {
      if (i === chunks / 2) { for (let r = 0; r < LATE; r++) addReader(); }
      if (i % 16 === 0) sampler?.sample();
      mark(source, i);
      await writer.write(source);
    }
    await writer.close();
    const written = performance.now();
    const delivered = (await Promise.all(readers)).reduce((a, b) => a + b, 0);
    const end = performance.now();
    if (delivered !== (EARLY + LATE) * total) throw new Error("short delivery");
    if ((await entry.done) !== total) throw new Error("wrong entry size");
    await checkCommitted(dir, total);
    return {
      delivered: delivered / ((end - start) / 1000),
      writer: total / ((written - start) / 1000),
      wall: (end - start) / 1000,
    };
  } finally {
    await cache.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

// ---- main -----------------------------------------------------------------------

const mibs = (bytesPerSecond: number) =>
  `${(bytesPerSecond / MiB).toFixed(0).padStart(5)} MiB/s`;
const log = (line: string) => {
  if (!json) console.log(line);
};

const base = await fsp.mkdtemp(path.join(parent, "streamcache-bench-fs-"));
// Removes the temp directory if the run is interrupted; `finally` does otherwise.
const onSignal = (signal: string) => {
  fs.rmSync(base, { recursive: true, force: true });
  console.error(`bench/fs.ts: ${signal}: removed ${base}`);
  process.exit(signal === "SIGINT" ? 130 : 143);
};
const signals = ["SIGINT", "SIGTERM"] as const;
for (const signal of signals) process.on(signal, onSignal);

const result: Record<string, unknown> = {
  runtime,
  bytes: TOTAL,
  chunk: CHUNK,
  plainApi,
};
try {
  const { bavail, bsize } = await fsp.statfs(base);
  const need = TOTAL + 1024 * MiB;
  if (bavail * bsize < need) {
    throw new Error(
      `${base}: ${((bavail * bsize) / MiB).toFixed(0)} MiB free, need ${
        need / MiB
      } (try --size or --dir)`,
    );
  }
  log(
    `fs on ${runtime}: ${TOTAL / MiB} MiB in ${
      CHUNK / 1024
    } KiB chunks, FsStore in ${base}`,
  );

  if (only !== "fanout") {
    log(
      `writer: StreamCache + FsStore (incl. commit) vs ${plainApi} + fsync, alternately`,
    );
    await writerPair(base, WARM, false); // warm-up: JIT, the file system's first blocks
    const pairs: { store: WriteRun; plain: WriteRun }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const pair = await writerPair(base, TOTAL, i % 2 === 1);
      pairs.push(pair);
      const { store, plain } = pair;
      log(
        `  pair ${i + 1}: store ${mibs(TOTAL / store.total)} (writes ${
          mibs(TOTAL / store.writes)
        }, commit ${store.commit.toFixed(2)} s)   plain ${
          mibs(TOTAL / plain.total)
        } (writes ${mibs(TOTAL / plain.writes)}, fsync ${
          plain.commit.toFixed(2)
        } s)   ratio ${(plain.total / store.total).toFixed(2)}`,
      );
    }
    const ratios = pairs.map((p) => p.plain.total / p.store.total);
    Object.assign(result, {
      runs: RUNS,
      store: median(pairs.map((p) => TOTAL / p.store.total)),
      plain: median(pairs.map((p) => TOTAL / p.plain.total)),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      storeWrites: median(pairs.map((p) => TOTAL / p.store.writes)),
      plainWrites: median(pairs.map((p) => TOTAL / p.plain.writes)),
      storeCommit: median(pairs.map((p) => p.store.commit)),
      plainSync: median(pairs.map((p) => p.plain.commit)),
      sha256: sha256Bandwidth(Math.min(TOTAL, 256 * MiB), CHUNK),
    });
    log(
      `  median of ${RUNS}: store ${mibs(result.store as number)}   plain ${
        mibs(result.plain as number)
      }   store/plain ${(result.ratio as number).toFixed(2)} (${
        (result.ratioMin as number).toFixed(2)
      }-${(result.ratioMax as number).toFixed(2)})`,
    );
    log(
      `  write phase: store ${mibs(result.storeWrites as number)}   plain ${
        mibs(result.plainWrites as number)
      }   commit ${(result.storeCommit as number).toFixed(2)} s   fsync ${
        (result.plainSync as number).toFixed(2)
      } s`,
    );
    log(
      `  SHA-256 (node:crypto, 64 KiB updates, best of 3) ${
        mibs(result.sha256 as number)
      }`,
    );
  }

  if (only !== "writer") {
    log(
      `fan-out: 1 writer -> ${EARLY} + ${LATE} readers (late ones join at 50 %)`,
    );
    await fanout(`${base}/fanout`, WARM); // warm-up
    const baseline = await restingRss();
    const sampler = new RssSampler(10);
    let peak!: RssPeak;
    const run = await fanout(`${base}/fanout`, TOTAL, sampler).finally(() => {
      peak = sampler.stop();
    });
    Object.assign(result, {
      delivered: run.delivered,
      fanoutWriter: run.writer,
      wall: run.wall,
      baselineRss: baseline,
      peakRss: peak.peak,
      rssGrowth: peak.peak - baseline,
      rssSamples: peak.samples,
      rssMaxGap: peak.maxGap,
    });
    log(
      `  delivered ${mibs(run.delivered)}   writer ${mibs(run.writer)}   wall ${
        run.wall.toFixed(2)
      } s`,
    );
    log(
      `  RSS: resting ${(baseline / MiB).toFixed(0)} MiB, peak ${
        (peak.peak / MiB).toFixed(0)
      } MiB, growth ${((peak.peak - baseline) / MiB).toFixed(0)} MiB (entry ${
        TOTAL / MiB
      } MiB; ${peak.samples} samples, longest gap ${
        peak.maxGap.toFixed(0)
      } ms)`,
    );
  }
} finally {
  for (const signal of signals) process.off(signal, onSignal);
  await fsp.rm(base, { recursive: true, force: true });
}
if (json) console.log(JSON.stringify(result));
