/**
 * W5, many readers: `--readers` (1,000) readers of one `--size` MiB (1 GiB)
 * disk entry, complete and in progress. Each reader reads `--read` MiB (1)
 * from its start, checked byte for byte, then stays open; with all of them
 * open, reported: the growth of the resident set over the resting size
 * before they opened (peak, sampled every 10 ms) and the number of open file
 * descriptors (`/proc/self/fd`, Linux); and, where the runtime can collect
 * garbage on demand (Bun; Node and Deno run with `--expose-gc`), the growth
 * of the heap and array buffers after a full collection: what the open
 * readers retain. Complete: the entry is committed
 * first. In progress: the readers open when half is written, and stay open
 * while the writer writes the rest and commits.
 *
 * Subjects: streamcache's `FsStore` and fs-capacitor 8 (its read streams
 * of one temp file), each in both cases.
 *
 *     node --expose-gc bench/w5_readers.ts --size 256
 *     deno run -A --v8-flags=--expose-gc bench/w5_readers.ts
 *
 * Options: `--readers N` (1000), `--size MiB` (1024), `--read MiB` (1),
 * `--json`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { WriteStream as CapacitorStream } from "fs-capacitor";
import { releaseCapacitor } from "./_fanout_peers.ts";
import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { ByteCheck, CHUNK, mark, newSource } from "./_bytes.ts";
import { restingRss, RssSampler } from "./_fs_rss.ts";
import { runtime } from "./_stats.ts";

const MiB = 2 ** 20;
const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    readers: { type: "string", default: "1000" },
    size: { type: "string", default: "1024" },
    read: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const READERS = Number(opts.readers);
const SIZE = Number(opts.size) * MiB;
const READ = Number(opts.read) * MiB;
const log = (line: string) => opts.json || console.log(line);

/**
 * A full garbage collection where the runtime offers one (Bun; Node and Deno
 * with --expose-gc), twice with a macrotask between: V8 frees the memory of
 * dead array buffers after the collection that finds them, so one `gc()`
 * left 60 MiB of 1,000 readers' read chunks counted as "retained" (the next
 * case then measured -60 MiB).
 */
const collect = async (): Promise<boolean> => {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  const once = g.Bun ? () => g.Bun!.gc(true) : g.gc;
  if (!once) return false;
  for (let i = 0; i < 2; i++) {
    once();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  once();
  return true;
};

/** The JavaScript heap and the array buffers outside it, in bytes. */
const heap = () => {
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
};

const openFds = () => {
  try {
    return fs.readdirSync("/proc/self/fd").length;
  } catch {
    return NaN;
  }
};

/** Reads `READ` bytes of `chunks` from byte 0, checking them; leaves it open. */
async function readSome(
  next: () => Promise<Uint8Array | undefined>,
): Promise<void> {
  const check = new ByteCheck();
  while (check.offset < READ) {
    const chunk = await next();
    if (!chunk) throw new Error("ended early");
    check.add(chunk);
  }
}

interface Subject {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Opens a reader from byte 0; returns its `next()` and how to cancel it. */
  open(): { next(): Promise<Uint8Array | undefined>; cancel(): Promise<void> };
  dispose(): Promise<void>;
}

async function streamcache(dir: string): Promise<Subject> {
  const cache = new StreamCache({ store: new FsStore({ dir }) });
  const { entry, writable } = await cache.open("big");
  const writer = writable!.getWriter();
  return {
    write: (chunk) => writer.write(chunk),
    close: () => writer.close(),
    open() {
      const reader = entry.readable().getReader();
      return {
        next: async () => (await reader.read()).value,
        cancel: () => reader.cancel(),
      };
    },
    dispose: () => cache.close(),
  };
}

function capacitor(dir: string): Promise<Subject> {
  const stream = new CapacitorStream({ tmpdir: () => dir });
  return Promise.resolve({
    write: (chunk) =>
      new Promise<void>((resolve, reject) =>
        stream.write(chunk, (error) => error ? reject(error) : resolve())
      ),
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
    open() {
      const readable = stream.createReadStream();
      const chunks = readable[Symbol.asyncIterator]();
      return {
        next: async () => (await chunks.next()).value as Uint8Array | undefined,
        cancel: () => Promise.resolve(void readable.destroy()),
      };
    },
    dispose: () => releaseCapacitor(stream),
  });
}

/** One case: readers open on a complete entry, or when half is written. */
async function run(
  make: (dir: string) => Promise<Subject>,
  dir: string,
  complete: boolean,
): Promise<Result> {
  await fsp.mkdir(dir, { recursive: true });
  const subject = await make(dir);
  const source = newSource();
  const chunks = SIZE / CHUNK;
  let i = 0;
  const writeUntil = async (end: number) => {
    for (; i < end; i++) {
      mark(source, i);
      await subject.write(source);
    }
  };
  try {
    await writeUntil(complete ? chunks : chunks / 2);
    if (complete) await subject.close();
    const fdsBefore = openFds();
    await collect();
    const heapBefore = heap();
    const resting = await restingRss();
    const sampler = new RssSampler();
    const readers = Array.from({ length: READERS }, () => subject.open());
    await Promise.all(readers.map((reader) => readSome(reader.next)));
    let fds = openFds();
    if (!complete) {
      await writeUntil(chunks);
      await subject.close();
      fds = Math.max(fds, openFds());
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { peak } = sampler.stop();
    // What the open readers hold, without the garbage of what they read.
    const retained = (await collect()) ? heap() - heapBefore : NaN;
    await Promise.all(readers.map((reader) => reader.cancel()));
    return { rssGrowth: peak - resting, retained, fds, fdsBefore };
  } finally {
    await subject.dispose();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

interface Result {
  /** Peak resident set growth while the readers were open, garbage included. */
  rssGrowth: number;
  /**
   * Growth of the heap and the array buffers with the readers open, after a
   * full collection (NaN without one): what the readers retain. (The
   * resident set does not shrink when garbage is freed.)
   */
  retained: number;
  fds: number;
  fdsBefore: number;
}
const base = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-w5-"));
const results: Record<string, Result> = {};
log(
  `W5 on ${runtime}: ${READERS} readers of a ${
    SIZE / MiB
  } MiB disk entry, each reading ${READ / MiB} MiB then staying open; load ${
    os.loadavg()[0]!.toFixed(2)
  }`,
);
try {
  let serial = 0;
  for (const complete of [true, false]) {
    for (
      const [name, make] of [["streamcache", streamcache], [
        "fs-capacitor",
        capacitor,
      ]] as const
    ) {
      const label = `${name} ${complete ? "complete" : "in progress"}`;
      const r = await run(make, path.join(base, `${++serial}`), complete);
      results[label] = r;
      log(
        `  ${label.padEnd(28)} peak RSS +${
          (r.rssGrowth / MiB).toFixed(0)
        } MiB, retained after a GC ${
          (r.retained / MiB).toFixed(0)
        } MiB   open fds ${r.fds} (${
          r.fds - r.fdsBefore
        } more than before the readers)`,
      );
    }
  }
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}
if (opts.json) {
  console.log(JSON.stringify({
    workload: "w5",
    runtime,
    load: os.loadavg()[0],
    readers: READERS,
    size: SIZE,
    results,
  }));
}
