/**
 * Fan-out benchmark: one writer, 16 readers of the same entry in a
 * MemoryStore. 256 MiB are written in 64 KiB chunks; 8 readers start with
 * the writer and 8 join when it is half-way, so they first catch up with
 * 128 MiB already stored, then follow it live. Every reader uses a plain
 * `getReader()` loop and checks it got every byte, spot-checking each
 * chunk's first and last byte (they encode the chunk's index).
 *
 * After one untimed warm-up run, prints per run and as the median of the
 * runs (7 by default):
 *   delivered  bytes received by all readers together / wall time
 *   writer     bytes written / first write to writer close
 * and as the yardstick this runtime's memcpy bandwidth on this machine (one
 * 256 MiB `Uint8Array.prototype.set`, best of 5), and delivered / memcpy;
 * also the copy-out bound: an ideal fan-out that just `slice()`s every chunk
 * 16 times, with no streams (see bench/_memcpy.ts and bench/README.md).
 *
 * Run it with any of (no permissions needed):
 *
 *     deno run bench/fanout.ts
 *     node bench/fanout.ts              # Node 22.18+ / 24 (strips the types)
 *     bun bench/fanout.ts
 *     npm run bench                     # all of them: scripts/bench.mjs
 *
 * Options: `--runs N` timed runs (default 7), `--json` (one JSON line, for
 * scripts/bench.mjs), `--no-yardsticks` (skip memcpy and copy-out, e.g. to
 * profile only the cache: `node --cpu-prof bench/fanout.ts --no-yardsticks`).
 *
 * @module
 */

import process from "node:process";
import { MemoryStore, StreamCache } from "../mod.ts";
import { copyOutBandwidth, memcpyBandwidth } from "./_memcpy.ts";
import { checkMarks, mark } from "./_marks.ts";
import { median, runtime } from "./_stats.ts";

const MiB = 1024 * 1024;
const TOTAL = 256 * MiB;
const CHUNK = 64 * 1024;
const CHUNKS = TOTAL / CHUNK;
const EARLY = 8; // readers that start with the writer
const LATE = 8; // readers that join at 50 %

const args = process.argv.slice(2);
const json = args.includes("--json");
const yardsticks = !args.includes("--no-yardsticks");
const runsAt = args.indexOf("--runs");
const RUNS = runsAt < 0 ? 7 : Number(args[runsAt + 1]);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  throw new Error("usage: fanout.ts [--runs N] [--json] [--no-yardsticks]");
}

/** Reads `readable` to its end; checks the byte count and the chunk marks. */
async function consume(readable: ReadableStream<Uint8Array>): Promise<number> {
  const reader = readable.getReader();
  let offset = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    checkMarks(value, offset, CHUNK);
    offset += value.byteLength;
  }
  if (offset !== TOTAL) {
    throw new Error(`a reader got ${offset} bytes, expected ${TOTAL}`);
  }
  return offset;
}

interface Run {
  /** Bytes per second delivered to all readers together, over the wall time. */
  delivered: number;
  /** Bytes per second written, first write to writer close. */
  writer: number;
  /** Seconds from the first write until the last reader finished. */
  wall: number;
}

async function run(): Promise<Run> {
  const cache = new StreamCache({ store: new MemoryStore() });
  try {
    const { entry, writable } = await cache.open("fanout");
    const source = new Uint8Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) source[i] = (i * 31) & 255;

    const readers: Promise<number>[] = [];
    for (let r = 0; r < EARLY; r++) readers.push(consume(entry.readable()));
    const writer = writable!.getWriter();
    const start = performance.now();
    for (let i = 0; i < CHUNKS; i++) {
      if (i === CHUNKS / 2) {
        for (let r = 0; r < LATE; r++) readers.push(consume(entry.readable()));
      }
      // The store copies what it is given, so the writer may reuse its buffer.
      mark(source, i);
      await writer.write(source);
    }
    await writer.close();
    const written = performance.now();
    const delivered = (await Promise.all(readers)).reduce((a, b) => a + b, 0);
    const end = performance.now();
    if (delivered !== (EARLY + LATE) * TOTAL) throw new Error("short delivery");
    return {
      delivered: delivered / ((end - start) / 1000),
      writer: TOTAL / ((written - start) / 1000),
      wall: (end - start) / 1000,
    };
  } finally {
    await cache.close();
  }
}

const mibs = (bytesPerSecond: number) =>
  `${(bytesPerSecond / MiB).toFixed(0).padStart(6)} MiB/s`;

if (!json) {
  console.log(
    `fanout on ${runtime}: 1 writer -> ${EARLY} + ${LATE} readers (late ones join at 50 %), ` +
      `${TOTAL / MiB} MiB in ${CHUNK / 1024} KiB chunks, MemoryStore`,
  );
}
await run(); // warm-up: JIT, heap sizing, the allocator's first pages
const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  const r = await run();
  runs.push(r);
  if (!json) {
    console.log(
      `  run ${i + 1}: delivered ${mibs(r.delivered)}   writer ${
        mibs(r.writer)
      }   wall ${r.wall.toFixed(2)} s`,
    );
  }
}
const memcpy = yardsticks ? memcpyBandwidth(TOTAL) : NaN;
const copyOut = yardsticks ? copyOutBandwidth(TOTAL, CHUNK, EARLY + LATE) : NaN;
const result = {
  runtime,
  runs: RUNS,
  delivered: median(runs.map((r) => r.delivered)),
  deliveredMin: Math.min(...runs.map((r) => r.delivered)),
  deliveredMax: Math.max(...runs.map((r) => r.delivered)),
  writer: median(runs.map((r) => r.writer)),
  memcpy,
  copyOut,
  ratio: median(runs.map((r) => r.delivered)) / memcpy,
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `  median of ${RUNS}: delivered ${mibs(result.delivered)}   writer ${
      mibs(result.writer)
    }   (delivered ${(result.deliveredMin / MiB).toFixed(0)}-${
      (result.deliveredMax / MiB).toFixed(0)
    })`,
  );
  if (yardsticks) {
    console.log(
      `  memcpy (256 MiB Uint8Array.set, best of 5)      ${mibs(memcpy)}`,
    );
    console.log(
      `  copy-out (16 slice()s of each chunk, best of 5) ${mibs(copyOut)}`,
    );
    console.log(`  delivered / memcpy = ${result.ratio.toFixed(2)}`);
  }
}
