/**
 * The file-system operations {@linkcode FsStore} needs, as a small interface
 * with one implementation per runtime, so the store itself imports neither
 * `node:fs` nor `Deno`.
 *
 * @module
 */

/**
 * An open file: positioned reads, appending writes.
 *
 * @example Appending, then reading at an offset
 * ```ts
 * import { nodeFileSystem } from "@streamcache/streamcache/fs";
 * import type { FileHandle } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const out: FileHandle = await nodeFileSystem.open(`${dir}/data`, "create");
 * await out.write(new TextEncoder().encode("hello world"));
 * assert.equal(await out.size(), 11);
 * assert.equal((await out.stat()).isFile, true);
 * await out.close();
 * const file: FileHandle = await nodeFileSystem.open(`${dir}/data`, "read");
 * const buffer = new Uint8Array(5);
 * assert.equal(await file.read(buffer, 6), 5);
 * assert.equal(new TextDecoder().decode(buffer), "world");
 * await file.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileHandle {
  /**
   * Reads into `buffer` from byte `position` of the file. Calls may overlap:
   * several readers share one handle, each at its own position.
   *
   * @param buffer Where the bytes go; at most its length is read.
   * @param position The byte of the file to start at.
   * @returns The number of bytes read; 0 only at the end of the file.
   */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /**
   * Optional: reads as `read` does, but synchronously, for a store to use
   * where that is faster (bytes in the operating system's page cache come
   * back in microseconds, without a round trip through a thread pool).
   * Returns `undefined` when it cannot read now without disturbing an
   * asynchronous read in flight; the caller then uses `read`.
   *
   * @param buffer Where the bytes go; at most its length is read.
   * @param position The byte of the file to start at.
   * @returns The number of bytes read (0 only at the end of the file), or `undefined`.
   */
  readSync?(buffer: Uint8Array, position: number): number | undefined;
  /**
   * Appends all of `data` after what was written before.
   *
   * @param data The bytes to write.
   */
  write(data: Uint8Array): Promise<void>;
  /** Flushes the file's data and size to the disk (fsync). */
  sync(): Promise<void>;
  /**
   * Tells the file's current size.
   *
   * @returns The size in bytes.
   */
  size(): Promise<number>;
  /**
   * Describes the open file (fstat): what {@linkcode FileSystem.stat} tells
   * of a path, for the very file this handle has open.
   *
   * @returns Its kind, size and modification time.
   */
  stat(): Promise<FileInfo>;
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * An incremental SHA-256.
 *
 * @example Hashing in pieces
 * ```ts
 * import { nodeFileSystem } from "@streamcache/streamcache/fs";
 * import type { Hasher } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const hasher: Hasher = nodeFileSystem.createHash();
 * hasher.update(new TextEncoder().encode("hello "));
 * hasher.update(new TextEncoder().encode("world"));
 * const whole = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("hello world"));
 * assert.equal(hasher.digest(), btoa(String.fromCharCode(...new Uint8Array(whole))));
 * ```
 */
export interface Hasher {
  /**
   * Adds bytes to the hash.
   *
   * @param data The next bytes.
   */
  update(data: Uint8Array): void;
  /**
   * Finishes the hash.
   *
   * @returns The digest, base64-encoded.
   */
  digest(): string;
}

/**
 * What {@linkcode FileSystem.stat} tells about a path.
 *
 * @example Telling a file from a directory
 * ```ts
 * import { nodeFileSystem } from "@streamcache/streamcache/fs";
 * import type { FileInfo } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "abc");
 * const file: FileInfo = await nodeFileSystem.stat(`${dir}/a.txt`);
 * const folder: FileInfo = await nodeFileSystem.stat(dir);
 * assert.deepEqual([file.isFile, file.isDirectory, file.size], [true, false, 3]);
 * assert.deepEqual([folder.isFile, folder.isDirectory], [false, true]);
 * assert.ok(Math.abs(file.mtime - Date.now()) < 60_000);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileInfo {
  /** Whether it is a regular file (not a directory, link, FIFO or device). */
  readonly isFile: boolean;
  /** Whether it is a directory. */
  readonly isDirectory: boolean;
  /** Its size in bytes. */
  readonly size: number;
  /** When it was last modified, in milliseconds since the epoch. */
  readonly mtime: number;
  /**
   * Its inode number, where the platform has one: together with the size it
   * tells a file from another put at the same path since.
   */
  readonly ino?: number;
}

/**
 * What {@linkcode FsStore} asks of a file system. Paths are joined with `/`.
 * Implement it to put the store on another file system, or to inject faults
 * in tests.
 *
 * @example Injecting a full disk
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore, nodeFileSystem } from "@streamcache/streamcache/fs";
 * import type { FileSystem } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const full: FileSystem = {
 *   ...nodeFileSystem,
 *   async open(path, mode) {
 *     const file = await nodeFileSystem.open(path, mode);
 *     const write = () => Promise.reject(Object.assign(new Error("ENOSPC"), { code: "ENOSPC" }));
 *     return { ...file, read: file.read.bind(file), write };
 *   },
 * };
 * const dir = await Deno.makeTempDir();
 * const cache = new StreamCache({ store: new FsStore({ dir, fs: full }) });
 * const entry = await cache.getOrCreate("big.zip", () => new Uint8Array(10));
 * await assert.rejects(entry.done, { code: "ENOSPC" }); // the entry failed
 * assert.equal(await cache.has("big.zip"), false); // and nothing is kept
 * await cache.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileSystem {
  /**
   * Creates a directory and any missing parents; succeeds if it exists.
   *
   * @param path The directory.
   */
  mkdir(path: string): Promise<void>;
  /**
   * Opens a file: `read` an existing one, or `create` a new one for writing,
   * failing if it exists. `read` opens regular files only, and never blocks:
   * a directory, FIFO, device or symbolic link at `path` is rejected with an
   * error for which {@linkcode FileSystem.isNotFound} is true.
   *
   * @param path The file.
   * @param mode `read` or `create`.
   * @returns The open file.
   */
  open(path: string, mode: "read" | "create"): Promise<FileHandle>;
  /**
   * Renames `from` to `to` in one atomic step, replacing `to` if it exists.
   *
   * @param from The current path.
   * @param to The new path.
   */
  rename(from: string, to: string): Promise<void>;
  /**
   * Removes a file, or a directory and all it holds.
   *
   * @param path The file or directory.
   */
  remove(path: string): Promise<void>;
  /**
   * Describes a path, without following a symbolic link at it.
   *
   * @param path The file or directory.
   * @returns What it is, its size and its modification time.
   */
  stat(path: string): Promise<FileInfo>;
  /**
   * Sets a path's access and modification times.
   *
   * @param path The file or directory.
   * @param time The time to set, in milliseconds since the epoch.
   */
  touch(path: string, time: number): Promise<void>;
  /**
   * Lists a directory.
   *
   * @param path The directory.
   * @returns The names of its entries.
   */
  readDir(path: string): Promise<string[]>;
  /**
   * Flushes a directory's entries to the disk, so a rename in it survives a
   * crash. May do nothing where the platform cannot.
   *
   * @param path The directory.
   */
  syncDir(path: string): Promise<void>;
  /**
   * Tells whether an error means the file or directory does not exist.
   *
   * @param error An error thrown by another method.
   * @returns Whether it is a "not found" error.
   */
  isNotFound(error: unknown): boolean;
  /** This process's id: it names the store's directory of files in progress. */
  readonly pid: number;
  /**
   * Where `pid` names one process: an opaque id of this kernel boot and PID
   * namespace, so that two containers that share a volume (both PID 1, say)
   * never judge each other's processes by number. `undefined` where it cannot
   * be told; the store then relies on its owner leases alone.
   *
   * @returns The id, or `undefined`.
   */
  processScope(): Promise<string | undefined>;
  /**
   * Tells whether a process of this machine is running, to find the files
   * in progress of a process that crashed.
   *
   * @param pid A process id.
   * @returns Whether it runs.
   */
  isProcessAlive(pid: number): boolean;
  /**
   * Starts a SHA-256 hash.
   *
   * @returns An incremental hasher.
   */
  createHash(): Hasher;
  /**
   * Optional, for `FsStore`'s `shared` mode: makes `path` a second name of
   * the file `existing` (a hard link), in one atomic step that fails if
   * `path` exists, so that exactly one of several processes creates it.
   *
   * @param existing The file to link to.
   * @param path The new name.
   * @returns `true` if `path` was made, `false` if it existed already.
   */
  link?(existing: string, path: string): Promise<boolean>;
  /**
   * Optional, for `FsStore`'s `shared` mode: calls `onChange` whenever a
   * file in the directory `path` (or the file `path`) changes, is created,
   * renamed or removed, by any process (`fs.watch`, `Deno.watchFs`). It may
   * call it more often than that, never less. A path that cannot be watched
   * is not an error: `onChange` is then never called.
   *
   * @param path The directory or file.
   * @param onChange Called on each change.
   * @returns A function that stops watching.
   */
  watch?(path: string, onChange: () => void): () => void;
}
