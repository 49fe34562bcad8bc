// FsStore's positioned reads: synchronous where the adapter can and while
// they stay fast (bytes in the page cache), asynchronous otherwise; the
// adapters' `readSync`; and the Node adapter's callback reads, which its
// close() must wait for.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFileSystem, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileHandle, FileSystem } from "../src/fs/mod.ts";
import { readFullyFast, type ReadMode } from "../src/fs/_read_fully.ts";
import { pattern } from "./_helpers.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-reads-"));
const BYTES = pattern(10_000, 4);
const path = join(root, "file");
await writeFile(path, BYTES);

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

describe("FsStore positioned reads", () => {
  after(() => rm(root, { recursive: true, force: true }));

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

  const adapters: [string, FileSystem][] = "Deno" in globalThis
    ? [["Deno adapter", denoFileSystem], ["Node adapter", nodeFileSystem]]
    : [["Node adapter", nodeFileSystem]];
  for (const [name, fs] of adapters) {
    it(`${name}: readSync and read give the file's bytes at any position, in any order`, async () => {
      const file = await fs.open(path, "read");
      try {
        const buffer = new Uint8Array(700);
        for (const at of [0, 9_500, 3_001, 3_001, 42]) {
          const count = file.readSync?.(buffer, at);
          assert.equal(count, Math.min(700, 10_000 - at), `readSync at ${at}`);
          assert.deepEqual(
            buffer.subarray(0, count),
            BYTES.subarray(at, at + count!),
          );
          const other = new Uint8Array(300);
          assert.equal(await file.read(other, at + 1), 300);
          assert.deepEqual(other, BYTES.subarray(at + 1, at + 301));
        }
        assert.equal(file.readSync?.(buffer, 10_000), 0);
      } finally {
        await file.close();
      }
    });

    it(`${name}: close() waits for the reads in flight`, async () => {
      const file = await fs.open(path, "read");
      const buffers = [0, 1, 2, 3].map(() => new Uint8Array(2000));
      const reads = buffers.map((buffer, i) => file.read(buffer, i * 2000));
      const closing = file.close();
      assert.deepEqual(await Promise.all(reads), [2000, 2000, 2000, 2000]);
      buffers.forEach((buffer, i) =>
        assert.deepEqual(buffer, BYTES.subarray(i * 2000, (i + 1) * 2000))
      );
      await closing;
    });
  }

  if ("Deno" in globalThis) {
    it("Deno adapter: readSync declines while an asynchronous read is in flight", async () => {
      const file = await denoFileSystem.open(path, "read");
      try {
        const reading = file.read(new Uint8Array(100), 5_000);
        assert.equal(file.readSync?.(new Uint8Array(100), 0), undefined);
        assert.equal(await reading, 100);
        const buffer = new Uint8Array(100);
        assert.equal(file.readSync?.(buffer, 0), 100);
        assert.deepEqual(buffer, BYTES.subarray(0, 100));
      } finally {
        await file.close();
      }
    });
  }
});
