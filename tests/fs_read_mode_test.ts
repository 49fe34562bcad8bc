// FsStore's read helper: positioned reads synchronous where the file can
// and while they stay fast (bytes in the page cache), asynchronous
// otherwise. It is private (src/fs/_read_fully.ts), so this file runs from
// the repository only; tests/fs_reads_test.ts covers the adapters' side.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import type { FileHandle } from "../src/fs/mod.ts";
import { readFullyFast, type ReadMode } from "../src/fs/_read_fully.ts";
import { pattern } from "./_helpers.ts";

const BYTES = pattern(10_000, 4);

/** A file of `BYTES` in memory, counting its reads; `readSync` as given. */
function fakeFile(
  readSync: ((buffer: Uint8Array, at: number) => number | undefined) | null,
) {
  const counts = { read: 0, readSync: 0 };
  const copy = (buffer: Uint8Array, at: number) => {
    const part = BYTES.subarray(at, at + Math.min(buffer.byteLength, 1000));
    buffer.set(part);
    return part.byteLength; // short reads, as an operating system may give
  };
  const file = {
    read(buffer: Uint8Array, at: number) {
      counts.read++;
      return Promise.resolve(copy(buffer, at));
    },
    ...(readSync
      ? {
        readSync(buffer: Uint8Array, at: number) {
          counts.readSync++;
          return readSync(buffer, at) === undefined
            ? undefined
            : copy(buffer, at);
        },
      }
      : {}),
  } as unknown as FileHandle;
  return { file, counts };
}

/** Spins for `ms` milliseconds: a synchronous read that waited for a disk. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* waiting */ }
}

describe("FsStore's synchronous reads", () => {
  it("reads synchronously where the file can, whole ranges across short reads", async () => {
    const { file, counts } = fakeFile(() => 0);
    const mode: ReadMode = { sync: true };
    const buffer = new Uint8Array(4500);
    assert.equal(await readFullyFast(file, buffer, 200, mode), 4500);
    assert.deepEqual(buffer, BYTES.subarray(200, 4700));
    assert.equal(counts.read, 0);
    assert.equal(await readFullyFast(file, new Uint8Array(50), 9980, mode), 20); // the end
  });

  it("falls back to read() when readSync declines, or where there is none", async () => {
    const declining = fakeFile(() => undefined);
    const buffer = new Uint8Array(3000);
    assert.equal(
      await readFullyFast(declining.file, buffer, 7000, { sync: true }),
      3000,
    );
    assert.deepEqual(buffer, BYTES.subarray(7000));
    assert.equal(declining.counts.read, 3);
    const without = fakeFile(null);
    assert.equal(
      await readFullyFast(without.file, buffer, 0, { sync: true }),
      3000,
    );
    assert.deepEqual(buffer, BYTES.subarray(0, 3000));
    assert.equal(without.counts.read, 3);
  });

  it("turns synchronous reads off for good after several slow ones in a row", async () => {
    const { file, counts } = fakeFile(() => {
      spin(3); // slower than a read from the page cache can be
      return 0;
    });
    const mode: ReadMode = { sync: true };
    const buffer = new Uint8Array(500);
    for (let i = 0; i < 4; i++) {
      assert.equal(
        mode.sync,
        true,
        `still synchronous before slow read ${i + 1}`,
      );
      await readFullyFast(file, buffer, i * 500, mode);
    }
    assert.equal(mode.sync, false);
    assert.equal(counts.readSync, 4);
    assert.equal(await readFullyFast(file, buffer, 2000, mode), 500);
    assert.deepEqual(buffer, BYTES.subarray(2000, 2500));
    assert.equal(counts.readSync, 4, "no synchronous read after");
    assert.equal(counts.read, 1);
  });
});
