// Bytes straight into the consumer's buffer: the optional `readInto` of a
// store's readers, and BYOB readers (`getReader({ mode: "byob" })`) of
// `entry.readable()`, which use `readInto` where a store has it and copy
// what `read` returns where it has not. Every store must deliver the same
// bytes either way, at every offset, while written and once complete, and
// keep rules 5 and 7. Part of the conformance suite.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { StreamCache } from "../mod.ts";
import type { Store } from "../mod.ts";
import { concat, pattern, readAll } from "./_helpers.ts";
import type { StoreFactory } from "./_store_contract.ts";

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

async function withCache(
  make: StoreFactory,
  test: (cache: StreamCache) => Promise<void>,
): Promise<void> {
  const cache = new StreamCache({ store: await make() });
  try {
    await test(cache);
  } finally {
    await cache.close();
  }
}

/**
 * Reads `stream` to its end with a BYOB reader into views of `size` bytes,
 * reusing one buffer: what the reader got, and its reads' lengths.
 */
async function readByob(
  stream: ReadableStream<Uint8Array>,
  size: number,
): Promise<{ bytes: Uint8Array; lengths: number[] }> {
  const reader = stream.getReader({ mode: "byob" });
  const chunks: Uint8Array[] = [];
  let buffer = new ArrayBuffer(size);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) {
      return {
        bytes: concat(chunks),
        lengths: chunks.map((c) => c.byteLength),
      };
    }
    chunks.push(value.slice()); // the buffer is read into again next time
    buffer = value.buffer as ArrayBuffer;
  }
}

export function describeStoreByob(name: string, make: StoreFactory): void {
  describe(`${name} BYOB reads`, () => {
    it("readInto, where the store has it, gives read()'s bytes at every offset, while written and once committed (rule 3)", () =>
      withStore(make, async (store) => {
        const bytes = pattern(300, 3);
        const writer = await store.create("k", undefined);
        const reader = await store.openReader(writer.id);
        if (!reader.readInto) {
          await reader.close();
          return; // optional: the cache copies from read() instead (tested below)
        }
        await writer.write(bytes.subarray(0, 100));
        for (const [offset, length] of [[0, 100], [37, 63], [99, 1]]) {
          const view = new Uint8Array(length! + 5).fill(0xee);
          const count = await reader.readInto(offset!, view);
          assert.equal(count, length, `count at ${offset}`);
          assert.deepEqual(
            view.subarray(0, count),
            bytes.subarray(offset!, offset! + count),
          );
          assert.ok(
            view.subarray(count).every((b) => b === 0xee),
            "nothing written past the count",
          );
        }
        await writer.write(bytes.subarray(100));
        await writer.commit();
        for (let offset = 0; offset < 300; offset += 7) {
          for (const length of [1, 13, 64, 300]) {
            const view = new Uint8Array(length);
            const count = await reader.readInto(offset, view);
            const expected = Math.min(length, 300 - offset);
            assert.ok(
              count >= 1 && count <= expected,
              `count ${count} at ${offset}`,
            );
            assert.deepEqual(
              view.subarray(0, count),
              bytes.subarray(offset, offset + count),
            );
          }
        }
        await reader.close();
      }));

    it("gives BYOB readers the right bytes from every start, for any view size, once complete (rules 7, 8)", () =>
      withCache(make, async (cache) => {
        const bytes = pattern(300, 5);
        const entry = await cache.getOrCreate("k", () => bytes);
        await entry.done;
        for (let start = 0; start <= 300; start += 37) {
          for (const size of [1, 7, 4096]) {
            const { bytes: got, lengths } = await readByob(
              entry.readable({ start, chunkSize: 100 }),
              size,
            );
            assert.deepEqual(
              got,
              bytes.subarray(start),
              `start ${start}, view ${size}`,
            );
            assert.ok(lengths.every((n) => n >= 1 && n <= Math.min(size, 100)));
          }
        }
        const { bytes: range } = await readByob(
          entry.readable({ start: 10, end: 15 }),
          64,
        );
        assert.deepEqual(range, bytes.subarray(10, 15));
      }));

    it("gives a BYOB reader every byte while the entry is written, and ends it when the writer closes (rules 3, 4)", () =>
      withCache(make, async (cache) => {
        const bytes = pattern(5000, 9);
        const { entry, writable } = await cache.open("k");
        const writer = writable!.getWriter();
        await writer.write(bytes.subarray(0, 1000));
        const early = readByob(entry.readable(), 300);
        const late = readByob(entry.readable({ start: 999 }), 4096);
        const reusing = new Uint8Array(1000);
        for (let at = 1000; at < 5000; at += 1000) {
          // The producer reuses its buffer: what readers get must not change.
          reusing.set(bytes.subarray(at, at + 1000));
          await writer.write(reusing);
          reusing.fill(0);
        }
        await writer.close();
        assert.deepEqual((await early).bytes, bytes);
        assert.deepEqual((await late).bytes, bytes.subarray(999));
      }));

    it("keeps each BYOB reader's buffer its own: changing it changes no other reader, nor the store (rule 7)", () =>
      withCache(make, async (cache) => {
        const bytes = pattern(64, 2);
        const entry = await cache.getOrCreate("k", () => bytes);
        await entry.done;
        const reader = entry.readable().getReader({ mode: "byob" });
        const { value } = await reader.read(new Uint8Array(64));
        value!.fill(0);
        structuredClone(value!.buffer, {
          transfer: [value!.buffer as ArrayBuffer],
        });
        await reader.cancel();
        assert.deepEqual(await readAll(entry.readable()), bytes);
        assert.deepEqual((await readByob(entry.readable(), 64)).bytes, bytes);
      }));

    it("errors a BYOB reader waiting for bytes with the writer's reason, never a clean end (rule 5)", () =>
      withCache(make, async (cache) => {
        const { entry, writable } = await cache.open("k");
        const writer = writable!.getWriter();
        await writer.write(pattern(10));
        const reader = entry.readable().getReader({ mode: "byob" });
        const first = await reader.read(new Uint8Array(64));
        assert.equal(first.value?.byteLength, 10);
        const waiting = reader.read(
          new Uint8Array(first.value!.buffer as ArrayBuffer),
        );
        const reason = new Error("producer broke");
        await writer.abort(reason);
        await assert.rejects(waiting, (error) => error === reason);
      }));
  });
}
