/**
 * A store that keeps entries on disk, survives restarts, and never serves a
 * partial entry.
 *
 * @module
 */

import { describeValue, freezeMeta } from "../_validate.ts";
import { EntryNotFoundError } from "../errors.ts";
import type {
  EntryMeta,
  Store,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { denoFileSystem } from "./deno_file_system.ts";
import type { FileHandle, FileSystem } from "./file_system.ts";
import { nodeFileSystem } from "./node_file_system.ts";
import { ENTRY_NAME, Layout } from "./_layout.ts";
import { Owner } from "./_owner.ts";
import { readFully } from "./_read_fully.ts";
import { scanEntries, type Verify } from "./_recovery.ts";
import {
  encodeTrailer,
  readTrailer,
  readTrailerId,
  type Trailer,
} from "./_trailer.ts";

/**
 * Options for {@linkcode FsStore}.
 *
 * @example Checking every byte at start-up
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore, nodeFileSystem } from "@streamcache/streamcache/fs";
 * import type { FsStoreOptions } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const options: FsStoreOptions = { dir, fs: nodeFileSystem, verify: "checksum" };
 * for (const run of [1, 2]) { // two starts over the same directory
 *   await using cache = new StreamCache({ store: new FsStore(options) });
 *   const entry = await cache.getOrCreate("k", () => new TextEncoder().encode(`run ${run}`));
 *   assert.equal(await new Response(entry.readable()).text(), "run 1");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FsStoreOptions {
  /** The cache directory; created if missing. Files the store does not own there are left alone. */
  dir: string;
  /**
   * The file system to use.
   *
   * @default {denoFileSystem on Deno, nodeFileSystem elsewhere}
   */
  fs?: FileSystem;
  /**
   * How the start-up scan checks committed entries: `size` compares each
   * file's length with its record; `checksum` also reads every byte and
   * compares its SHA-256. Entries that fail are removed, never served.
   *
   * @default {"size"}
   */
  verify?: "size" | "checksum";
}

/** One entry's file, open for reading, and how many readers share it. */
interface SharedFile {
  readonly file: FileHandle;
  readers: number;
  /** Set when its last reader closed it: a reader that arrives then opens anew. */
  closed: boolean;
}

/**
 * Where an id's bytes are, and how many there are: in progress or removed
 * (under `tmp/`), or committed under a key. Updated in place, so open readers
 * see the size grow.
 */
interface Location {
  path: string;
  committed: boolean;
  size: number;
  /** The writer's file, open until commit or release. */
  file?: FileHandle | undefined;
}

/**
 * Keeps entries in a directory, one file per entry, and reloads them after a
 * restart (SEMANTICS 13-15):
 *
 * - An entry is written under `tmp/<owner>/` and committed by fsync and one
 *   atomic rename to `entries/<sha256(key)>`; its record (key, metadata, size,
 *   SHA-256, creation time) is stored after its bytes in the same file. A
 *   crash at any moment leaves either the whole entry or none of it, and a
 *   commit that fails after its rename is undone, so an entry whose writer
 *   was told it failed is never served.
 * - On start-up, entries whose length (or checksum) disagrees with their
 *   record are removed, and so are the unfinished files of stores that are
 *   gone. Each store holds a lease on its `tmp/<owner>/` directory (its
 *   modification time, refreshed every 30 s by a timer that never keeps the
 *   process alive); a directory is swept when its lease is 10 minutes stale,
 *   or at once when its PID names no process in the same kernel boot and PID
 *   namespace. Containers that share a volume never sweep each other's live
 *   files, even when both run as PID 1.
 * - File names come from a hash of the key, so any string is a valid key
 *   and nothing is created outside the directory; `keys()` returns the
 *   original keys from the records.
 * - Readers read by offset from the file being written, one chunk at a time,
 *   so an entry of any size never sits in memory. A reader that has its file
 *   open reads it to the end whatever happens to the key meanwhile.
 * - Directories an operator deletes while the store runs are made again
 *   when next needed.
 *
 * Several stores, in one process or several, may share a directory: each
 * writes under its own `tmp/<owner>/`, and commits replace each other
 * atomically. A reader opened after another store replaced its entry fails
 * with {@linkcode EntryNotFoundError}, and the cache then looks the key up
 * afresh.
 *
 * @example A cache that survives restarts
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = new StreamCache({ store: new FsStore({ dir }) });
 *   const entry = await cache.getOrCreate("hello", () => new TextEncoder().encode("hello world\n"));
 *   await entry.done;
 * }
 * await using cache = new StreamCache({ store: new FsStore({ dir }) });
 * const { entry, writable } = await cache.open("hello");
 * assert.equal(writable, undefined); // a hit: no writer
 * assert.equal(entry.size, 12);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FsStore implements Store {
  readonly #fs: FileSystem;
  readonly #layout: Layout;
  readonly #verify: Verify;
  readonly #ready: Promise<Owner>;
  readonly #locations = new Map<string, Location>();
  /** The file handle each entry's open readers share. */
  readonly #shared = new Map<string, Promise<SharedFile>>();

  /**
   * Creates a store over `dir`. The directory is prepared and scanned in the
   * background; the first operation waits for that.
   *
   * @param options The directory and how to check it.
   */
  constructor(options: FsStoreOptions) {
    const action = "create FsStore";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${action}: options must be an object: received ${
          describeValue(options)
        }`,
      );
    }
    if (typeof options.dir !== "string" || options.dir === "") {
      throw new TypeError(
        `Cannot ${action}: dir must be a non-empty string: received ${
          describeValue(options.dir)
        }`,
      );
    }
    const { verify = "size" } = options;
    if (verify !== "size" && verify !== "checksum") {
      throw new TypeError(
        `Cannot ${action}: verify must be "size" or "checksum": received ${
          JSON.stringify(verify)
        }`,
      );
    }
    this.#fs = options.fs ??
      ("Deno" in globalThis ? denoFileSystem : nodeFileSystem);
    this.#layout = new Layout(options.dir);
    this.#verify = verify;
    this.#ready = this.#start();
    this.#ready.catch(() => {}); // reported by the first operation
  }

  /**
   * Starts a new entry under `tmp/`; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata: a JSON object.
   * @returns A writer that commits by an atomic rename.
   */
  async create(key: string, meta: EntryMeta | undefined): Promise<StoreWriter> {
    // The record is stored as JSON: what does not survive that is refused
    // now, not found unreadable after a restart (SEMANTICS 18).
    freezeMeta(meta, "create entry in FsStore");
    const owner = await this.#ready;
    const id = crypto.randomUUID();
    const path = `${owner.path}/${id}`;
    const file = await this.#again(
      () => this.#fs.open(path, "create"),
      () => owner.ensure(),
    );
    const location: Location = { path, committed: false, size: 0, file };
    this.#locations.set(id, location);
    const hasher = this.#fs.createHash();
    const created = Date.now();
    return {
      id,
      write: async (chunk) => {
        // Hash while the write runs: both only read the chunk, and hashing
        // after the write would put the two in series on the writer's path.
        const writing = file.write(chunk);
        hasher.update(chunk);
        await writing;
        location.size += chunk.byteLength;
      },
      commit: async () => {
        const { size } = location;
        const trailer: Trailer = {
          key,
          id,
          meta,
          size,
          created,
          checksum: hasher.digest(),
        };
        const target = await this.#layout.entry(key);
        try {
          await file.write(encodeTrailer(trailer));
          await file.sync();
        } finally {
          location.file = undefined;
          await file.close();
        }
        await this.#again(
          () => this.#fs.rename(path, target),
          () => this.#fs.mkdir(this.#layout.entries),
        );
        Object.assign(location, { path: target, committed: true });
        try {
          await this.#fs.syncDir(this.#layout.entries);
        } catch (error) {
          await this.#uncommit(id, location, path);
          throw error;
        }
        return toRecord(trailer);
      },
    };
  }

  /**
   * Reads the committed entry for `key`; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    await this.#ready;
    const path = await this.#layout.entry(key);
    const trailer = await this.#readEntryTrailer(path);
    if (trailer?.key !== key) return undefined;
    this.#locations.set(trailer.id, {
      path,
      committed: true,
      size: trailer.size,
    });
    return toRecord(trailer);
  }

  /**
   * Opens entry `id`'s file for positioned reads; see {@linkcode Store.openReader}.
   * The readers of one entry share one file handle, so a thousand readers of
   * a popular download cost one file descriptor.
   *
   * @param id The entry's storage identity.
   * @returns A reader that allocates one chunk per read.
   * @throws {EntryNotFoundError} If the entry is unknown, released, or replaced by another store's commit.
   */
  async openReader(id: string): Promise<StoreReader> {
    await this.#ready;
    for (;;) {
      const location = this.#locations.get(id);
      if (!location) throw this.#gone(id);
      let opening = this.#shared.get(id);
      if (!opening) {
        opening = this.#openShared(id, location);
        this.#shared.set(id, opening);
        const unlist = () => {
          if (this.#shared.get(id) === opening) this.#shared.delete(id);
        };
        opening.catch(unlist);
      }
      const shared = await opening;
      if (shared.closed) continue; // its last reader closed it meanwhile
      shared.readers++;
      return this.#reader(id, location, shared, opening);
    }
  }

  /** Opens `id`'s file for its readers, checking that it still holds `id`. */
  async #openShared(id: string, location: Location): Promise<SharedFile> {
    let file: FileHandle;
    try {
      file = await this.#fs.open(location.path, "read");
    } catch (error) {
      throw this.#fs.isNotFound(error) ? this.#gone(id) : error;
    }
    try {
      // A committed file may since have been replaced by another store's
      // commit: its last bytes tell whose it is.
      if (location.committed && (await readTrailerId(file)) !== id) {
        throw this.#gone(id);
      }
    } catch (error) {
      await file.close();
      throw error;
    }
    return { file, readers: 0, closed: false };
  }

  #reader(
    id: string,
    location: Location,
    shared: SharedFile,
    opening: Promise<SharedFile>,
  ): StoreReader {
    let closed = false;
    return {
      async read(offset, length) {
        // The file may hold more than the entry's bytes: its record, once committed.
        length = Math.max(0, Math.min(length, location.size - offset));
        const buffer = new Uint8Array(length);
        const done = await readFully(shared.file, buffer, offset);
        return done === length ? buffer : buffer.subarray(0, done);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (--shared.readers > 0 || shared.closed) return;
        shared.closed = true;
        if (this.#shared.get(id) === opening) this.#shared.delete(id);
        await shared.file.close();
      },
    };
  }

  #gone(id: string): EntryNotFoundError {
    return new EntryNotFoundError(
      `Cannot open reader: entry ${id} is not in ${this.#layout.dir}`,
    );
  }

  /**
   * Moves `key`'s file out of `entries/` if it holds entry `id`; see
   * {@linkcode Store.remove}. Its bytes stay readable until `release(id)`.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    const owner = await this.#ready;
    const path = await this.#layout.entry(key);
    if ((await this.#readEntryId(path)) !== id) return;
    const removed = `${owner.path}/${id}.removed`;
    try {
      await this.#again(
        () => this.#fs.rename(path, removed),
        () => owner.ensure(),
      );
    } catch (error) {
      if (this.#fs.isNotFound(error)) return; // removed meanwhile
      throw error;
    }
    const location = this.#locations.get(id);
    if (location) Object.assign(location, { path: removed, committed: false });
  }

  /**
   * Deletes entry `id`'s file if it is unfinished or removed; see
   * {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    await this.#ready;
    const location = this.#locations.get(id);
    this.#locations.delete(id);
    if (!location) return;
    const { file } = location;
    location.file = undefined;
    await file?.close(); // an entry that failed while written
    // A committed path now belongs to whichever entry replaced this one.
    if (!location.committed) await this.#removeIfPresent(location.path);
  }

  /**
   * Lists the keys of committed entries, from their records; see {@linkcode Store.keys}.
   *
   * @returns The original keys.
   */
  async *keys(): AsyncGenerator<string> {
    await this.#ready;
    let names: string[];
    try {
      names = await this.#fs.readDir(this.#layout.entries);
    } catch (error) {
      if (this.#fs.isNotFound(error)) return; // an operator emptied the directory
      throw error;
    }
    for (const name of names) {
      if (!ENTRY_NAME.test(name)) continue;
      let trailer: Trailer | undefined;
      try {
        trailer = await this.#readEntryTrailer(
          `${this.#layout.entries}/${name}`,
        );
      } catch {
        continue; // unreadable: not an entry this store can serve
      }
      if (trailer) yield trailer.key;
    }
  }

  /** Deletes this store's unfinished and removed files; committed entries stay. */
  async close(): Promise<void> {
    const owner = await this.#ready.catch(() => undefined);
    const writers = [...this.#locations.values()].map((location) =>
      location.file
    );
    const readers = [...this.#shared.values()];
    this.#locations.clear();
    this.#shared.clear();
    await Promise.allSettled([
      ...writers.map((file) => file?.close()),
      ...readers.map(async (opening) => {
        const shared = await opening;
        shared.closed = true;
        await shared.file.close();
      }),
    ]);
    await owner?.close();
  }

  async #start(): Promise<Owner> {
    await this.#fs.mkdir(this.#layout.entries);
    await this.#fs.mkdir(this.#layout.tmp);
    const owner = await Owner.start(this.#fs, this.#layout);
    try {
      await scanEntries(this.#fs, this.#layout, this.#verify);
    } catch (error) {
      await owner.close();
      throw error;
    }
    return owner;
  }

  /**
   * Runs `task`; if it fails because a directory is missing (an operator
   * deleted it while the store ran), runs `repair` and `task` once more.
   */
  async #again<T>(
    task: () => Promise<T>,
    repair: () => Promise<void>,
  ): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (!this.#fs.isNotFound(error)) throw error;
      await repair();
      return await task();
    }
  }

  /**
   * Undoes a commit whose rename was made but whose completion failed: the
   * file goes back to `tmp/`, if the key still names it, so the entry is gone
   * for everyone, as its writer and readers are told (SEMANTICS 5, 14).
   */
  async #uncommit(id: string, location: Location, path: string): Promise<void> {
    const target = location.path;
    Object.assign(location, { path, committed: false });
    if ((await this.#readEntryId(target).catch(() => undefined)) !== id) return;
    await this.#fs.rename(target, path).catch(() => {
      // Left committed: the disk refuses both. Nothing more can be done here.
      Object.assign(location, { path: target, committed: true });
    });
  }

  async #readEntryTrailer(path: string): Promise<Trailer | undefined> {
    return await this.#withEntryFile(path, readTrailer);
  }

  async #readEntryId(path: string): Promise<string | undefined> {
    return await this.#withEntryFile(path, readTrailerId);
  }

  async #withEntryFile<T>(
    path: string,
    read: (file: FileHandle) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    let file: FileHandle;
    try {
      file = await this.#fs.open(path, "read");
    } catch (error) {
      if (this.#fs.isNotFound(error)) return undefined;
      throw error;
    }
    try {
      return await read(file);
    } finally {
      await file.close();
    }
  }

  async #removeIfPresent(path: string): Promise<void> {
    try {
      await this.#fs.remove(path);
    } catch (error) {
      if (!this.#fs.isNotFound(error)) throw error;
    }
  }
}

function toRecord({ key, id, meta, size, created }: Trailer): StoreRecord {
  return { key, id, meta, size, created };
}
