/**
 * {@linkcode FileSystem} on `node:fs/promises`: for Node.js and Bun (and
 * usable on Deno).
 *
 * @module
 */

import { constants, read, readSync, type Stats, watch } from "node:fs";
import * as fs from "node:fs/promises";
import process from "node:process";
import { isProcessAlive, processScope, sha256 } from "./_host.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";

/**
 * Read-only, and never blocking at open (a FIFO would, until a writer came),
 * nor following a symbolic link: FileSystem.open reads regular files only.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) |
  (constants.O_NOFOLLOW ?? 0);

/** How long after a burst of changes Bun's are reported once more. */
const BUN_TRAILING_MS = 25;

/**
 * The file system of Node.js and Bun, through `node:fs/promises`.
 *
 * @example Choosing the Node adapter explicitly
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore, nodeFileSystem } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = new StreamCache({ store: new FsStore({ dir, fs: nodeFileSystem }) });
 * const entry = await cache.getOrCreate("k", () => new TextEncoder().encode("on disk"));
 * assert.equal(await entry.done, 7);
 * await cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const nodeFileSystem: FileSystem = {
  async mkdir(path) {
    await fs.mkdir(path, { recursive: true });
  },
  async open(path, mode) {
    if (mode === "create") return wrap(await fs.open(path, "wx"));
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, READ_FLAGS);
    } catch (error) {
      // ELOOP: a symbolic link, which O_NOFOLLOW refused.
      if ((error as { code?: unknown })?.code === "ELOOP") throw notAFile(path);
      throw error;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw notAFile(path);
    }
    return wrap(handle);
  },
  rename: (from, to) => fs.rename(from, to),
  remove: (path) => fs.rm(path, { recursive: true }),
  readDir: (path) => fs.readdir(path),
  stat: async (path) => toFileInfo(await fs.lstat(path)),
  async touch(path, time) {
    const date = new Date(time);
    await fs.utimes(path, date, date);
  },
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
  processScope,
  isProcessAlive,
  createHash: sha256,
  async link(existing, path) {
    try {
      await fs.link(existing, path);
      return true;
    } catch (error) {
      if ((error as { code?: unknown })?.code === "EEXIST") return false;
      throw error;
    }
  },
  watch(path, onChange) {
    // Bun (1.4) drops a change that comes within a few milliseconds of the
    // one before for the same file: there, each burst of changes is also
    // reported once more a little after its last one.
    let trailing: ReturnType<typeof setTimeout> | undefined;
    const changed = !("Bun" in globalThis) ? onChange : () => {
      onChange();
      clearTimeout(trailing);
      trailing = setTimeout(onChange, BUN_TRAILING_MS);
      trailing.unref?.();
    };
    try {
      const watcher = watch(path, () => changed());
      watcher.on("error", () => {}); // the directory went: nothing more to see
      return () => {
        clearTimeout(trailing);
        watcher.close();
      };
    } catch {
      return () => {}; // missing, or no watches left: see FileSystem.watch
    }
  },
};

function wrap(handle: fs.FileHandle): FileHandle {
  // Positioned reads go through the callback API on the handle's descriptor:
  // one promise per read instead of FileHandle.read's several. The handle
  // does not know of them, so close() waits for those in flight itself.
  const fd = handle.fd;
  let reads = 0;
  let drained: (() => void) | undefined;
  return {
    read(buffer, position) {
      reads++;
      return new Promise<number>((resolve, reject) => {
        read(fd, buffer, 0, buffer.byteLength, position, (error, count) => {
          // Referenced here, the handle is never collected (closing its
          // descriptor) while a read on that descriptor runs.
          if (handle.fd !== fd && !error) error = closedError();
          if (--reads === 0) drained?.();
          if (error) reject(error);
          else resolve(count);
        });
      });
    },
    readSync: (buffer, position) =>
      readSync(fd, buffer, 0, buffer.byteLength, position),
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
    stat: async () => toFileInfo(await handle.stat()),
    async close() {
      if (reads > 0) await new Promise<void>((resolve) => drained = resolve);
      await handle.close();
    },
  };
}

function toFileInfo(info: Stats): FileInfo {
  return {
    isFile: info.isFile(),
    isDirectory: info.isDirectory(),
    size: info.size,
    mtime: info.mtimeMs,
    ino: info.ino,
  };
}

/** The error for a read that finished after its handle was closed. */
function closedError(): Error {
  return Object.assign(new Error("Cannot read: the file was closed"), {
    code: "EBADF",
  });
}

/** The error for a path that is not a regular file: "not found" as an entry. */
function notAFile(path: string): Error {
  return Object.assign(
    new Error(`Cannot open ${path} for reading: not a regular file`),
    { code: "ENOENT" },
  );
}
