/**
 * A store that keeps entries on disk, survives restarts, and never serves a
 * partial entry.
 *
 * @module
 */

import { checkKey, describeValue } from "../_validate.ts";
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
import { encodeTrailer, readTrailer, type Trailer } from "./_trailer.ts";

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

const ENTRY_NAME = /^[0-9a-f]{64}$/;
const OWNER_NAME = /^(\d+)-[0-9a-f]{8}$/;
/** Owner directories of stores open in this process, which no scan may sweep. */
const openOwners = new Set<string>();

/**
 * Keeps entries in a directory, one file per entry, and reloads them after a
 * restart (SEMANTICS 13-15):
 *
 * - An entry is written under `tmp/<owner>/` and committed by fsync and one
 *   atomic rename to `entries/<sha256(key)>`; its record (key, metadata, size,
 *   SHA-256, creation time) is stored after its bytes in the same file. A
 *   crash at any moment leaves either the whole entry or none of it.
 * - On start-up, entries whose length (or checksum) disagrees with their
 *   record, and the unfinished files of processes that are gone, are removed.
 * - File names come from a hash of the key, so any string is a valid key
 *   and nothing is created outside the directory; `keys()` returns the
 *   original keys from the records.
 * - Readers read by offset from the file being written, one chunk at a time,
 *   so an entry of any size never sits in memory.
 *
 * Several stores, in one process or several, may share a directory: each
 * writes under its own `tmp/<owner>/`, and commits replace each other
 * atomically.
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
  readonly #dir: string;
  readonly #verify: "size" | "checksum";
  readonly #owner: string;
  readonly #ready: Promise<void>;
  readonly #locations = new Map<string, Location>();

  /**
   * Creates a store over `dir`. The directory is prepared and scanned in the
   * background; the first operation waits for that.
   *
   * @param options The directory and how to check it.
   */
  constructor(options: FsStoreOptions) {
    const action = "create FsStore";
    if (typeof options?.dir !== "string" || options.dir === "") {
      throw new TypeError(
        `Cannot ${action}: dir must be a non-empty string: received ${
          describeValue(options?.dir)
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
    this.#dir = options.dir.replace(/\/+$/, "") || "/";
    this.#verify = verify;
    const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)
      .padStart(8, "0");
    this.#owner = `${this.#fs.pid}-${random}`;
    openOwners.add(this.#owner);
    this.#ready = this.#start();
    this.#ready.catch(() => {}); // reported by the first operation
  }

  /**
   * Starts a new entry under `tmp/`; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @returns A writer that commits by an atomic rename.
   */
  async create(key: string, meta: EntryMeta | undefined): Promise<StoreWriter> {
    await this.#ready;
    const id = crypto.randomUUID();
    const path = `${this.#ownerDir}/${id}`;
    const file = await this.#fs.open(path, "create");
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
        const target = `${this.#dir}/entries/${await hashKey(key)}`;
        try {
          await file.write(encodeTrailer(trailer));
          await file.sync();
        } finally {
          location.file = undefined;
          await file.close();
        }
        await this.#fs.rename(path, target);
        Object.assign(location, { path: target, committed: true });
        await this.#fs.syncDir(`${this.#dir}/entries`);
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
    const path = `${this.#dir}/entries/${await hashKey(key)}`;
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
   *
   * @param id The entry's storage identity.
   * @returns A reader that allocates one chunk per read.
   */
  async openReader(id: string): Promise<StoreReader> {
    await this.#ready;
    const location = this.#locations.get(id);
    const gone = () =>
      new EntryNotFoundError(
        `Cannot open reader: entry ${id} is not in ${this.#dir}`,
      );
    if (!location) throw gone();
    let file: FileHandle;
    try {
      file = await this.#fs.open(location.path, "read");
    } catch (error) {
      throw this.#fs.isNotFound(error) ? gone() : error;
    }
    // A committed file may since have been replaced by another store's commit.
    if (location.committed && (await readTrailer(file))?.id !== id) {
      await file.close();
      throw gone();
    }
    return {
      async read(offset, length) {
        // The file may hold more than the entry's bytes: its record, once committed.
        length = Math.max(0, Math.min(length, location.size - offset));
        const buffer = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const count = await file.read(buffer.subarray(done), offset + done);
          if (count === 0) break;
          done += count;
        }
        return done === length ? buffer : buffer.subarray(0, done);
      },
      close: () => file.close(),
    };
  }

  /**
   * Moves `key`'s file out of `entries/` if it holds entry `id`; see
   * {@linkcode Store.remove}. Its bytes stay readable until `release(id)`.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    await this.#ready;
    const path = `${this.#dir}/entries/${await hashKey(key)}`;
    if ((await this.#readEntryTrailer(path))?.id !== id) return;
    const removed = `${this.#ownerDir}/${id}.removed`;
    try {
      await this.#fs.rename(path, removed);
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
    for (const name of await this.#fs.readDir(`${this.#dir}/entries`)) {
      if (!ENTRY_NAME.test(name)) continue;
      let trailer: Trailer | undefined;
      try {
        trailer = await this.#readEntryTrailer(`${this.#dir}/entries/${name}`);
      } catch {
        continue; // unreadable: not an entry this store can serve
      }
      if (trailer) yield trailer.key;
    }
  }

  /** Deletes this store's unfinished and removed files; committed entries stay. */
  async close(): Promise<void> {
    await this.#ready.catch(() => {});
    openOwners.delete(this.#owner);
    const writers = [...this.#locations.values()].map((location) =>
      location.file
    );
    this.#locations.clear();
    await Promise.allSettled(writers.map((file) => file?.close()));
    await this.#removeIfPresent(this.#ownerDir);
  }

  get #ownerDir(): string {
    return `${this.#dir}/tmp/${this.#owner}`;
  }

  async #start(): Promise<void> {
    for (const sub of ["entries", "tmp"]) {
      await this.#fs.mkdir(`${this.#dir}/${sub}`);
    }
    await this.#sweepOwners();
    await this.#fs.mkdir(this.#ownerDir);
    for (const name of await this.#fs.readDir(`${this.#dir}/entries`)) {
      if (!ENTRY_NAME.test(name)) continue; // not ours
      const path = `${this.#dir}/entries/${name}`;
      try {
        if (!(await this.#isWhole(path, name))) {
          await this.#removeIfPresent(path);
        }
      } catch {
        // One unreadable file must not stop the reload; it is never served
        // either, since lookup checks every file it opens.
      }
    }
  }

  /** Removes the `tmp/` directories of stores whose process is gone (a crash). */
  async #sweepOwners(): Promise<void> {
    for (const name of await this.#fs.readDir(`${this.#dir}/tmp`)) {
      const pid = Number(OWNER_NAME.exec(name)?.[1]);
      if (!pid || openOwners.has(name)) continue;
      if (pid !== this.#fs.pid && this.#fs.isProcessAlive(pid)) continue;
      try {
        await this.#removeIfPresent(`${this.#dir}/tmp/${name}`);
      } catch {
        // Retried at the next start.
      }
    }
  }

  async #isWhole(path: string, name: string): Promise<boolean> {
    const file = await this.#fs.open(path, "read");
    try {
      const trailer = await readTrailer(file);
      if (!trailer || (await hashKey(trailer.key)) !== name) return false;
      if (this.#verify === "size") return true;
      const hasher = this.#fs.createHash();
      const buffer = new Uint8Array(64 * 1024);
      for (let at = 0; at < trailer.size;) {
        const count = await file.read(
          buffer.subarray(0, Math.min(buffer.byteLength, trailer.size - at)),
          at,
        );
        if (count === 0) return false;
        hasher.update(buffer.subarray(0, count));
        at += count;
      }
      return hasher.digest() === trailer.checksum;
    } finally {
      await file.close();
    }
  }

  async #readEntryTrailer(path: string): Promise<Trailer | undefined> {
    let file: FileHandle;
    try {
      file = await this.#fs.open(path, "read");
    } catch (error) {
      if (this.#fs.isNotFound(error)) return undefined;
      throw error;
    }
    try {
      return await readTrailer(file);
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

/** The file name of a key: SHA-256 hex, so any string maps inside the directory. */
async function hashKey(key: string): Promise<string> {
  checkKey(key, "hash key");
  const digest = await crypto.subtle.digest(
    "SHA-256",
    // JSON keeps every string distinct: TextEncoder alone would turn each
    // lone surrogate into U+FFFD, and "\ud800" and "\ufffd" would collide.
    new TextEncoder().encode(JSON.stringify(key)),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}
