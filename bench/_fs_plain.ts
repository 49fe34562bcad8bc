/**
 * The baseline for bench/fs.ts: a plain file write with the runtime's own
 * file API, the same one `FsStore`'s default adapter uses there
 * (`Deno.FsFile` on Deno, a `node:fs/promises` FileHandle on Node and Bun),
 * with the same partial-write loop, and no cache, hashing or record. Also
 * the hashing yardstick: `FsStore` hashes every byte it stores (SHA-256 via
 * `node:crypto`), which a plain write does not. Not a benchmark itself.
 *
 * @module
 */

import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";

/** A file being written: appends, one fsync, close. */
export interface PlainFile {
  /** Appends all of `data`. */
  write(data: Uint8Array): Promise<void>;
  /** fsync: flushes the file's data and size to the disk. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

/** The part of `Deno.FsFile` used here; typed locally so Node's types need no Deno. */
interface DenoFile {
  write(data: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  close(): void;
}
interface DenoLike {
  open(
    path: string,
    options: { write: boolean; createNew: boolean },
  ): Promise<DenoFile>;
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;

/** Which API {@linkcode createPlainFile} writes with on this runtime. */
export const plainApi: string = deno
  ? "Deno.FsFile"
  : "node:fs/promises FileHandle";

/** Creates `path` (it must not exist) for writing, with {@linkcode plainApi}. */
export async function createPlainFile(path: string): Promise<PlainFile> {
  if (deno) {
    const file = await deno.open(path, { write: true, createNew: true });
    return {
      async write(data) {
        for (let done = 0; done < data.byteLength;) {
          done += await file.write(data.subarray(done));
        }
      },
      sync: () => file.sync(),
      close: () => Promise.resolve(file.close()),
    };
  }
  const handle = await fsp.open(path, "wx");
  return {
    async write(data) {
      for (let done = 0; done < data.byteLength;) {
        const { bytesWritten } = await handle.write(
          data,
          done,
          data.byteLength - done,
        );
        done += bytesWritten;
      }
    },
    sync: () => handle.sync(),
    close: () => handle.close(),
  };
}

/**
 * Bytes per second of `node:crypto` SHA-256 (what `FsStore` hashes with)
 * over `bytes` bytes fed in `chunk`-byte updates, best of `runs` after one
 * warm-up; no I/O.
 */
export function sha256Bandwidth(
  bytes: number,
  chunk: number,
  runs = 3,
): number {
  const data = new Uint8Array(chunk).fill(0x5a);
  let best = Infinity;
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const hash = createHash("sha256");
    for (let at = 0; at < bytes; at += chunk) hash.update(data);
    hash.digest("base64");
    if (i > 0) best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return bytes / best;
}
