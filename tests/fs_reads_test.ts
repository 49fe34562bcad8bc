// The file adapters' positioned reads: `readSync` (which FsStore uses while
// reads come from the page cache; tests/fs_read_mode_test.ts) and `read`,
// and the Node adapter's callback reads, which its close() must wait for.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFileSystem, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileSystem } from "../src/fs/mod.ts";
import { pattern } from "./_helpers.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-reads-"));
const BYTES = pattern(10_000, 4);
const path = join(root, "file");
await writeFile(path, BYTES);

describe("FsStore positioned reads", () => {
  after(() => rm(root, { recursive: true, force: true }));

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
