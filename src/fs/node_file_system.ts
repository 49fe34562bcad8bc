/**
 * {@linkcode FileSystem} on `node:fs/promises`: for Node.js and Bun (and
 * usable on Deno).
 *
 * @module
 */

import * as fs from "node:fs/promises";
import process from "node:process";
import { isProcessAlive, sha256 } from "./_host.ts";
import type { FileHandle, FileSystem } from "./file_system.ts";

/**
 * The file system of Node.js and Bun, through `node:fs/promises`.
 *
 * @example Choosing the Node adapter explicitly
 * ```ts
 * import { FsStore, nodeFileSystem } from "@streamcache/streamcache/fs";
 *
 * const dir = await Deno.makeTempDir();
 * const store = new FsStore({ dir, fs: nodeFileSystem });
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const nodeFileSystem: FileSystem = {
  async mkdir(path) {
    await fs.mkdir(path, { recursive: true });
  },
  async open(path, mode) {
    const handle = await fs.open(path, mode === "read" ? "r" : "wx");
    return wrap(handle);
  },
  rename: (from, to) => fs.rename(from, to),
  remove: (path) => fs.rm(path, { recursive: true }),
  readDir: (path) => fs.readdir(path),
  async syncDir(path) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(path, "r");
      await handle.sync();
    } catch {
      // Not every platform can fsync a directory (Windows cannot); the
      // rename is still atomic, only its durability across a power cut is not.
    } finally {
      await handle?.close();
    }
  },
  isNotFound: (error) => (error as { code?: unknown })?.code === "ENOENT",
  pid: process.pid,
  isProcessAlive,
  createHash: sha256,
};

function wrap(handle: fs.FileHandle): FileHandle {
  return {
    async read(buffer, position) {
      const { bytesRead } = await handle.read(
        buffer,
        0,
        buffer.byteLength,
        position,
      );
      return bytesRead;
    },
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
    size: async () => (await handle.stat()).size,
    close: () => handle.close(),
  };
}
