// A bounded cache over FsStore across a restart (SEMANTICS 16): the byte
// count and the least-recently-used order come back from the store's records
// (access times the cache kept, never the OS atime), so the first eviction
// after a restart takes the entry that was really used least recently.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CacheEvent, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { pattern } from "./_helpers.ts";
import { describe, it } from "./_testing.ts";

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "streamcache-fsb-"));
  try {
    await test(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("bounded cache over FsStore, across a restart", () => {
  it("rule 16: a restart keeps the byte count and the LRU order; the first eviction takes the least recently used", () =>
    withDir(async (dir) => {
      let now = 1_000_000;
      const clock = () => now;
      // Access times are written at once (resolution 0), as after a clean close.
      const open = (limits: { maxEntries?: number } = {}) =>
        new StreamCache({
          store: new FsStore({ dir, accessResolution: 0 }),
          clock,
          ...limits,
        });
      const first = open();
      for (const [i, key] of ["a", "b", "c"].entries()) {
        now += 1000;
        await (await first.getOrCreate(key, () => pattern(100 * (i + 1), i)))
          .done;
      }
      now += 1000;
      await first.get("a"); // a is now the most recently used: b is the least
      await first.close();

      now += 1000;
      const second = open({ maxEntries: 2 });
      try {
        const evicted: string[] = [];
        second.addEventListener(
          "evict",
          (event) => evicted.push((event as CacheEvent).key!),
        );
        await second.prune();
        assert.deepEqual(evicted, ["b"]);
        const keys: string[] = [];
        for await (const key of second.keys()) keys.push(key);
        assert.deepEqual(keys.sort(), ["a", "c"]);
        assert.equal(second.stats().bytes, 100 + 300, "bytes of a and c");
        assert.equal(second.stats().entries, 2);
      } finally {
        await second.close();
      }
    }));

  it("rule 16: without a limit, a restart counts every entry's bytes before anything is read", () =>
    withDir(async (dir) => {
      const first = new StreamCache({ store: new FsStore({ dir }) });
      for (let i = 0; i < 5; i++) {
        await (await first.getOrCreate(`k${i}`, () => pattern(1000, i))).done;
      }
      await first.close();
      const second = new StreamCache({ store: new FsStore({ dir }) });
      try {
        await second.prune(); // waits for the records to be counted
        assert.deepEqual(
          [second.stats().entries, second.stats().bytes],
          [5, 5000],
        );
      } finally {
        await second.close();
      }
    }));
});
