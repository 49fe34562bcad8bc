/**
 * The subjects of the W1 fan-out workload (bench/w1_fanout.ts): streamcache
 * and its peers, each driven the same way by {@linkcode drive}: one writer
 * of `size` bytes in 64 KiB chunks, 8 readers from the start and 8 joining
 * at 50 %, every reader checked byte for byte. Also the limits: 16 plain
 * positioned readers of a complete file, and a raw write loop. Not a
 * benchmark itself.
 *
 * @module
 */

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { WriteStream as CapacitorStream } from "fs-capacitor";
import type { MemoryStore, StreamCache } from "../mod.ts";
import type { FsStore } from "../src/fs/mod.ts";
import {
  ByteCheck,
  CHUNK,
  consumeByob,
  consumeIterable,
  consumeWeb,
  mark,
  newSource,
} from "./_bytes.ts";
import { createPlainFile } from "./_fs_plain.ts";
import { RssSampler } from "./_fs_rss.ts";

export const EARLY = 8; // readers that start with the writer
export const LATE = 8; // readers that join at 50 %

/** What one run of a subject measured. */
export interface FanoutRun {
  /** Bytes per second delivered to all readers together, over the wall time. */
  delivered: number;
  /** Bytes per second written, first write to the writer's close (or commit). */
  writer: number;
  /** Peak resident set during the run, in bytes. */
  peakRss: number;
}

/** The writing side of a subject. */
interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Runs one fan-out: readers from `openReader()`, bytes into `sink`. */
export async function drive(
  size: number,
  sink: Sink,
  openReader: () => Promise<number>,
): Promise<FanoutRun> {
  const sampler = new RssSampler();
  const chunks = size / CHUNK;
  const source = newSource();
  const readers: Promise<number>[] = [];
  const add = () => {
    const reader = openReader();
    reader.catch(() => {}); // awaited below, also when the writer fails first
    readers.push(reader);
  };
  for (let r = 0; r < EARLY; r++) add();
  const start = performance.now();
  for (let i = 0; i < chunks; i++) {
    if (i === chunks / 2) { for (let r = 0; r < LATE; r++) add(); }
    if (i % 16 === 0) sampler.sample();
    mark(source, i);
    await sink.write(source);
  }
  await sink.close();
  const written = performance.now();
  const delivered = (await Promise.all(readers)).reduce((a, b) => a + b, 0);
  const end = performance.now();
  const { peak } = sampler.stop();
  if (delivered !== (EARLY + LATE) * size) throw new Error("short delivery");
  return {
    delivered: delivered / ((end - start) / 1000),
    writer: size / ((written - start) / 1000),
    peakRss: peak,
  };
}

/** The streamcache module to measure: this checkout's or a baseline's. */
export interface Streamcache {
  StreamCache: typeof StreamCache;
  MemoryStore: typeof MemoryStore;
  FsStore: typeof FsStore;
}

/** streamcache over a `MemoryStore` (no `dir`) or an `FsStore` in `dir`. */
export async function streamcacheFanout(
  lib: Streamcache,
  size: number,
  options: { dir?: string; byob?: boolean },
): Promise<FanoutRun> {
  const store = options.dir
    ? new lib.FsStore({ dir: options.dir })
    : new lib.MemoryStore();
  const cache = new lib.StreamCache({ store });
  try {
    const { entry, writable } = await cache.open("fanout");
    const writer = writable!.getWriter();
    const consume = options.byob ? consumeByob : consumeWeb;
    return await drive(
      size,
      {
        write: (chunk) => writer.write(chunk),
        close: async () => {
          await writer.close();
          if ((await entry.done) !== size) throw new Error("wrong entry size");
        },
      },
      () => consume(entry.readable(), size),
    );
  } finally {
    await cache.close();
  }
}

/** Whether this runtime's streams give BYOB readers of streamcache's readables. */
export async function byobWorks(lib: Streamcache): Promise<boolean> {
  await using cache = new lib.StreamCache();
  const entry = await cache.getOrCreate("probe", () => new Uint8Array(1));
  try {
    entry.readable().getReader({ mode: "byob" }).releaseLock();
    return true;
  } catch {
    return false;
  }
}

/** fs-capacitor 8 with its defaults: a temp file its read streams follow. */
export async function capacitorFanout(
  size: number,
  dir: string,
): Promise<FanoutRun> {
  const capacitor = new CapacitorStream({ tmpdir: () => dir });
  try {
    return await drive(
      size,
      {
        write: (chunk) =>
          new Promise<void>((resolve, reject) =>
            capacitor.write(chunk, (error) => error ? reject(error) : resolve())
          ),
        close: () =>
          new Promise<void>((resolve) => capacitor.end(() => resolve())),
      },
      () => consumeIterable(capacitor.createReadStream(), size),
    );
  } finally {
    await releaseCapacitor(capacitor);
  }
}

/**
 * Releases an fs-capacitor stream and waits until it has deleted its file
 * (once its readers are done), so the caller may remove the directory.
 */
export async function releaseCapacitor(
  capacitor: CapacitorStream,
): Promise<void> {
  const closed = new Promise((resolve) => capacitor.once("close", resolve));
  capacitor.on("error", () => {});
  capacitor.release();
  await closed;
}

/** The part of Deno and Bun used to stream a file the runtime's own way. */
interface FileStreams {
  Deno?: {
    open(path: string): Promise<{ readable: ReadableStream<Uint8Array> }>;
  };
  Bun?: { file(path: string): { stream(): ReadableStream<Uint8Array> } };
}
const runtimes = globalThis as FileStreams;

/** Which API {@linkcode fileStream} streams a file with on this runtime. */
export const fileStreamApi: string = runtimes.Deno
  ? "Deno.FsFile.readable"
  : runtimes.Bun
  ? "Bun.file().stream()"
  : "fs.createReadStream";

/** Reads a complete file the runtime's own way, as its static file servers do. */
export async function fileStream(
  path: string,
): Promise<AsyncIterable<Uint8Array>> {
  if (runtimes.Deno) return (await runtimes.Deno.open(path)).readable;
  if (runtimes.Bun) return runtimes.Bun.file(path).stream();
  return fs.createReadStream(path, { highWaterMark: CHUNK }) as Readable;
}

/** Generate to a temp file (no fsync), then serve it to every reader. */
export async function tempFileFanout(
  size: number,
  path: string,
): Promise<FanoutRun> {
  let written!: () => void;
  const complete = new Promise<void>((resolve) => written = resolve);
  try {
    const file = await createPlainFile(path);
    return await drive(
      size,
      {
        write: (chunk) => file.write(chunk),
        close: async () => {
          await file.close();
          written();
        },
      },
      async () => {
        await complete;
        return await consumeIterable(await fileStream(path), size);
      },
    );
  } finally {
    await fsp.rm(path, { force: true });
  }
}

/** The disk limits: a raw write loop, then 16 positioned readers of the file. */
export async function plainLimits(
  size: number,
  path: string,
): Promise<{ write: number; read: number }> {
  try {
    const source = newSource();
    const t0 = performance.now();
    const file = await createPlainFile(path);
    for (let i = 0; i < size / CHUNK; i++) {
      mark(source, i);
      await file.write(source);
    }
    await file.close();
    const write = size / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    const fd = fs.openSync(path, "r");
    const one = async () => {
      const check = new ByteCheck();
      const buffer = new Uint8Array(CHUNK);
      for (;;) {
        const n = await new Promise<number>((resolve, reject) =>
          fs.read(
            fd,
            buffer,
            0,
            CHUNK,
            check.offset,
            (error, count) => error ? reject(error) : resolve(count),
          )
        );
        if (n === 0) break;
        check.add(buffer.subarray(0, n));
      }
      return check.end(size);
    };
    let delivered = 0;
    try {
      const all = await Promise.all(
        Array.from({ length: EARLY + LATE }, one),
      );
      delivered = all.reduce((a, b) => a + b, 0);
    } finally {
      fs.closeSync(fd);
    }
    return { write, read: delivered / ((performance.now() - t1) / 1000) };
  } finally {
    await fsp.rm(path, { force: true });
  }
}
