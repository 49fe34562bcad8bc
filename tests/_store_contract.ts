// The Store interface's own contract, exercised directly: what any backend
// must do for the cache to keep its promises. Part of the conformance suite.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { EntryNotFoundError } from "../mod.ts";
import type { Store } from "../mod.ts";
import { decode, encode, pattern } from "./_helpers.ts";

/** Makes a fresh, empty store for one test. */
export type StoreFactory = () => Store | Promise<Store>;

/** Hostile keys every store must treat as data (SEMANTICS 15). */
export const HOSTILE_KEYS: readonly string[] = [
  "",
  "../../etc/passwd",
  "/abs/path",
  "a\u0000b",
  "CON",
  "..",
  "key with spaces and ünïcödé 🦀🎉",
  "🎉".repeat(25_000), // 100 KB of emoji
];

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

export function describeStoreContract(name: string, make: StoreFactory): void {
  describe(`${name} store contract`, () => {
    it("keeps an entry invisible to lookup until commit, then returns its record (rule 14)", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", { type: "text/plain" });
        await writer.write(encode("hello "));
        await writer.write(encode("world"));
        assert.equal(await store.lookup("k"), undefined);
        const record = await writer.commit();
        assert.equal(record.key, "k");
        assert.equal(record.id, writer.id);
        assert.equal(record.size, 11);
        assert.deepEqual(record.meta, { type: "text/plain" });
        assert.ok(Number.isFinite(record.created));
        assert.deepEqual(await store.lookup("k"), record);
      }));

    it("reads bytes by offset while the entry is still written (rule 3)", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", undefined);
        const reader = await store.openReader(writer.id);
        await writer.write(encode("abc"));
        assert.equal(decode(await reader.read(0, 10)), "abc");
        await writer.write(encode("def"));
        assert.equal(decode(await reader.read(2, 3)), "cde");
        assert.equal(decode(await reader.read(3, 100)), "def");
        await writer.commit();
        assert.equal(decode(await reader.read(5, 1)), "f");
        await reader.close();
      }));

    it("returns exactly the written bytes across many chunk sizes", () =>
      withStore(make, async (store) => {
        const data = pattern(200_003, 1);
        const writer = await store.create("big", undefined);
        for (
          let at = 0, step = 1;
          at < data.byteLength;
          step = (step * 7) % 70_001 + 1
        ) {
          await writer.write(data.subarray(at, at + step));
          at += step;
        }
        const record = await writer.commit();
        assert.equal(record.size, data.byteLength);
        const reader = await store.openReader(record.id);
        const out = new Uint8Array(data.byteLength);
        for (let at = 0; at < out.byteLength;) {
          const bytes = await reader.read(at, 65_536);
          assert.ok(bytes.byteLength > 0 && bytes.byteLength <= 65_536);
          out.set(bytes, at);
          at += bytes.byteLength;
        }
        await reader.close();
        assert.deepEqual(out, data);
      }));

    it("owns written chunks: reusing the producer's buffer changes nothing (rule 7)", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", undefined);
        const buffer = encode("aaaa");
        await writer.write(buffer);
        buffer.fill(0x62); // "bbbb"
        await writer.write(buffer);
        const record = await writer.commit();
        const reader = await store.openReader(record.id);
        assert.equal(decode(await reader.read(0, 8)), "aaaabbbb");
        await reader.close();
      }));

    it("gives every read a buffer of its own: mutating or detaching it changes nothing (rule 7)", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", undefined);
        await writer.write(encode("immutable"));
        const record = await writer.commit();
        const reader = await store.openReader(record.id);
        const first = await reader.read(0, 9);
        first.fill(0);
        const second = await reader.read(0, 9);
        structuredClone(second.buffer, {
          transfer: [second.buffer as ArrayBuffer],
        });
        assert.equal(second.byteLength, 0); // detached
        assert.equal(decode(await reader.read(0, 9)), "immutable");
        await reader.close();
      }));

    it("gives each create a new id, so a successor never shares storage (rule 10)", () =>
      withStore(make, async (store) => {
        const first = await store.create("k", undefined);
        await first.write(encode("old"));
        await first.commit();
        const second = await store.create("k", undefined);
        assert.notEqual(second.id, first.id);
        await second.write(encode("new!"));
        const oldReader = await store.openReader(first.id);
        assert.equal(decode(await oldReader.read(0, 10)), "old");
        await oldReader.close();
      }));

    it("replaces the committed entry on commit; a reader already open on the old one keeps reading", () =>
      withStore(make, async (store) => {
        const first = await store.create("k", { v: 1 });
        await first.write(encode("one"));
        await first.commit();
        const reader = await store.openReader(first.id);
        const second = await store.create("k", { v: 2 });
        await second.write(encode("two"));
        await second.commit();
        const record = await store.lookup("k");
        assert.equal(record?.id, second.id);
        assert.deepEqual(record?.meta, { v: 2 });
        assert.equal(decode(await reader.read(0, 3)), "one");
        await reader.close();
        await store.release(first.id);
        assert.equal(
          (await store.lookup("k"))?.id,
          second.id,
          "releasing the replaced entry keeps the new one",
        );
      }));

    it("removes a key only if it still names the given id, and keeps bytes until release (rule 10)", () =>
      withStore(make, async (store) => {
        const writer = await store.create("k", undefined);
        await writer.write(encode("bytes"));
        const record = await writer.commit();
        await store.remove("k", "not-" + record.id);
        assert.equal((await store.lookup("k"))?.id, record.id);
        await store.remove("k", record.id);
        assert.equal(await store.lookup("k"), undefined);
        await store.remove("k", record.id); // idempotent
        const reader = await store.openReader(record.id);
        assert.equal(decode(await reader.read(0, 5)), "bytes");
        await reader.close();
        await store.release(record.id);
        await store.release(record.id); // idempotent
      }));

    it("lists only committed keys", () =>
      withStore(make, async (store) => {
        for (const key of ["a", "b"]) {
          const writer = await store.create(key, undefined);
          await writer.write(encode(key));
          await writer.commit();
        }
        const open = await store.create("in-progress", undefined);
        await open.write(encode("x"));
        const keys: string[] = [];
        for await (const key of store.keys()) keys.push(key);
        assert.deepEqual(keys.sort(), ["a", "b"]);
        await store.release(open.id);
      }));

    it("treats hostile keys as data: each round-trips exactly (rule 15)", () =>
      withStore(make, async (store) => {
        for (const [i, key] of HOSTILE_KEYS.entries()) {
          const writer = await store.create(key, { i });
          await writer.write(encode(`value ${i}`));
          await writer.commit();
        }
        for (const [i, key] of HOSTILE_KEYS.entries()) {
          const record = await store.lookup(key);
          assert.equal(record?.key, key);
          assert.deepEqual(record?.meta, { i });
          const reader = await store.openReader(record!.id);
          assert.equal(decode(await reader.read(0, 100)), `value ${i}`);
          await reader.close();
        }
        const keys: string[] = [];
        for await (const key of store.keys()) keys.push(key);
        assert.deepEqual(keys.sort(), [...HOSTILE_KEYS].sort());
      }));

    it("rejects openReader of an id it has no storage for with EntryNotFoundError (rule 6)", () =>
      withStore(make, async (store) => {
        const isNotFound = (error: unknown) => {
          assert.ok(
            error instanceof EntryNotFoundError,
            `expected an EntryNotFoundError: received ${error}`,
          );
          return true;
        };
        await assert.rejects(store.openReader("never-created"), isNotFound);
        // Released: never committed...
        const failed = await store.create("k", undefined);
        await failed.write(encode("partial"));
        await store.release(failed.id);
        await assert.rejects(store.openReader(failed.id), isNotFound);
        // ...and committed, then removed.
        const writer = await store.create("k", undefined);
        await writer.write(encode("bytes"));
        const record = await writer.commit();
        await store.remove("k", record.id);
        await store.release(record.id);
        await assert.rejects(store.openReader(record.id), isNotFound);
        assert.equal(await store.lookup("k"), undefined);
      }));

    it("commits an empty entry", () =>
      withStore(make, async (store) => {
        const writer = await store.create("empty", undefined);
        const record = await writer.commit();
        assert.equal(record.size, 0);
        assert.equal((await store.lookup("empty"))?.size, 0);
      }));
  });
}
