// A default reader's chunk from FsStore is a fresh array whose zero fill is
// skipped where the runtime allows (src/_allocate.ts): every byte of it is
// read over before the reader sees it. This test pins the one case where a
// read comes up short (the file was cut under an open reader): the chunk's
// whole buffer, which a consumer can reach through `.buffer`, holds the
// bytes read and zeros, never leftover memory; and the reader then fails.

import { after, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { entryName, pattern } from "./_helpers.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-short-read-"));
const BODY = pattern(200_000, 9);
const CHUNK = 64 * 1024;
const CUT = 100_000; // inside the second chunk

describe("FsStore: a read cut short", () => {
  after(() => rm(root, { recursive: true, force: true }));

  it("rules 7, 18: a chunk cut short by a truncated file holds the bytes read, and zeros after them in its buffer; then the reader fails clearly", async () => {
    const dir = join(root, "truncated");
    const cache = new StreamCache({ store: new FsStore({ dir }) });
    try {
      const entry = await cache.getOrCreate("big", () => BODY);
      assert.equal(await entry.done, BODY.byteLength);
      const reader = entry.readable().getReader();
      const first = await reader.read();
      assert.deepEqual(first.value, BODY.subarray(0, CHUNK));
      // The reader has the file open; an operator cuts it.
      await truncate(join(dir, "entries", entryName("big")), CUT);
      const second = await reader.read();
      const chunk = second.value!;
      assert.equal(chunk.byteLength, CUT - CHUNK);
      assert.deepEqual(chunk, BODY.subarray(CHUNK, CUT));
      const whole = new Uint8Array(chunk.buffer);
      assert.ok(whole.byteLength >= chunk.byteLength);
      const rest = whole.subarray(chunk.byteOffset + chunk.byteLength);
      assert.equal(
        rest.findIndex((byte) => byte !== 0),
        -1,
        "the buffer past the chunk holds only zeros",
      );
      await assert.rejects(
        reader.read(),
        /the store's read of .* returned 0 bytes/,
      );
    } finally {
      await cache.close();
    }
  });
});
