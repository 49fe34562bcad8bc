/**
 * W3, stampede: `--requests` (1,000) concurrent requests for one cold key
 * whose producer yields `--size` (1 MiB) in 64 KiB chunks, one per macrotask
 * (as a body from a network would come). Every request reads the whole body
 * and checks it. Reported per subject: how many times the producer ran (it
 * must be 1) and the time from the first request to the last request's last
 * byte; the ratio is the peer's time / streamcache's (above 1: streamcache
 * is faster), the median of the per-round ratios.
 *
 * Subjects: streamcache over a `MemoryStore` and an `FsStore` (each request
 * gets its own stream from byte 0, while the body is produced), an
 * in-flight `Map<key, Promise<bytes>>` and lru-cache 11's `fetch()` (both
 * hand every request the same array once the body is complete).
 *
 *     node bench/w3_stampede.ts
 *     deno run -A bench/w3_stampede.ts --requests 1000 --rounds 5
 *
 * Options: `--requests N` (1000), `--size KiB` (1024), `--rounds N` (5),
 * `--json`.
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { LRUCache } from "lru-cache";
import { MemoryStore, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { ByteCheck, CHUNK, mark, newSource } from "./_bytes.ts";
import { median, runtime } from "./_stats.ts";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    requests: { type: "string", default: "1000" },
    size: { type: "string", default: "1024" },
    rounds: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const REQUESTS = Number(opts.requests);
const SIZE = Number(opts.size) * 1024;
const ROUNDS = Number(opts.rounds);
if (SIZE % CHUNK || !(SIZE > 0)) {
  throw new Error("--size: a multiple of 64 KiB");
}
const log = (line: string) => opts.json || console.log(line);
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The producer: SIZE bytes in 64 KiB chunks, one per macrotask. */
async function* produce(runs: { count: number }): AsyncGenerator<Uint8Array> {
  runs.count++;
  const source = newSource();
  for (let i = 0; i < SIZE / CHUNK; i++) {
    await nextTask();
    mark(source, i);
    yield source.slice();
  }
}
async function collect(runs: { count: number }): Promise<Uint8Array> {
  const out = new Uint8Array(SIZE);
  let at = 0;
  for await (const chunk of produce(runs)) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
function checkWhole(bytes: Uint8Array): number {
  const check = new ByteCheck();
  check.add(bytes);
  return check.end(SIZE);
}
async function checkStream(
  stream: ReadableStream<Uint8Array>,
): Promise<number> {
  const check = new ByteCheck();
  for await (const chunk of stream) check.add(chunk);
  return check.end(SIZE);
}

type Request = (runs: { count: number }) => Promise<number>;
type Subject = () => { request: Request; close(): Promise<void> };

let serial = 0;
const base = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-w3-"));
const streamcache = (store: () => MemoryStore | FsStore): Subject => () => {
  const cache = new StreamCache({ store: store() });
  return {
    async request(runs) {
      const entry = await cache.getOrCreate("cold", () => produce(runs));
      return checkStream(entry.readable());
    },
    close: () => cache.close(),
  };
};
const SUBJECTS: Record<string, Subject> = {
  "streamcache memory": streamcache(() => new MemoryStore()),
  "streamcache disk": streamcache(() =>
    new FsStore({ dir: path.join(base, `${++serial}`) })
  ),
  "in-flight Map": () => {
    const map = new Map<string, Promise<Uint8Array>>();
    return {
      async request(runs) {
        let found = map.get("cold");
        if (!found) map.set("cold", found = collect(runs));
        return checkWhole(await found);
      },
      close: () => Promise.resolve(map.clear()),
    };
  },
  "lru-cache fetch": () => {
    let runs = { count: 0 };
    const lru = new LRUCache<string, Uint8Array, { count: number }>({
      max: 10,
      fetchMethod: (_key, _stale, { context }) => collect(context ?? runs),
    });
    return {
      async request(counter) {
        runs = counter;
        return checkWhole((await lru.fetch("cold", { context: counter }))!);
      },
      close: () => Promise.resolve(lru.clear()),
    };
  },
};

const names = Object.keys(SUBJECTS);
const results: Record<string, { seconds: number; runs: number }[]> = {};
log(
  `W3 stampede on ${runtime}: ${REQUESTS} concurrent requests for one cold key, ${
    SIZE / 1024
  } KiB in 64 KiB chunks; ${ROUNDS} rounds; load ${
    os.loadavg()[0]!.toFixed(2)
  }`,
);
try {
  for (let round = -1; round < ROUNDS; round++) {
    const order = names.map((_, i) =>
      names[(i + Math.max(round, 0)) % names.length]!
    );
    for (const name of order) {
      const subject = SUBJECTS[name]!();
      try {
        const runs = { count: 0 };
        const t0 = performance.now();
        const got = await Promise.all(
          Array.from({ length: REQUESTS }, () => subject.request(runs)),
        );
        const seconds = (performance.now() - t0) / 1000;
        if (got.some((n) => n !== SIZE)) throw new Error(`${name}: short body`);
        if (round < 0) continue; // warm-up
        (results[name] ??= []).push({ seconds, runs: runs.count });
        log(
          `  round ${round + 1} ${
            name.padEnd(20)
          } producer runs ${runs.count}   last byte after ${
            (seconds * 1000).toFixed(1)
          } ms`,
        );
      } finally {
        await subject.close();
      }
    }
  }
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}

const sc = results["streamcache memory"]!;
const summary = {
  workload: "w3",
  runtime,
  load: os.loadavg()[0],
  requests: REQUESTS,
  size: SIZE,
  subjects: Object.fromEntries(
    Object.entries(results).map(([name, rs]) => [name, {
      producerRuns: Math.max(...rs.map((r) => r.runs)),
      seconds: median(rs.map((r) => r.seconds)),
      ratio: median(rs.map((r, i) => r.seconds / sc[i]!.seconds)),
    }]),
  ),
};
if (opts.json) console.log(JSON.stringify(summary));
else {
  log("medians; ratio: the subject's time / streamcache memory's");
  for (const [name, s] of Object.entries(summary.subjects)) {
    log(
      `  ${name.padEnd(20)} producer runs ${s.producerRuns}   last byte ${
        (s.seconds * 1000).toFixed(1)
      } ms   ratio ${s.ratio.toFixed(2)}`,
    );
  }
}
