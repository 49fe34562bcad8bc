// The Store capabilities a bounded cache relies on, exercised directly:
// creation times and lifetimes kept with each entry (rule 13), access times
// that the cache records through `touch` (rule 16: the cache's clock, never
// the operating system's), and `records()`, a listing of every committed
// entry without reading bodies. `touch` and `records` are optional: a store
// without them must still keep `created` and `lifetime`, and then gives no
// access time but `created` (or none). Part of the conformance suite.
//
// Access times may be kept to a resolution the store documents (FsStore
// writes them to disk at most once a minute per entry); these tests use
// times hours apart, and never sleep.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import type { EntryLifetime, Store, StoreRecord } from "../mod.ts";
import { encode } from "./_helpers.ts";
import type { StoreFactory } from "./_store_contract.ts";

const HOUR = 3_600_000;
/** A creation time by a cache's clock: far from now, as an injected clock may be. */
const T = Date.UTC(2020, 0, 1);
const LIFETIME: EntryLifetime = {
  ttl: 5_000,
  maxAge: HOUR,
  staleWhileRevalidate: 60_000,
  staleIfError: 0,
};

async function withStore(
  make: StoreFactory,
  test: (store: Store) => Promise<void>,
): Promise<void> {
  const store = await make();
  try {
    await test(store);
  } finally {
    await store.close();
  }
}

/** Commits `body` under `key` and returns its record. */
async function put(
  store: Store,
  key: string,
  body: string,
  created = T,
): Promise<StoreRecord> {
  const writer = await store.create(key, { body }, { created });
  if (body) await writer.write(encode(body));
  return await writer.commit();
}

async function listRecords(store: Store): Promise<StoreRecord[]> {
  const records: StoreRecord[] = [];
  for await (const record of store.records!()) records.push(record);
  return records.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** `accessed` as a store without `touch` may give it: absent, or its creation time. */
function assertNoAccessTime(record: StoreRecord | undefined): void {
  assert.ok(
    record?.accessed === undefined || record.accessed === record.created,
    `a store without touch gave accessed ${record?.accessed}`,
  );
}

export function describeStoreCapabilities(
  name: string,
  make: StoreFactory,
): void {
  describe(`${name} store capabilities (created, lifetime, touch, records)`, () => {
    it("rule 13: keeps the given creation time and lifetime through commit, lookup and records", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", { v: 1 }, {
          created: T,
          lifetime: LIFETIME,
        });
        await writer.write(encode("abc"));
        const committed = await writer.commit();
        assert.equal(committed.created, T);
        assert.deepEqual(committed.lifetime, LIFETIME);
        const looked = await store.lookup("k");
        assert.equal(looked?.created, T);
        assert.deepEqual(looked?.lifetime, LIFETIME);
        if (store.touch) {
          assert.equal(committed.accessed, T, "accessed starts at created");
          assert.equal(looked?.accessed, T);
        } else {
          assertNoAccessTime(looked);
        }
        if (store.records) {
          const [listed, ...more] = await listRecords(store);
          assert.equal(more.length, 0);
          assert.deepEqual(listed, looked);
        }
        // Without options: the store's clock, and no lifetime.
        const before = Date.now();
        const plain = await (await store.create("plain", undefined)).commit();
        assert.ok(
          plain.created >= before && plain.created <= Date.now(),
          `created ${plain.created} is not the store's clock`,
        );
        assert.equal(plain.lifetime, undefined);
        assert.equal((await store.lookup("plain"))?.lifetime, undefined);
      }));

    it("rule 16: touch records the cache's access time; lookup and records return it, and it never goes back", () =>
      withStore(make, async (store) => {
        const record = await put(store, "k", "hello");
        const other = await put(store, "other", "x");
        if (!store.touch) {
          assertNoAccessTime(await store.lookup("k"));
          return;
        }
        await store.touch(record.id, T + 2 * HOUR);
        assert.equal((await store.lookup("k"))?.accessed, T + 2 * HOUR);
        await store.touch(record.id, T + HOUR); // an older time changes nothing
        assert.equal((await store.lookup("k"))?.accessed, T + 2 * HOUR);
        await store.touch(record.id, T + 5 * HOUR);
        const looked = await store.lookup("k");
        assert.equal(looked?.accessed, T + 5 * HOUR);
        assert.equal(looked?.created, T, "created stays");
        assert.equal((await store.lookup("other"))?.accessed, other.created);
        if (store.records) {
          const accessed = (await listRecords(store)).map((r) => r.accessed);
          assert.deepEqual(accessed, [T + 5 * HOUR, T]);
        }
      }));

    it("rule 16: a touch within the store's resolution keeps an access time between the last one and it", () =>
      withStore(make, async (store) => {
        const record = await put(store, "k", "hello");
        if (!store.touch) return assertNoAccessTime(await store.lookup("k"));
        await store.touch(record.id, T + 1);
        const accessed = (await store.lookup("k"))?.accessed;
        assert.ok(accessed === T || accessed === T + 1, `accessed ${accessed}`);
      }));

    it("touch ignores unknown, uncommitted, removed and replaced ids", () =>
      withStore(make, async (store) => {
        if (!store.touch) return assertNoAccessTime(await put(store, "k", "a"));
        await store.touch("never-created", T + HOUR); // resolves, changes nothing
        const writer = await store.create("k", undefined, { created: T });
        await writer.write(encode("a"));
        await store.touch(writer.id, T + HOUR); // not committed yet
        const first = await writer.commit();
        assert.equal((await store.lookup("k"))?.accessed, T);
        // Replaced: the old id's touches never reach its successor.
        const second = await put(store, "k", "bb", T + 2 * HOUR);
        await store.touch(first.id, T + 9 * HOUR);
        assert.equal((await store.lookup("k"))?.accessed, T + 2 * HOUR);
        // Removed.
        await store.remove("k", second.id);
        await store.touch(second.id, T + 9 * HOUR);
        assert.equal(await store.lookup("k"), undefined);
        await store.release(first.id);
        await store.release(second.id);
        await store.touch(second.id, T + 10 * HOUR); // released: still harmless
        assert.equal(await store.lookup("k"), undefined);
      }));

    it("records() lists exactly the committed entries with their sizes and ids, never in-progress, removed or replaced ones", () =>
      withStore(make, async (store) => {
        const a = await put(store, "a", "aaa");
        const b = await put(store, "b", "bbbbb");
        const empty = await put(store, "empty", "");
        await put(store, "replaced", "old");
        const replaced = await put(store, "replaced", "newer!");
        const removed = await put(store, "removed", "gone");
        await store.remove("removed", removed.id);
        const open = await store.create("in-progress", undefined);
        await open.write(encode("partial"));
        if (!store.records) {
          const keys: string[] = [];
          for await (const key of store.keys()) keys.push(key);
          assert.deepEqual(keys.sort(), ["a", "b", "empty", "replaced"]);
          return;
        }
        const listed = await listRecords(store);
        assert.deepEqual(
          listed.map(({ key, id, size }) => [key, id, size]),
          [
            ["a", a.id, 3],
            ["b", b.id, 5],
            ["empty", empty.id, 0],
            ["replaced", replaced.id, 6],
          ],
        );
        for (const record of listed) {
          assert.deepEqual(record, await store.lookup(record.key));
        }
        await store.release(open.id);
        await store.release(removed.id);
      }));
  });
}
