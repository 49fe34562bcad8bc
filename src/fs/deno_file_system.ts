/**
 * {@linkcode FileSystem} on Deno's own file APIs.
 *
 * @module
 */

import {
  deno,
  type DenoFile,
  type DenoFileInfo,
  type DenoWatcher,
  SEEK_START,
} from "./_deno_api.ts";
import { isProcessAlive, SCOPE_PATHS, sha256 } from "./_host.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";

/**
 * Deno's file system, through the `Deno` namespace (hashing and process
 * liveness through Deno's `node:crypto` and `node:process`). Needs
 * `--allow-read` and `--allow-write` for the cache directory. It never asks
 * for more: without `--allow-run` (to ask whether a process is alive) and
 * read access to `/proc/sys/kernel/random/boot_id` and `/proc/self/ns/pid`
 * (to know which processes a PID can name), the unfinished files of a crashed
 * process are reclaimed once its owner lease is stale, instead of at once.
 * They are never served either way.
 *
 * @example Choosing the Deno adapter explicitly
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { denoFileSystem, FsStore } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const cache = new StreamCache({ store: new FsStore({ dir, fs: denoFileSystem }) });
 * const entry = await cache.getOrCreate("k", () => new TextEncoder().encode("on disk"));
 * assert.equal(await entry.done, 7);
 * await cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export const denoFileSystem: FileSystem = {
  async mkdir(path) {
    await deno().mkdir(path, { recursive: true });
  },
  async open(path, mode) {
    if (mode === "create") {
      return wrap(await deno().open(path, { write: true, createNew: true }));
    }
    // Deno.open has no O_NONBLOCK: look first, so a FIFO never blocks the open.
    if (!(await deno().lstat(path)).isFile) throw notAFile(path);
    return wrap(await deno().open(path, { read: true }));
  },
  rename: (from, to) => deno().rename(from, to),
  remove: (path) => deno().remove(path, { recursive: true }),
  stat: async (path) => toFileInfo(await deno().lstat(path)),
  async touch(path, time) {
    await deno().utime(path, new Date(time), new Date(time));
  },
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
  async processScope() {
    // Reading without the permission would prompt on a terminal: ask first.
    const { permissions } = deno();
    const readable = Object.values(SCOPE_PATHS).every((path) =>
      permissions.querySync({ name: "read", path }).state === "granted"
    );
    if (!readable) return undefined;
    try {
      const boot = (await deno().readTextFile(SCOPE_PATHS.boot)).trim();
      const namespace = await deno().readLink(SCOPE_PATHS.pidNamespace);
      return boot && namespace ? `${boot} ${namespace}` : undefined;
    } catch {
      return undefined;
    }
  },
  isProcessAlive(pid) {
    // Without --allow-run, asking would prompt on a terminal: answer "alive",
    // which only leaves the decision to the owner's lease.
    const run = deno().permissions.querySync({ name: "run" }).state;
    return run !== "granted" || isProcessAlive(pid);
  },
  createHash: sha256,
  async link(existing, path) {
    try {
      await deno().link(existing, path);
      return true;
    } catch (error) {
      if (error instanceof deno().errors.AlreadyExists) return false;
      throw error;
    }
  },
  watch(path, onChange) {
    let watcher: DenoWatcher;
    try {
      watcher = deno().watchFs(path, { recursive: false });
    } catch {
      return () => {}; // missing, or no watches left: see FileSystem.watch
    }
    (async () => {
      try {
        for await (const _ of watcher) onChange();
      } catch {
        // Closed, or the directory went: nothing more to see.
      }
    })();
    return () => {
      try {
        watcher.close();
      } catch {
        // closed already
      }
    };
  },
};

function toFileInfo(info: DenoFileInfo): FileInfo {
  const { isFile, isDirectory, size, mtime, ino } = info;
  const time = mtime?.getTime() ?? 0;
  return ino === null
    ? { isFile, isDirectory, size, mtime: time }
    : { isFile, isDirectory, size, mtime: time, ino };
}

/** The error for a path that is not a regular file: "not found" as an entry. */
function notAFile(path: string): Error {
  return new (deno().errors.NotFound)(
    `Cannot open ${path} for reading: not a regular file`,
  );
}

function wrap(file: DenoFile): FileHandle {
  let closed = false;
  let cursor = 0; // where the file's own position is, after the last read
  let reading: Promise<unknown> = Promise.resolve();
  let turns = 0; // asynchronous reads queued or running
  return {
    read(buffer, position) {
      // Deno has no positioned read: a seek and a read make one, so the
      // readers that share this handle take turns.
      turns++;
      const turn = reading.then(async () => {
        try {
          // Sequential reads, the common case, need no seek.
          if (position !== cursor) await file.seek(position, SEEK_START);
          const count = (await file.read(buffer)) ?? 0;
          cursor = position + count;
          return count;
        } finally {
          turns--;
        }
      });
      reading = turn.catch(() => {
        cursor = -1; // where the file's position is after a failure is unknown
      });
      return turn;
    },
    readSync(buffer, position) {
      // A seek and a read in one synchronous step need no turn, but must
      // not move the position under an asynchronous turn.
      if (turns > 0) return undefined;
      try {
        if (position !== cursor) file.seekSync(position, SEEK_START);
        const count = file.readSync(buffer) ?? 0;
        cursor = position + count;
        return count;
      } catch (error) {
        cursor = -1;
        throw error;
      }
    },
    async write(data) {
      for (let done = 0; done < data.byteLength;) {
        done += await file.write(data.subarray(done));
      }
    },
    sync: () => file.sync(),
    size: async () => (await file.stat()).size,
    stat: async () => toFileInfo(await file.stat()),
    async close() {
      if (closed) return;
      closed = true;
      await reading; // the reads in flight, which share the file
      file.close();
    },
  };
}
