/**
 * W2, small entries: 1 KiB bodies. **Hits**: 1,000 keys stored (untimed),
 * then `--hits` requests over them in batches of 16 concurrent ones, each
 * reading the whole body and checking it; requests per second. **Misses**:
 * `--misses` requests for new keys one after another, each producing and
 * reading its body; the median and p99 latency from request to last byte.
 *
 * `--store memory`: streamcache's `MemoryStore` (`getOrCreate`, then the
 * body through `entry.readable()`) against lru-cache 11's `fetch()`, the
 * same with its bytes copied into a one-chunk byte stream that is then read
 * ("lru-cache + stream": the floor for a cache that answers with a stream
 * and gives each reader its own bytes), and an in-flight
 * `Map<key, Promise<bytes>>`. `--store disk`: streamcache's
 * `FsStore` (whose miss includes the commit's fsyncs) against cacache 21
 * (`get`, and `put` on a miss). Subjects alternate within each round; the
 * ratios are medians of the per-round ratios streamcache / peer (for hits:
 * throughput; for misses: the peer's median latency / streamcache's, so
 * above 1 means streamcache is faster either way).
 *
 *     node bench/w2_small.ts --store memory
 *     deno run -A bench/w2_small.ts --store disk --rounds 3
 *
 * Options: `--store memory|disk`, `--hits N` (50,000 memory, 10,000
 * disk), `--misses N` (2,000 memory, 200 disk), `--rounds N` (5),
 * `--baseline DIR` (also another checkout's streamcache, as `before`),
 * `--json`.
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import cacacheModule from "cacache";
import { LRUCache } from "lru-cache";
import { MemoryStore, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { median, runtime } from "./_stats.ts";

const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    store: { type: "string", default: "memory" },
    hits: { type: "string" },
    misses: { type: "string" },
    rounds: { type: "string", default: "5" },
    baseline: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const disk = opts.store === "disk";
const HITS = Number(opts.hits ?? (disk ? 10_000 : 50_000));
const MISSES = Number(opts.misses ?? (disk ? 200 : 2_000));
const ROUNDS = Number(opts.rounds);
const KEYS = 1000;
const SIZE = 1024;
const BATCH = 16;
const log = (line: string) => opts.json || console.log(line);

/** The part of cacache 21 used here (it ships no types). */
const cacache = cacacheModule as unknown as {
  get(dir: string, key: string): Promise<{ data: Uint8Array }>;
  put(dir: string, key: string, data: Uint8Array): Promise<unknown>;
};

/** The body of key number `n`: 1 KiB whose bytes depend on `n`. */
function body(n: number): Uint8Array {
  const out = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) out[i] = (n + i * 7) & 255;
  return out;
}
function check(bytes: Uint8Array, n: number): void {
  if (
    bytes.byteLength !== SIZE || bytes[0] !== (n & 255) ||
    bytes[SIZE - 1] !== ((n + (SIZE - 1) * 7) & 255)
  ) throw new Error(`wrong body for key ${n}`);
}
const keyOf = (n: number) => `/small/${n}.json`;
const numberOf = (key: string) => Number(key.slice(7, -5));

/** One subject: get the body of key `n`, producing it on a miss. */
interface Subject {
  get(n: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function readBody(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const first = await reader.read();
  const second = first.done ? first : await reader.read();
  if (!second.done) throw new Error("a 1 KiB body came in more than one chunk");
  return first.value ?? new Uint8Array(0);
}

let serial = 0;
const base = await fsp.mkdtemp(path.join(os.tmpdir(), "streamcache-w2-"));
const fresh = () => path.join(base, `${++serial}`);

/** Another checkout's streamcache (`--baseline DIR`), to compare in the same rounds. */
const before = opts.baseline
  ? {
    ...(await import(
      pathToFileURL(path.resolve(opts.baseline, "mod.ts")).href
    )),
    ...(await import(
      pathToFileURL(path.resolve(opts.baseline, "src/fs/mod.ts")).href
    )),
  } as {
    StreamCache: typeof StreamCache;
    MemoryStore: typeof MemoryStore;
    FsStore: typeof FsStore;
  }
  : undefined;

/** streamcache (this checkout's, or the baseline's) over a store from `store()`. */
function streamcache(
  lib: { StreamCache: typeof StreamCache },
  store: () => MemoryStore | FsStore,
): Subject {
  const cache = new lib.StreamCache({ store: store() });
  return {
    async get(n) {
      const entry = await cache.getOrCreate(keyOf(n), () => body(n));
      return readBody(entry.readable());
    },
    close: () => cache.close(),
  };
}

const SUBJECTS: Record<string, () => Subject> = disk
  ? {
    streamcache: () =>
      streamcache({ StreamCache }, () => new FsStore({ dir: fresh() })),
    ...(before
      ? {
        before: () =>
          streamcache(before, () => new before.FsStore({ dir: fresh() })),
      }
      : {}),
    cacache() {
      const dir = fresh();
      return {
        async get(n) {
          try {
            return (await cacache.get(dir, keyOf(n))).data;
          } catch (error) {
            if ((error as { code?: string }).code !== "ENOENT") throw error;
            const bytes = body(n);
            await cacache.put(dir, keyOf(n), bytes);
            return bytes;
          }
        },
        close: () => Promise.resolve(),
      };
    },
  }
  : {
    streamcache: () => streamcache({ StreamCache }, () => new MemoryStore()),
    ...(before
      ? { before: () => streamcache(before, () => new before.MemoryStore()) }
      : {}),
    "lru-cache fetch": () => {
      const lru = new LRUCache<string, Uint8Array>({
        max: 1_000_000,
        fetchMethod: (key) => Promise.resolve(body(numberOf(key))),
      });
      return {
        get: async (n) => (await lru.fetch(keyOf(n)))!,
        close: () => Promise.resolve(lru.clear()),
      };
    },
    // The floor for any cache that answers a hit with a stream and gives
    // each reader its own bytes (SEMANTICS 7): lru-cache's hit, copied into
    // a one-chunk byte stream that is then read, as a hit of streamcache is.
    "lru-cache + stream": () => {
      const lru = new LRUCache<string, Uint8Array>({
        max: 1_000_000,
        fetchMethod: (key) => Promise.resolve(body(numberOf(key))),
      });
      return {
        get: async (n) => {
          const bytes = (await lru.fetch(keyOf(n)))!;
          return readBody(
            new ReadableStream({
              type: "bytes",
              pull(controller) {
                controller.enqueue(bytes.slice());
                controller.close();
              },
            }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>,
          );
        },
        close: () => Promise.resolve(lru.clear()),
      };
    },
    "in-flight Map": () => {
      const map = new Map<string, Promise<Uint8Array>>();
      return {
        get(n) {
          const key = keyOf(n);
          let found = map.get(key);
          if (!found) map.set(key, found = Promise.resolve(body(n)));
          return found;
        },
        close: () => Promise.resolve(map.clear()),
      };
    },
  };

/** Requests per second of `HITS` hits over the stored keys, 16 at a time. */
async function hits(subject: Subject): Promise<number> {
  for (let n = 0; n < KEYS; n++) check(await subject.get(n), n);
  const t0 = performance.now();
  for (let done = 0; done < HITS; done += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = done; i < done + BATCH; i++) {
      const n = (i * 7919) % KEYS;
      batch.push(subject.get(n).then((bytes) => check(bytes, n)));
    }
    await Promise.all(batch);
  }
  return HITS / ((performance.now() - t0) / 1000);
}

/** Latencies in ms of `MISSES` misses, one after another. */
async function misses(subject: Subject): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < MISSES; i++) {
    const n = 10_000_000 + i;
    const t0 = performance.now();
    check(await subject.get(n), n);
    times.push(performance.now() - t0);
  }
  return times;
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) =>
    a - b
  )[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const names = Object.keys(SUBJECTS);
const rounds: Record<string, { hits: number; p50: number; p99: number }[]> = {};
log(
  `W2 small entries on ${runtime}: ${
    disk ? "disk" : "memory"
  }, 1 KiB bodies, ${HITS} hits over ${KEYS} keys, ${MISSES} misses; ${ROUNDS} rounds; load ${
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
        const rate = await hits(subject);
        const times = await misses(subject);
        if (round < 0) continue; // the warm-up round
        const r = {
          hits: rate,
          p50: quantile(times, 0.5),
          p99: quantile(times, 0.99),
        };
        (rounds[name] ??= []).push(r);
        log(
          `  round ${round + 1} ${name.padEnd(16)} hits ${
            r.hits.toFixed(0).padStart(8)
          }/s   miss p50 ${(r.p50 * 1000).toFixed(0)} µs  p99 ${
            (r.p99 * 1000).toFixed(0)
          } µs`,
        );
      } finally {
        await subject.close();
      }
    }
  }
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}

const sc = rounds["streamcache"]!;
const summary = {
  workload: "w2",
  store: disk ? "disk" : "memory",
  runtime,
  load: os.loadavg()[0],
  subjects: Object.fromEntries(
    Object.entries(rounds).map(([name, rs]) => [name, {
      hits: median(rs.map((r) => r.hits)),
      missP50: median(rs.map((r) => r.p50)),
      missP99: median(rs.map((r) => r.p99)),
      hitRatio: median(rs.map((r, i) => sc[i]!.hits / r.hits)),
      missRatio: median(rs.map((r, i) => r.p50 / sc[i]!.p50)),
    }]),
  ),
};
if (opts.json) console.log(JSON.stringify(summary));
else {
  log("medians; ratios streamcache / peer (above 1: streamcache faster)");
  for (const [name, s] of Object.entries(summary.subjects)) {
    log(
      `  ${name.padEnd(16)} hits ${s.hits.toFixed(0).padStart(8)}/s (ratio ${
        s.hitRatio.toFixed(2)
      })   miss p50 ${(s.missP50 * 1000).toFixed(0)} µs, p99 ${
        (s.missP99 * 1000).toFixed(0)
      } µs (ratio ${s.missRatio.toFixed(2)})`,
    );
  }
}
