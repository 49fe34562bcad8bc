// Bounded caches over a given store (SEMANTICS 16, 17): fscache's own
// scenarios, pinned entries that are never evicted but always counted,
// expiry without timers, stale-while-revalidate through the single producer,
// and the stats and events that report all of it. Part of the conformance
// suite: every store passes it. Time is an injected clock: nothing sleeps.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { type CacheEvent, StreamCache } from "../mod.ts";
import type { CacheStatus, Store, StreamCacheOptions } from "../mod.ts";
import {
  decode,
  encode,
  manualSource,
  pattern,
  readAll,
  readError,
} from "./_helpers.ts";
import type { StoreFactory } from "./_store_contract.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    clock: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function withBoundedCache(
  make: StoreFactory,
  options: Omit<StreamCacheOptions, "store">,
  test: (cache: StreamCache, store: Store) => Promise<void>,
): Promise<void> {
  const store = await make();
  const cache = new StreamCache({ ...options, store });
  try {
    await test(cache, store);
  } finally {
    await cache.close();
  }
}

/** Creates `key` with `body` and waits until it is committed. */
async function put(cache: StreamCache, key: string, body: string | Uint8Array) {
  const bytes = typeof body === "string" ? encode(body) : body;
  const entry = await cache.getOrCreate(key, () => bytes);
  await entry.done;
  return entry;
}

async function keysOf(cache: StreamCache): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of cache.keys()) keys.push(key);
  return keys.sort();
}

/** Resolves with the next `type` event the cache dispatches. */
function next(cache: StreamCache, type: string): Promise<CacheEvent> {
  return new Promise((resolve) =>
    cache.addEventListener(type, (event) => resolve(event as CacheEvent), {
      once: true,
    })
  );
}

export function describeCacheBounds(name: string, make: StoreFactory): void {
  describe(`Bounded StreamCache over ${name}`, () => {
    describe("fscache's scenarios", () => {
      it("rule 16: at most 3 entries, 5 written: the 2 least recently used are gone", () =>
        withBoundedCache(make, { maxEntries: 3 }, async (cache) => {
          for (const key of ["a", "b", "c", "d", "e"]) {
            await put(cache, key, key);
          }
          await cache.prune();
          assert.deepEqual(await keysOf(cache), ["c", "d", "e"]);
          assert.equal(cache.stats().entries, 3);
          assert.equal(cache.stats().evictions.entries, 2);
        }));

      it("rule 16: at most 24 bytes, 5 × 'hello': the oldest is gone, 4 remain", () =>
        withBoundedCache(make, { maxBytes: 24 }, async (cache) => {
          for (let i = 0; i < 5; i++) await put(cache, `k${i}`, "hello");
          await cache.prune();
          assert.deepEqual(await keysOf(cache), ["k1", "k2", "k3", "k4"]);
          assert.equal(cache.stats().bytes, 20);
        }));

      it("rule 17: ttl 0 with a reader still open: kept until the reader closes, then gone", () =>
        withBoundedCache(make, { ttl: 0 }, async (cache) => {
          // As fscache's test does: the reader is open from the start.
          const { entry, writable } = await cache.open("stream");
          const reader = entry.readable().getReader();
          await new Blob(["hello"]).stream().pipeTo(writable!);
          assert.equal(decode((await reader.read()).value!), "hello");
          await cache.prune();
          assert.equal(await cache.has("stream"), true, "expired while in use");
          await reader.cancel(); // the last reader goes
          assert.equal(await cache.has("stream"), false);
          assert.equal(cache.stats().entries, 0);
          assert.equal(cache.stats().bytes, 0);
        }));

      it("rule 16: without limits, everything is kept", () =>
        withBoundedCache(make, {}, async (cache) => {
          for (let i = 0; i < 20; i++) {
            await put(cache, `k${i}`, pattern(1000, i));
          }
          await cache.prune();
          assert.equal((await keysOf(cache)).length, 20);
          assert.equal(cache.stats().bytes, 20_000);
        }));
    });

    describe("rule 17: in use is never evicted, and always counted", () => {
      it("an entry growing past the budget pushes idle entries out and is itself never cut", () =>
        withBoundedCache(make, { maxBytes: 1000 }, async (cache) => {
          for (let i = 0; i < 4; i++) {
            await put(cache, `old${i}`, pattern(200, i));
          }
          const source = manualSource();
          const growing = await cache.getOrCreate("big", () => source.stream);
          const reading = readAll(growing.readable());
          const evicted: string[] = [];
          cache.addEventListener(
            "evict",
            (e) => evicted.push((e as CacheEvent).key!),
          );
          const data = pattern(3000, 9);
          for (let at = 0; at < data.byteLength; at += 500) {
            source.push(data.slice(at, at + 500));
          }
          source.close();
          assert.deepEqual(await reading, data, "the growing entry was cut");
          await growing.done;
          await cache.prune();
          // The idle ones went, least recently used first; once idle, the big
          // one is over budget alone, and goes too.
          assert.deepEqual(evicted, ["old0", "old1", "old2", "old3", "big"]);
          assert.deepEqual(await keysOf(cache), []);
          assert.equal(cache.stats().bytes, 0);
        }));

      it("a pinned entry is skipped, counted, said once with overbudget, and evicted the moment it goes idle", () =>
        withBoundedCache(make, { maxBytes: 100 }, async (cache) => {
          let overbudget = 0;
          cache.addEventListener("overbudget", () => overbudget++);
          const entry = await put(cache, "pinned", pattern(300, 1));
          // Opened as it is handed out: no eviction comes in between.
          const reader = entry.readable({ chunkSize: 10 }).getReader();
          await reader.read();
          await cache.prune();
          await cache.prune();
          assert.equal(overbudget, 1, "said once, no thrash");
          assert.equal(await cache.has("pinned"), true);
          const stats = cache.stats();
          assert.equal(stats.bytes, 300);
          assert.equal(stats.pinnedBytes, 300);
          const evicted = next(cache, "evict");
          await reader.cancel();
          assert.equal((await evicted).key, "pinned");
          assert.equal(await cache.has("pinned"), false);
        }));

      it("a deleted entry still read counts until its last reader is done", () =>
        withBoundedCache(make, {}, async (cache) => {
          const entry = await put(cache, "k", pattern(500, 2));
          const reader = entry.readable({ chunkSize: 100 }).getReader();
          await reader.read();
          await cache.delete("k");
          assert.equal(cache.stats().entries, 0);
          assert.equal(
            cache.stats().bytes,
            500,
            "a deleted entry still read counts",
          );
          assert.equal(cache.stats().pinnedBytes, 500);
          while (!(await reader.read()).done);
          assert.equal(cache.stats().bytes, 0);
        }));

      it("get() refreshes recency: the entry just read is not the one evicted", () =>
        withBoundedCache(make, { maxEntries: 2 }, async (cache) => {
          await put(cache, "a", "1");
          await put(cache, "b", "2");
          await cache.get("a"); // now b is the least recently used
          await put(cache, "c", "3");
          await cache.prune();
          assert.deepEqual(await keysOf(cache), ["a", "c"]);
        }));

      it("evicts in the background as entries commit, without prune()", () =>
        withBoundedCache(make, { maxEntries: 1 }, async (cache) => {
          await put(cache, "a", "1");
          const evicted = next(cache, "evict");
          await put(cache, "b", "2");
          const event = await evicted;
          assert.deepEqual([event.key, event.reason, event.size], [
            "a",
            "entries",
            1,
          ]);
          assert.deepEqual(await keysOf(cache), ["b"]);
        }));

      it("an entry larger than maxEntryBytes streams whole to its readers but is not kept", () =>
        withBoundedCache(make, { maxEntryBytes: 100 }, async (cache) => {
          const evicted = next(cache, "evict");
          let runs = 0;
          const producer = () => (runs++, pattern(1000, 3));
          const entry = await cache.getOrCreate("huge", producer);
          assert.deepEqual(await readAll(entry.readable()), pattern(1000, 3));
          assert.equal(await entry.done, 1000);
          assert.equal((await evicted).reason, "oversize");
          assert.equal(await cache.has("huge"), false);
          await cache.getOrCreate("huge", producer);
          assert.equal(runs, 2);
          await put(cache, "small", pattern(100, 4));
          assert.equal(await cache.has("small"), true);
        }));
    });

    describe("rule 16: expiry without timers", () => {
      it("ttl counts idle time since the last access; maxAge counts from creation", () => {
        const time = manualClock();
        return withBoundedCache(
          make,
          { ttl: 1000, clock: time.clock },
          async (cache) => {
            await put(cache, "k", "v");
            time.advance(900);
            assert.equal(await cache.has("k"), true);
            assert.ok(await cache.get("k")); // an access: idle from now
            time.advance(900);
            assert.ok(await cache.get("k"));
            time.advance(1001);
            assert.equal(await cache.get("k"), undefined);
            let runs = 0;
            await cache.getOrCreate("k", () => (runs++, encode("new")));
            assert.equal(runs, 1);
            assert.equal(cache.stats().evictions.ttl, 1);
          },
        );
      });

      it("a producer's own maxAge overrides the cache's; the next call after it produces afresh", () => {
        const time = manualClock();
        return withBoundedCache(
          make,
          { maxAge: 60_000, clock: time.clock },
          async (cache) => {
            let runs = 0;
            const producer = () => ({
              body: encode(`run ${++runs}`),
              maxAge: 1000,
            });
            await (await cache.getOrCreate("k", producer)).done;
            time.advance(999);
            await cache.getOrCreate("k", producer);
            assert.equal(runs, 1);
            time.advance(2);
            const fresh = await cache.getOrCreate("k", producer);
            assert.equal(decode(await readAll(fresh.readable())), "run 2");
            assert.equal(cache.stats().evictions.maxAge, 1);
          },
        );
      });

      it("prune() expires entries anywhere in the order; an expired entry in use is kept until idle", () => {
        const time = manualClock();
        return withBoundedCache(
          make,
          { ttl: 100, clock: time.clock },
          async (cache) => {
            await put(cache, "old", "1");
            const held = await put(cache, "held", "2");
            const reader = held.readable().getReader();
            time.advance(1000);
            await cache.prune();
            assert.deepEqual(await keysOf(cache), ["held"]);
            await reader.cancel();
            assert.deepEqual(await keysOf(cache), []);
          },
        );
      });
    });

    describe("stale-while-revalidate through the single producer", () => {
      it("100 concurrent calls on a stale entry get it at once, and one refresh runs; then the new entry is served", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          staleWhileRevalidate: 10_000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "k", "old");
          time.advance(2000);
          let refreshes = 0;
          const source = manualSource();
          const statuses: CacheStatus[] = [];
          const entries = await Promise.all(
            Array.from({ length: 100 }, () => {
              const status: CacheStatus = {};
              statuses.push(status);
              return cache.getOrCreate(
                "k",
                () => (refreshes++, source.stream),
                { status },
              );
            }),
          );
          assert.equal(refreshes, 1);
          assert.ok(statuses.every((s) => s.outcome === "stale"));
          for (const entry of entries) assert.equal(entry, entries[0]);
          const oldReader = readAll(entries[0]!.readable());
          const committed = next(cache, "commit");
          source.push(encode("new"));
          source.close();
          await committed;
          assert.equal(
            decode(await oldReader),
            "old",
            "readers of the stale entry finish it",
          );
          const status: CacheStatus = {};
          const fresh = await cache.getOrCreate("k", () => encode("never"), {
            status,
          });
          assert.equal(status.outcome, "hit");
          assert.equal(decode(await readAll(fresh.readable())), "new");
          assert.equal(cache.stats().stale, 100);
        });
      });

      it("staleIfError serves the stale entry while refreshes fail, then drops it", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          staleWhileRevalidate: 1000,
          staleIfError: 5000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "k", "old");
          time.advance(1500); // stale, within staleWhileRevalidate
          const failed = next(cache, "fail");
          const status: CacheStatus = {};
          await cache.getOrCreate(
            "k",
            () => Promise.reject(new Error("backend down")),
            { status },
          );
          assert.equal(status.outcome, "stale");
          assert.match(String((await failed).error), /backend down/);
          time.advance(2000); // past staleWhileRevalidate, within staleIfError
          const again: CacheStatus = {};
          const entry = await cache.getOrCreate(
            "k",
            () => Promise.reject(new Error("still down")),
            { status: again },
          );
          assert.equal(again.outcome, "stale");
          assert.equal(decode(await readAll(entry.readable())), "old");
          time.advance(5000); // past staleIfError: gone
          assert.equal(await cache.get("k"), undefined);
        });
      });

      it("without a stale window a stale entry is a miss, produced afresh", () => {
        const time = manualClock();
        return withBoundedCache(
          make,
          { maxAge: 10, clock: time.clock },
          async (cache) => {
            await put(cache, "k", "old");
            time.advance(11);
            const status: CacheStatus = {};
            const entry = await cache.getOrCreate("k", () => encode("new"), {
              status,
            });
            assert.equal(status.outcome, "miss");
            assert.equal(decode(await readAll(entry.readable())), "new");
          },
        );
      });

      it("a refresh deleted meanwhile is not kept", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 10,
          staleWhileRevalidate: 1000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "k", "old");
          time.advance(20);
          const source = manualSource();
          await cache.getOrCreate("k", () => source.stream);
          await cache.delete("k");
          source.push(encode("refreshed"));
          source.close();
          assert.equal(await cache.get("k"), undefined);
        });
      });
    });

    describe("keepStale: revalidation through the single producer", () => {
      it("an entry kept for a revalidation is not served as it is: concurrent calls wait for one refresh, which gets the stale entry", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          keepStale: 60_000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "k", "old");
          time.advance(2000); // past maxAge, no stale window: kept only
          assert.equal(await cache.has("k"), false);
          assert.equal(await cache.get("k"), undefined);
          assert.deepEqual(await keysOf(cache), []);
          const seen: string[] = [];
          const source = manualSource();
          const statuses: CacheStatus[] = [];
          const entries = await Promise.all(
            Array.from({ length: 10 }, () => {
              const status: CacheStatus = {};
              statuses.push(status);
              return cache.getOrCreate("k", async ({ stale }) => {
                seen.push(decode(await readAll(stale!.readable())));
                return source.stream;
              }, { status });
            }),
          );
          assert.deepEqual(seen, ["old"], "one refresh, given the stale entry");
          assert.deepEqual(
            statuses.map((s) => s.outcome),
            ["miss", ...Array(9).fill("join")],
          );
          for (const entry of entries) assert.equal(entry, entries[0]);
          assert.equal(await cache.has("k"), true, "its refresh runs");
          source.push(encode("new"));
          source.close();
          assert.equal(decode(await readAll(entries[0]!.readable())), "new");
          const status: CacheStatus = {};
          await cache.getOrCreate("k", () => encode("never"), { status });
          assert.equal(status.outcome, "hit");
        });
      });

      it("a failed revalidation rejects its callers and keeps the entry for the next attempt; within staleIfError it serves the stale entry", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          keepStale: 60_000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "plain", "old");
          const withError = await cache.getOrCreate(
            "sie",
            () => ({ body: encode("old"), staleIfError: 5000 }),
          );
          await withError.done;
          time.advance(2000);
          const down = () => Promise.reject(new Error("backend down"));
          await Promise.all(
            [1, 2].map(() =>
              assert.rejects(cache.getOrCreate("plain", down), /backend down/)
            ),
          );
          const status: CacheStatus = {};
          const stale = await cache.getOrCreate("sie", down, { status });
          assert.equal(status.outcome, "stale");
          assert.equal(decode(await readAll(stale.readable())), "old");
          let given = "";
          const entry = await cache.getOrCreate("plain", async ({ stale }) => {
            given = decode(await readAll(stale!.readable()));
            return encode("new");
          });
          assert.equal(given, "old", "the entry was kept for this attempt");
          assert.equal(decode(await readAll(entry.readable())), "new");
          time.advance(59_500); // "sie" past keepStale: gone; "plain" kept
          await cache.prune();
          assert.equal(cache.stats().entries, 1);
          assert.equal(cache.stats().evictions.maxAge, 1);
        });
      });

      it("staleIfError alone keeps the entry for a refresh that callers wait for, and serves it stale when that refresh fails", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          staleIfError: 5000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "k", "old");
          time.advance(2000);
          const status: CacheStatus = {};
          const stale = await cache.getOrCreate(
            "k",
            () => Promise.reject(new Error("backend down")),
            { status },
          );
          assert.equal(status.outcome, "stale");
          assert.equal(decode(await readAll(stale.readable())), "old");
          // Once a refresh failed, the stale entry is served at once within
          // staleIfError while the next refresh runs in the background.
          const again: CacheStatus = {};
          const committed = next(cache, "commit");
          await cache.getOrCreate("k", () => encode("new"), { status: again });
          assert.equal(again.outcome, "stale");
          await committed;
          const status3: CacheStatus = {};
          const fresh = await cache.getOrCreate("k", () => encode("never"), {
            status: status3,
          });
          assert.equal(status3.outcome, "hit");
          assert.equal(decode(await readAll(fresh.readable())), "new");
        });
      });

      it("a stale-while-revalidate refresh gets the stale entry too; open() replaces a kept entry, which it cannot revalidate", () => {
        const time = manualClock();
        return withBoundedCache(make, {
          maxAge: 1000,
          staleWhileRevalidate: 1000,
          keepStale: 60_000,
          clock: time.clock,
        }, async (cache) => {
          await put(cache, "swr", "old");
          await put(cache, "opened", "old");
          time.advance(1500);
          let given = "";
          const committed = next(cache, "commit");
          await cache.getOrCreate("swr", async ({ stale }) => {
            given = decode(await readAll(stale!.readable()));
            return encode("new");
          });
          await committed;
          assert.equal(given, "old");
          time.advance(1000); // "opened" is past its window: kept only
          const { entry, writable } = await cache.open("opened");
          assert.ok(writable, "open() made a new entry");
          await new Blob(["mine"]).stream().pipeTo(writable);
          assert.equal(decode(await readAll(entry.readable())), "mine");
        });
      });
    });

    describe("observability", () => {
      it("stats() counts hits, misses, joins, failures and bytes; events report commits and failures", () =>
        withBoundedCache(make, {}, async (cache) => {
          const events: string[] = [];
          for (const type of ["commit", "fail", "evict"]) {
            cache.addEventListener(
              type,
              (e) => events.push(`${e.type} ${(e as CacheEvent).key}`),
            );
          }
          const source = manualSource();
          const [first, second] = await Promise.all([
            cache.getOrCreate("k", () => source.stream),
            cache.getOrCreate("k", () => source.stream),
          ]);
          assert.equal(first, second);
          source.push(encode("abc"));
          source.close();
          await first!.done;
          await cache.getOrCreate("k", () => encode("x"));
          const bad = await cache.getOrCreate(
            "bad",
            () => new ReadableStream({ pull: (c) => c.error(new Error("no")) }),
          );
          await readError(bad.readable());
          const stats = cache.stats();
          assert.deepEqual(
            [
              stats.misses,
              stats.joins,
              stats.hits,
              stats.failures,
              stats.entries,
              stats.bytes,
              stats.inProgress,
            ],
            [2, 1, 1, 1, 1, 3, 0],
          );
          assert.deepEqual(events, ["commit k", "fail bad"]);
        }));
    });
  });
}
