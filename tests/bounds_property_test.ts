// Property test of a bounded cache (SEMANTICS 16, 17): random puts, reads
// held open, releases, deletes, writers that grow past the budget, clock
// jumps and prunes, over a MemoryStore with small limits. After every prune
// the cache is within its budget except for what is pinned; no entry that a
// reader holds is ever cut (every held reader gets its entry's exact bytes);
// and once everything is released, the counters agree with what is listed.
//
// Replay a failure with FC_SEED=<seed> (fast-check prints the seed and path).

import { describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { MemoryStore, StreamCache } from "../mod.ts";
import type { CacheStatus } from "../mod.ts";
import { concat, pattern } from "./_helpers.ts";

const KEYS = ["k0", "k1", "k2", "k3", "k4", "k5"] as const;
const LIMITS = { maxEntries: 2, maxBytes: 40, ttl: 1000 } as const;

type Command =
  | { op: "put"; key: number; size: number }
  | { op: "hold"; key: number }
  | { op: "release"; held: number }
  | { op: "get"; key: number }
  | { op: "delete"; key: number }
  | { op: "open"; key: number }
  | { op: "write"; writer: number; size: number }
  | { op: "close"; writer: number }
  | { op: "advance"; ms: number }
  | { op: "prune" };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("put" as const),
      key: fc.nat(5),
      size: fc.nat(40),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("hold" as const), key: fc.nat(5) }),
  },
  fc.record({ op: fc.constant("release" as const), held: fc.nat(20) }),
  fc.record({ op: fc.constant("get" as const), key: fc.nat(5) }),
  fc.record({ op: fc.constant("delete" as const), key: fc.nat(5) }),
  fc.record({ op: fc.constant("open" as const), key: fc.nat(5) }),
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("write" as const),
      writer: fc.nat(20),
      size: fc.integer({ min: 1, max: 30 }),
    }),
  },
  fc.record({ op: fc.constant("close" as const), writer: fc.nat(20) }),
  fc.record({
    op: fc.constant("advance" as const),
    ms: fc.integer({ min: 0, max: 1500 }),
  }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant("prune" as const) }) },
);

/** A reader held open on an entry, with the bytes the entry must give it. */
interface Held {
  readonly key: string;
  readonly id: string;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  chunks: Uint8Array[];
  expected: () => Uint8Array;
  /** Set when the commands delete its key: then it may go. */
  deleted: boolean;
}

/** A writer of an entry, with everything it wrote. */
interface Writer {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  written: Uint8Array[];
}

async function run(commands: readonly Command[]): Promise<void> {
  let now = 1_000_000;
  const cache = new StreamCache({
    ...LIMITS,
    store: new MemoryStore({ blockSize: 16 }),
    clock: () => now,
  });
  const held: Held[] = [];
  const writers: Writer[] = [];
  /** The bytes each entry (by id) was given, once complete. */
  const bytesOf = new Map<string, Uint8Array>();
  let seed = 0;
  try {
    for (const step of commands) {
      switch (step.op) {
        case "put": {
          const body = pattern(step.size, ++seed);
          const status: CacheStatus = {};
          const entry = await cache.getOrCreate(KEYS[step.key]!, () => body, {
            status,
          });
          // A join may be an open writer's entry, which the commands finish.
          if (status.outcome === "miss") {
            bytesOf.set(entry.id, body);
            await entry.done;
          }
          break;
        }
        case "hold": {
          const entry = await cache.get(KEYS[step.key]!);
          if (!entry) break;
          const reader = entry.readable({ chunkSize: 1 }).getReader();
          const chunks: Uint8Array[] = [];
          const id = entry.id;
          held.push({
            key: entry.key,
            id,
            reader,
            chunks,
            expected: () => bytesOf.get(id) ?? new Uint8Array(),
            deleted: false,
          });
          break;
        }
        case "release": {
          const one = held[step.held % Math.max(held.length, 1)];
          if (!one) break;
          held.splice(held.indexOf(one), 1);
          await one.reader.cancel();
          break;
        }
        case "get":
          await cache.get(KEYS[step.key]!);
          break;
        case "delete":
          for (const one of held) {
            if (one.key === KEYS[step.key]) one.deleted = true;
          }
          await cache.delete(KEYS[step.key]!);
          break;
        case "open": {
          const { entry, writable } = await cache.open(KEYS[step.key]!);
          if (!writable) break;
          const one: Writer = { writer: writable.getWriter(), written: [] };
          writers.push(one);
          bytesOf.set(entry.id, new Uint8Array()); // filled in as it grows
          entry.done.then(
            () => bytesOf.set(entry.id, concat(one.written)),
            () => {},
          );
          // A reader from the start pins it as the model expects it whole.
          const reader = entry.readable({ chunkSize: 7 }).getReader();
          held.push({
            key: entry.key,
            id: entry.id,
            reader,
            chunks: [],
            expected: () => concat(one.written),
            deleted: false,
          });
          break;
        }
        case "write": {
          const one = writers[step.writer % Math.max(writers.length, 1)];
          if (!one) break;
          const chunk = pattern(step.size, ++seed);
          one.written.push(chunk);
          await one.writer.write(chunk);
          break;
        }
        case "close": {
          const one = writers[step.writer % Math.max(writers.length, 1)];
          if (!one) break;
          writers.splice(writers.indexOf(one), 1);
          await one.writer.close();
          break;
        }
        case "advance":
          now += step.ms;
          break;
        case "prune": {
          await cache.prune();
          const stats = cache.stats();
          assert.ok(
            stats.bytes <= LIMITS.maxBytes + stats.pinnedBytes,
            `after prune: ${stats.bytes} bytes, ${stats.pinnedBytes} pinned`,
          );
          // Nothing held was evicted: the key still gives that very entry.
          for (const one of held) {
            if (one.deleted) continue;
            const entry = await cache.get(one.key);
            assert.equal(entry?.id, one.id, `held ${one.key} was evicted`);
          }
          break;
        }
      }
    }
    // Every writer closes, every held reader reads to its end: whatever was
    // evicted, expired or deleted meanwhile, a pinned entry is never cut.
    for (const one of writers) await one.writer.close();
    for (const one of held) {
      for (;;) {
        const { done, value } = await one.reader.read();
        if (done) break;
        one.chunks.push(value);
      }
      assert.deepEqual(concat(one.chunks), one.expected());
    }
    await cache.prune();
    const stats = cache.stats();
    assert.equal(stats.pinnedBytes, 0);
    assert.ok(stats.bytes <= LIMITS.maxBytes, `${stats.bytes} bytes idle`);
    assert.ok(
      stats.entries <= LIMITS.maxEntries,
      `${stats.entries} entries idle`,
    );
    let listed = 0;
    let listedBytes = 0;
    for await (const key of cache.keys()) {
      const entry = await cache.get(key);
      if (!entry) continue; // expired between listing and getting
      listed++;
      listedBytes += await entry.done;
    }
    assert.equal(stats.entries, listed, "entries counted = entries listed");
    assert.equal(stats.bytes, listedBytes, "bytes counted = bytes listed");
  } finally {
    await cache.close();
  }
}

describe("bounded cache property (rules 16, 17)", () => {
  it(
    "random puts, holds, deletes, growth, clock jumps and prunes keep the budget, never cut a held entry, and count what is listed",
    {
      timeout: HEAVY_TIMEOUT_MS,
    },
    async () => {
      const seed = process.env.FC_SEED
        ? Number(process.env.FC_SEED)
        : undefined;
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 40 }), run),
        { numRuns: 300, ...(seed === undefined ? {} : { seed }) },
      );
    },
  );
});
