/**
 * W4, catch-up latency: a writer appends 1 KiB every millisecond (a timer
 * of 1 ms between appends) while one reader waits at the end of the entry;
 * the latency of an append is the time from the writer's `write()` call to
 * the reader's receipt of its bytes. `--appends` (2,000) appends per run;
 * reported: the median and p99 latency per subject, medians over the rounds.
 *
 * Subjects: streamcache over a `MemoryStore` and an `FsStore`, and
 * fs-capacitor 8 (its read stream follows the temp file).
 *
 *     node bench/w4_catchup.ts
 *     bun bench/w4_catchup.ts --appends 5000 --rounds 3
 *
 * Options: `--appends N` (2000), `--rounds N` (3), `--json`.
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { WriteStream as CapacitorStream } from "fs-capacitor";
import { releaseCapacitor } from "./_fanout_peers.ts";
import { MemoryStore, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { median, runtime } from "./_stats.ts";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    appends: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const APPENDS = Number(opts.appends);
const ROUNDS = Number(opts.rounds);
const SIZE = 1024;
const log = (line: string) => opts.json || console.log(line);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A subject: a writer, and one reader's chunks as they arrive. */
interface Pipe {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  chunks: AsyncIterable<Uint8Array>;
  dispose(): Promise<void>;
}

/**
 * Appends APPENDS chunks 1 ms apart; returns each append's latency in ms,
 * from its write() call to the reader's receipt of its last byte.
 */
async function measure(pipe: Pipe): Promise<number[]> {
  const sent: number[] = [];
  const latencies: number[] = [];
  const reading = (async () => {
    let received = 0;
    for await (const chunk of pipe.chunks) {
      const now = performance.now();
      const before = Math.floor(received / SIZE);
      received += chunk.byteLength;
      for (let i = before; i < Math.floor(received / SIZE); i++) {
        if (chunk[chunk.byteLength - 1] === undefined) throw new Error("empty");
        latencies.push(now - sent[i]!);
      }
    }
    if (received !== APPENDS * SIZE) {
      throw new Error(`reader got ${received} bytes`);
    }
  })();
  const chunk = new Uint8Array(SIZE);
  for (let i = 0; i < APPENDS; i++) {
    await sleep(1);
    chunk.fill(i & 255);
    sent.push(performance.now());
    await pipe.write(chunk);
  }
  await pipe.close();
  await reading;
  return latencies;
}

let serial = 0;
const base = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-w4-"));
const streamcache =
  (store: () => MemoryStore | FsStore) => async (): Promise<Pipe> => {
    const cache = new StreamCache({ store: store() });
    const { entry, writable } = await cache.open("live");
    const writer = writable!.getWriter();
    return {
      write: (chunk) => writer.write(chunk),
      close: () => writer.close(),
      chunks: entry.readable(),
      dispose: () => cache.close(),
    };
  };
const SUBJECTS: Record<string, () => Promise<Pipe>> = {
  "streamcache memory": streamcache(() => new MemoryStore()),
  "streamcache disk": streamcache(() =>
    new FsStore({ dir: path.join(base, `${++serial}`) })
  ),
  "fs-capacitor": () => {
    const capacitor = new CapacitorStream({ tmpdir: () => base });
    return Promise.resolve({
      write: (chunk) =>
        new Promise<void>((resolve, reject) =>
          capacitor.write(chunk, (error) => error ? reject(error) : resolve())
        ),
      close: () =>
        new Promise<void>((resolve) => capacitor.end(() => resolve())),
      chunks: capacitor.createReadStream(),
      dispose: () => releaseCapacitor(capacitor),
    });
  },
};

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) =>
    a - b
  )[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const names = Object.keys(SUBJECTS);
const results: Record<string, { p50: number; p99: number }[]> = {};
log(
  `W4 catch-up latency on ${runtime}: 1 KiB appended every 1 ms, ${APPENDS} appends, one waiting reader; ${ROUNDS} rounds; load ${
    os.loadavg()[0]!.toFixed(2)
  }`,
);
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const pipe = await SUBJECTS[name]!();
      try {
        const latencies = await measure(pipe);
        const r = {
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
        };
        (results[name] ??= []).push(r);
        log(
          `  round ${round + 1} ${name.padEnd(20)} p50 ${
            (r.p50 * 1000).toFixed(0)
          } µs   p99 ${(r.p99 * 1000).toFixed(0)} µs`,
        );
      } finally {
        await pipe.dispose();
      }
    }
  }
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}
const summary = {
  workload: "w4",
  runtime,
  load: os.loadavg()[0],
  subjects: Object.fromEntries(
    Object.entries(results).map(([name, rs]) => [name, {
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
    }]),
  ),
};
if (opts.json) console.log(JSON.stringify(summary));
else {
  log("medians of the rounds");
  for (const [name, s] of Object.entries(summary.subjects)) {
    log(
      `  ${name.padEnd(20)} p50 ${(s.p50 * 1000).toFixed(0)} µs   p99 ${
        (s.p99 * 1000).toFixed(0)
      } µs`,
    );
  }
}
