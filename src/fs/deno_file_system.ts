/**
 * {@linkcode FileSystem} on Deno's own file APIs.
 *
 * @module
 */

import { deno, type DenoFile, SEEK_START } from "./_deno_api.ts";
import { isProcessAlive, sha256 } from "./_host.ts";
import type { FileHandle, FileSystem } from "./file_system.ts";

/**
 * Deno's file system, through the `Deno` namespace (hashing and process
 * liveness through Deno's `node:crypto` and `node:process`). Needs
 * `--allow-read` and `--allow-write` for the cache directory. Without
 * `--allow-run` it cannot tell whether another process is alive, so the
 * unfinished files of crashed processes are kept (never served) until a start
 * that has the permission.
 *
 * @example Choosing the Deno adapter explicitly
 * ```ts ignore
 * import { denoFileSystem, FsStore } from "@streamcache/streamcache/fs";
 *
 * const store = new FsStore({ dir: "./cache", fs: denoFileSystem });
 * await store.close();
 * ```
 */
export const denoFileSystem: FileSystem = {
  async mkdir(path) {
    await deno().mkdir(path, { recursive: true });
  },
  async open(path, mode) {
    const file = await deno().open(
      path,
      mode === "read" ? { read: true } : { write: true, createNew: true },
    );
    return wrap(file);
  },
  rename: (from, to) => deno().rename(from, to),
  remove: (path) => deno().remove(path, { recursive: true }),
  async readDir(path) {
    const names: string[] = [];
    for await (const entry of deno().readDir(path)) names.push(entry.name);
    return names;
  },
  async syncDir(path) {
    let file: DenoFile | undefined;
    try {
      file = await deno().open(path, { read: true });
      await file.sync();
    } catch {
      // Not every platform can fsync a directory; see nodeFileSystem.
    } finally {
      file?.close();
    }
  },
  isNotFound: (error) => error instanceof deno().errors.NotFound,
  get pid() {
    return deno().pid;
  },
  isProcessAlive,
  createHash: sha256,
};

function wrap(file: DenoFile): FileHandle {
  let closed = false;
  let cursor = 0; // where the file's own position is, after the last read
  return {
    async read(buffer, position) {
      // Sequential reads, the common case, need no seek.
      if (position !== cursor) await file.seek(position, SEEK_START);
      const count = (await file.read(buffer)) ?? 0;
      cursor = position + count;
      return count;
    },
    async write(data) {
      for (let done = 0; done < data.byteLength;) {
        done += await file.write(data.subarray(done));
      }
    },
    sync: () => file.sync(),
    size: async () => (await file.stat()).size,
    close() {
      if (!closed) {
        closed = true;
        file.close();
      }
      return Promise.resolve();
    },
  };
}
