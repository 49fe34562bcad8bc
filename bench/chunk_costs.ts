/**
 * What one 64 KiB chunk costs a reader, piece by piece, on this runtime: the
 * yardsticks behind W1's "where the time goes". A default reader's chunk is
 * a fresh array of its own (SEMANTICS 7), read or copied into, then handed
 * through a stream; a BYOB reader's is the consumer's own buffer. Each line
 * times one piece alone, in a loop (µs per chunk, median of 5 repetitions):
 *
 * - `memcpy`: `set()` into a reused array (the copy alone), the fastest of
 *   three source arrays: V8's `set()` now and then copies one pair of arrays
 *   many times slower than another of the same kind and size, which is not
 *   what the copy costs.
 * - `new Uint8Array`, `allocUnsafeSlow` (Node, Bun), `allocate()`: a fresh
 *   array, zeroed or not (src/_allocate.ts is what FsStore's reads use).
 * - `slice()`: a fresh array and the copy, as MemoryStore's reads do.
 * - `readSync` into a reused array, into an `allocate()`d one: a positioned
 *   read of a file in the page cache, as FsStore's reads do.
 * - `fs.read` with 16 in flight: the thread pool's read, per read, wall time.
 * - a byte stream's `enqueue` of a fresh chunk and the reader's `read()`;
 *   the same with a default (non-byte) stream; a BYOB `read()` into a reused
 *   buffer answered with `respond()`; `ArrayBuffer.prototype.transfer`
 *   (which a byte stream does to every chunk it passes).
 *
 *     deno run -A bench/chunk_costs.ts
 *     node bench/chunk_costs.ts --count 50000
 *     npm run bench -- costs          # deno, node24, bun, as one table
 *
 * Options: `--count N` (20,000 chunks per repetition), `--json`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { allocate } from "../src/_allocate.ts";
import { median, runtime } from "./_stats.ts";

const CHUNK = 64 * 1024;
const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    count: { type: "string", default: "20000" },
    json: { type: "boolean", default: false },
  },
});
const COUNT = Number(opts.count);
if (!(COUNT >= 100)) throw new Error("--count must be at least 100");
const REPETITIONS = 5;

/** µs per chunk of `run(count)`, median of the repetitions after a warm-up. */
async function time(run: (count: number) => unknown): Promise<number> {
  await run(Math.min(COUNT, 1000));
  const each: number[] = [];
  for (let r = 0; r < REPETITIONS; r++) {
    const start = performance.now();
    await run(COUNT);
    each.push(((performance.now() - start) * 1000) / COUNT);
  }
  return median(each);
}

/** A chunk-sized byte stream, or default stream, read to its end. */
async function streamCycle(type: "bytes" | undefined, count: number) {
  let made = 0;
  const stream = new ReadableStream({
    type,
    pull(controller) {
      if (made++ === count) controller.close();
      else controller.enqueue(allocate(CHUNK));
    },
  } as UnderlyingDefaultSource<Uint8Array>, { highWaterMark: 0 });
  const reader = stream.getReader();
  while (!(await reader.read()).done) { /* next */ }
}

/** A byte stream read by a BYOB reader into one buffer, passed back and forth. */
async function byobCycle(count: number) {
  let made = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest!;
      if (made++ === count) {
        controller.close();
        request.respond(0);
      } else {
        request.respond(request.view!.byteLength);
      }
    },
  }, { highWaterMark: 0 });
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(CHUNK);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    buffer = value.buffer as ArrayBuffer;
  }
}

const unsafe = (globalThis as {
  Buffer?: { allocUnsafeSlow(size: number): Uint8Array };
}).Buffer;
const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-costs-"));
const file = path.join(dir, "data");
const FILE_CHUNKS = 64;
await fsp.writeFile(file, new Uint8Array(FILE_CHUNKS * CHUNK).fill(7));
const fd = fs.openSync(file, "r");
const source = new Uint8Array(CHUNK).fill(7);
const reused = new Uint8Array(CHUNK);
let sink: unknown; // keeps the optimiser from dropping the work

const costs: Record<string, number | null> = {};
try {
  const copies: number[] = [];
  for (let k = 0; k < 3; k++) {
    const from = new Uint8Array(CHUNK).fill(k);
    copies.push(
      await time((n) => {
        for (let i = 0; i < n; i++) reused.set(from);
      }),
    );
  }
  costs["memcpy (set into a reused array)"] = Math.min(...copies);
  costs["new Uint8Array (zeroed)"] = await time((n) => {
    for (let i = 0; i < n; i++) sink = new Uint8Array(CHUNK);
  });
  costs["Buffer.allocUnsafeSlow"] = unsafe
    ? await time((n) => {
      for (let i = 0; i < n; i++) sink = unsafe.allocUnsafeSlow(CHUNK);
    })
    : null;
  costs["allocate() (src/_allocate.ts)"] = await time((n) => {
    for (let i = 0; i < n; i++) sink = allocate(CHUNK);
  });
  costs["slice() (a fresh array and the copy)"] = await time((n) => {
    for (let i = 0; i < n; i++) sink = source.slice();
  });
  costs["readSync into a reused array"] = await time((n) => {
    for (let i = 0; i < n; i++) {
      fs.readSync(fd, reused, 0, CHUNK, (i % FILE_CHUNKS) * CHUNK);
    }
  });
  costs["readSync into allocate()"] = await time((n) => {
    for (let i = 0; i < n; i++) {
      const into = allocate(CHUNK);
      fs.readSync(fd, into, 0, CHUNK, (i % FILE_CHUNKS) * CHUNK);
      sink = into;
    }
  });
  costs["fs.read, 16 in flight, into allocate()"] = await time((n) =>
    Promise.all(Array.from({ length: 16 }, async (_, lane) => {
      for (let i = lane; i < n; i += 16) {
        await new Promise<void>((resolve, reject) =>
          fs.read(
            fd,
            allocate(CHUNK),
            0,
            CHUNK,
            (i % FILE_CHUNKS) * CHUNK,
            (error) => error ? reject(error) : resolve(),
          )
        );
      }
    }))
  );
  costs["byte stream: enqueue + read, fresh chunk"] = await time((n) =>
    streamCycle("bytes", n)
  );
  costs["default stream: enqueue + read, fresh chunk"] = await time((n) =>
    streamCycle(undefined, n)
  );
  costs["BYOB read + respond, reused buffer"] = await time(byobCycle);
  costs["ArrayBuffer.prototype.transfer"] = await time((n) => {
    let buffer = new ArrayBuffer(CHUNK);
    for (let i = 0; i < n; i++) buffer = buffer.transfer();
    sink = buffer;
  });
} finally {
  fs.closeSync(fd);
  await fsp.rm(dir, { recursive: true, force: true });
}
void sink;

const result = { runtime, load: os.loadavg()[0], count: COUNT, costs };
if (opts.json) console.log(JSON.stringify(result));
else {
  console.log(`64 KiB chunk costs on ${runtime} (µs per chunk, median of 5)`);
  for (const [name, us] of Object.entries(costs)) {
    console.log(`  ${name.padEnd(44)} ${us === null ? "-" : us.toFixed(2)}`);
  }
}
