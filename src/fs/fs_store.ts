/**
 * A store that keeps entries on disk, survives restarts, and never serves a
 * partial entry.
 *
 * @module
 */

import { allocate, shrink } from "../_allocate.ts";
import { KeyTurns } from "../_key_turns.ts";
import { describeValue, freezeMeta } from "../_validate.ts";
import { CacheClosedError, EntryNotFoundError } from "../errors.ts";
import {
  ProducerLostError,
  type StoreClaim,
  type StoreProgress,
} from "../shared_store.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { denoFileSystem } from "./deno_file_system.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";
import { nodeFileSystem } from "./node_file_system.ts";
import { AccessTimes, type Stamped } from "./_access_times.ts";
import {
  Claims,
  type ClaimTarget,
  type HeldClaim,
  writeSmall,
} from "./_claims.ts";
import { claimedPaths, followClaimed } from "./_follow.ts";
import { mapInParallel } from "./_in_parallel.ts";
import { ENTRY_NAME, hashKey, Layout } from "./_layout.ts";
import { checkCreateOptions } from "../_record_lifetime.ts";
import { Owner } from "./_owner.ts";
import { readFullyFast, type ReadMode } from "./_read_fully.ts";
import { type IndexedRecord, RecordIndex } from "./_record_index.ts";
import { Recovery } from "./_recovery.ts";
import { WatchHub } from "./_watch_hub.ts";
import {
  encodeTrailer,
  readTrailer,
  readTrailerId,
  type Trailer,
} from "./_trailer.ts";

/** Entry files a listing (`keys()`, `records()`) reads at once. */
const LIST_PARALLEL = 16;
/**
 * The record index is written again while the store runs once this many of
 * its entries changed (or a tenth of them, if more), so a crash costs a
 * restart at most that many file reads.
 */
const INDEX_SAVE_CHANGES = 1000;
/** The default of {@linkcode FsStoreOptions.accessResolution}: one minute. */
const ACCESS_RESOLUTION = 60_000;

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
   * The scan runs in the background and never delays serving: with `size`,
   * every lookup and listing checks the file it reads as the scan would;
   * with `checksum`, a lookup or listing of an entry that was on disk at
   * start-up waits until that entry's bytes are verified.
   *
   * @default {"size"}
   */
  verify?: "size" | "checksum";
  /**
   * The resolution of the access times kept on disk, in milliseconds: an
   * entry's access time is written (to its file's modification time) when
   * `touch` moves it on by at least this much since the time last written,
   * so a popular entry costs at most one write per resolution. Later touches
   * are kept in memory, returned by this store's lookups and listings, and
   * written when the store closes; a crash loses at most this much recency.
   * `0` writes every touch that moves the time on.
   *
   * @default {60000}
   */
  accessResolution?: number;
  /**
   * Several processes on one directory (a Node cluster, containers on one
   * volume): with `true` in each, a key missing everywhere is produced by
   * one of them, and the others stream the entry from its file as it is
   * written, woken by file-system notifications. The store then has the
   * optional `claim` and `follow` capabilities (see `shared_store.ts`); a
   * producer that dies is an error for its followers (`ProducerLostError`),
   * and the next request produces afresh. Needs a {@linkcode FileSystem}
   * with `link` and `watch` (both built-in ones have them). Without it,
   * stores on one directory each produce a key they miss (the last commit
   * wins), as before.
   *
   * @default {false}
   */
  shared?: boolean;
  /**
   * With `shared`: how long a producer's claim on a key lasts unless renewed
   * (every third of it, by an unref'd timer). Followers learn that a
   * producer stopped within about this long; one that died in their own
   * kernel boot and PID namespace, within half of it.
   *
   * @default {10000}
   */
  leaseMs?: number;
}

/** One entry's file, open for reading, and how many readers share it. */
interface SharedFile extends ReadMode {
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
interface Location extends Stamped {
  path: string;
  committed: boolean;
  size: number;
  /** The writer's file, open until commit or release. */
  file?: FileHandle | undefined;
  /** Written by another store, under its claim: never this store's to remove. */
  foreign?: boolean;
  /** Where else a followed entry's file may be by now (committing, committed). */
  alternates?: readonly string[] | undefined;
}

/** A claim this store holds, and whether its entry was created. */
interface Producing {
  readonly claim: HeldClaim;
  created: boolean;
}

/**
 * Keeps entries in a directory, one file per entry, and reloads them after a
 * restart (SEMANTICS 13-15):
 *
 * - An entry is written under `tmp/<owner>/` and committed by fsync and one
 *   atomic rename to `entries/<sha256(key)>`; its record (key, metadata, size,
 *   SHA-256, creation time, lifetime) is stored after its bytes in the same
 *   file. A
 *   crash at any moment leaves either the whole entry or none of it, and a
 *   commit that fails after its rename is undone, so an entry whose writer
 *   was told it failed is never served.
 * - After start-up, a background scan removes the entries whose length (or
 *   checksum) disagrees with their record, a few files at a time; it never
 *   delays serving, and no such entry is served before it is reached (see
 *   {@linkcode FsStoreOptions.verify}). At start-up, the unfinished files of
 *   stores that are gone are removed. Each store holds a lease on its
 *   `tmp/<owner>/` directory (its modification time, refreshed every 30 s by
 *   a timer that never keeps the process alive); a directory is swept when
 *   its lease is 10 minutes stale, or at once when its PID names no process
 *   in the same kernel boot and PID namespace. Containers that share a volume
 *   never sweep each other's live files, even when both run as PID 1.
 * - File names come from a hash of the key, so any string is a valid key
 *   and nothing is created outside the directory; `keys()` returns the
 *   original keys from the records.
 * - A record index, `index.json`, written after the start-up scan and on
 *   close, lets `keys()` list 100,000 entries from the directory listing
 *   alone, and `records()` check an unchanged file with one `lstat`. It is a
 *   hint: a file it does not describe (another length or inode) is read.
 * - Access times are the cache's (SEMANTICS 16), kept in each committed
 *   file's modification time, which the store sets itself and never takes
 *   from the operating system's atime; see
 *   {@linkcode FsStoreOptions.accessResolution}. `records()` lists every
 *   entry with its size, times and lifetime, never reading a body.
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
 * afresh. With {@linkcode FsStoreOptions.shared}, they also produce each key
 * once among them: one claims it (a claim file under `claims/`, whose
 * modification time is its lease), the others follow its file as it grows,
 * woken by file-system notifications, and learn of a producer that died from
 * its claim (SEMANTICS 19).
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
 *
 * @example Several processes on one directory: one producer
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * // Each process of a cluster (here, two caches in one) has its own store:
 * const one = new StreamCache({ store: new FsStore({ dir, shared: true }) });
 * const two = new StreamCache({ store: new FsStore({ dir, shared: true }) });
 * let runs = 0;
 * const produce = () => {
 *   runs++;
 *   return new TextEncoder().encode("made once");
 * };
 * const [a, b] = await Promise.all([
 *   one.getOrCreate("report", produce),
 *   two.getOrCreate("report", produce),
 * ]);
 * assert.equal(runs, 1); // the other cache follows the entry's file
 * assert.equal(await new Response(b.readable()).text(), "made once");
 * assert.equal(await a.done, 9);
 * await one.close();
 * await two.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FsStore implements Store {
  readonly #fs: FileSystem;
  readonly #layout: Layout;
  readonly #ready: Promise<Owner>;
  readonly #recovery: Recovery;
  readonly #times: AccessTimes;
  readonly #index: RecordIndex;
  /** The index's write after the start-up scan, for `scanned`. */
  #indexSaved: Promise<void> = Promise.resolve();
  /** The index's writes, one after another (they share a scratch file). */
  #indexSaving: Promise<void> = Promise.resolve();
  #indexSaveQueued = false;
  #owner: Owner | undefined;
  /** Turns per committed path: commits, and the scan's removals. */
  readonly #turns = new KeyTurns();
  readonly #locations = new Map<string, Location>();
  /** The file handle each entry's open readers share. */
  readonly #shared = new Map<string, Promise<SharedFile>>();
  /** With `shared`: the store's claims, made when its directory is ready. */
  #claims: Claims | undefined;
  readonly #leaseMs: number;
  readonly #hub: WatchHub;
  /** Aborted by close(): stops claims waiting for a head, and followers. */
  readonly #closing = new AbortController();
  /** Claims held, by entry id. */
  readonly #producing = new Map<string, Producing>();
  /** Entries of other stores this one follows, by id. */
  readonly #targets = new Map<string, ClaimTarget>();
  /** Failure notes written, by entry id, and the timers that remove them. */
  readonly #notes = new Map<string, Promise<void>>();
  readonly #noteTimers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * With {@linkcode FsStoreOptions.shared}: claims `key` for this store, or
   * names the entry another store on the directory produces; see
   * {@linkcode Store.claim}. Absent otherwise.
   */
  readonly claim?: (key: string) => Promise<StoreClaim>;
  /**
   * With {@linkcode FsStoreOptions.shared}: reports the growth of entry `id`
   * that another store writes, then its record; see {@linkcode Store.follow}.
   * Absent otherwise.
   */
  readonly follow?: (
    id: string,
    signal: AbortSignal,
  ) => AsyncIterable<StoreProgress>;

  /**
   * Creates a store over `dir`. The directory is prepared in the background;
   * the first operation waits for that (a few file operations), never for
   * the scan of committed entries.
   *
   * @param options The directory, how to check it, and the access times' resolution.
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
    const { verify = "size", accessResolution = ACCESS_RESOLUTION } = options;
    if (verify !== "size" && verify !== "checksum") {
      throw new TypeError(
        `Cannot ${action}: verify must be "size" or "checksum": received ${
          JSON.stringify(verify)
        }`,
      );
    }
    if (typeof accessResolution !== "number") {
      throw new TypeError(
        `Cannot ${action}: accessResolution must be a number of milliseconds: received ${
          describeValue(accessResolution)
        }`,
      );
    }
    if (!(accessResolution >= 0)) {
      throw new RangeError(
        `Cannot ${action}: accessResolution must be a non-negative number: received ${accessResolution}`,
      );
    }
    this.#fs = options.fs ??
      ("Deno" in globalThis ? denoFileSystem : nodeFileSystem);
    const { shared = false, leaseMs = 10_000 } = options;
    if (typeof shared !== "boolean") {
      throw new TypeError(
        `Cannot ${action}: shared must be a boolean: received ${
          describeValue(shared)
        }`,
      );
    }
    if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0) {
      throw new RangeError(
        `Cannot ${action}: leaseMs must be a positive integer: received ${
          describeValue(leaseMs)
        }`,
      );
    }
    if (shared && (!this.#fs.link || !this.#fs.watch)) {
      throw new TypeError(
        `Cannot ${action}: shared needs a FileSystem with link and watch`,
      );
    }
    this.#leaseMs = leaseMs;
    this.#hub = new WatchHub(this.#fs);
    if (shared) {
      this.claim = (key) => this.#claim(key);
      this.follow = (id, signal) => this.#follow(id, signal);
    }
    this.#layout = new Layout(options.dir);
    this.#index = new RecordIndex(this.#fs, this.#layout);
    this.#recovery = new Recovery(
      this.#fs,
      this.#layout,
      verify,
      this.#turns,
      this.#index,
    );
    this.#times = new AccessTimes(this.#fs, accessResolution);
    this.#ready = this.#start();
    this.#ready.catch(() => {}); // reported by the first operation
  }

  /**
   * Resolves once the background scan has checked every committed entry that
   * was on disk at start-up, removed those that are not whole, and written
   * the record index (`index.json`, which lets later listings skip reading
   * files). Serving never waits for it; tests and tools that want the space
   * back may.
   * Never rejects.
   *
   * @example Waiting for the start-up scan
   * ```ts
   * import { FsStore } from "@streamcache/streamcache/fs";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.mkdir(`${dir}/entries`);
   * await Deno.writeTextFile(`${dir}/entries/${"0".repeat(64)}`, "not an entry");
   * const store = new FsStore({ dir, verify: "checksum" });
   * await store.scanned; // every entry on disk has been checked
   * assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/entries`)), []);
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  get scanned(): Promise<void> {
    return this.#ready.then(() => this.#indexSaved, () => {});
  }

  /**
   * Starts a new entry under `tmp/`; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata: a JSON object.
   * @param options Its creation time (else now) and lifetime, kept in its record.
   * @returns A writer that commits by an atomic rename.
   * @throws {TypeError} If `meta`, `created` or a lifetime field cannot be kept in a JSON record.
   * @throws {RangeError} If a lifetime field is negative.
   */
  create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions = {},
  ): Promise<StoreWriter> {
    return this.#create(key, meta, options);
  }

  /** Starts an entry; under a claim, with the claim's id, committed only while the claim holds. */
  async #create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions,
    producing?: Producing,
  ): Promise<StoreWriter> {
    const action = "create entry in FsStore";
    // The record is stored as JSON: what does not survive that is refused
    // now, not found unreadable after a restart (SEMANTICS 18).
    freezeMeta(meta, action);
    const { created, lifetime } = checkCreateOptions(options, action);
    const owner = await this.#ready;
    const held = producing?.claim;
    const id = held?.id ?? crypto.randomUUID();
    const path = `${owner.path}/${id}`;
    const file = await this.#again(
      () => this.#fs.open(path, "create"),
      () => owner.ensure(),
    );
    const location: Location = {
      path,
      committed: false,
      size: 0,
      file,
      accessed: created,
      stamped: created,
    };
    this.#locations.set(id, location);
    const hasher = this.#fs.createHash();
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
          ...(lifetime ? { lifetime } : {}),
        };
        const name = await hashKey(key);
        const target = this.#layout.entryPath(name);
        let info: FileInfo;
        let from = path;
        try {
          if (held) {
            // Followers take every byte of tmp/<owner>/<id> for the entry's:
            // the record goes in under another name (src/fs/_follow.ts).
            from = `${path}.commit`;
            await this.#fs.rename(path, from);
            location.path = from;
          }
          await file.write(encodeTrailer(trailer));
          // The access time starts at the creation time, by the cache's
          // clock; the fsync below makes it durable with the bytes.
          await this.#fs.touch(from, created).catch(() => {});
          await file.sync();
          info = await file.stat();
        } finally {
          location.file = undefined;
          await file.close();
        }
        if (held && !(await this.#claims!.holds(held))) {
          throw new ProducerLostError(
            `Cannot commit entry ${id}: this store lost its claim on the key to another process (its lease ran out)`,
          );
        }
        await this.#turns.run(target, async () => {
          await this.#again(
            () => this.#fs.rename(from, target),
            () => this.#fs.mkdir(this.#layout.entries),
          );
          Object.assign(location, { path: target, committed: true });
          try {
            await this.#fs.syncDir(this.#layout.entries);
          } catch (error) {
            await this.#uncommit(id, location, from);
            throw error;
          }
        });
        if (held) {
          // Released before the commit is reported: a caller who misses the
          // key once the cache drops it (evicted, deleted) claims it anew.
          this.#producing.delete(id);
          await this.#claims!.release(held);
        }
        this.#recovery.committed(name);
        this.#index.set(name, trailer, info);
        void this.#saveIndex(true);
        this.#times.note(id, location, created);
        return toRecord(trailer, created);
      },
    };
  }

  /** Claims `key`, or finds the entry another store produces (see FsStoreOptions.shared). */
  async #claim(key: string): Promise<StoreClaim> {
    const owner = await this.#ready;
    if (this.#closing.signal.aborted) throw this.#closed("claim a key");
    const claims = this.#claims!;
    const hash = await hashKey(key);
    const entry = this.#layout.entryPath(hash);
    let found;
    try {
      found = await claims.claim(
        hash,
        // Committed by another store since this cache's lookup missed: an
        // entry this store knows already is one its cache has just dropped
        // (expired, evicted), never to be followed.
        async (id) =>
          !this.#locations.has(id) && (await this.#readEntryId(entry)) === id,
        this.#closing.signal,
      );
    } catch (error) {
      if (this.#closing.signal.aborted) throw this.#closed("claim a key");
      throw error;
    }
    if (found.kind === "found") {
      const { target } = found;
      const paths = claimedPaths(this.#layout, target.owner, target.id);
      if (!this.#locations.has(target.id)) {
        this.#locations.set(target.id, {
          path: paths.data,
          committed: false,
          size: 0,
          accessed: 0,
          stamped: 0,
          foreign: true,
          alternates: [paths.committing, entry],
        });
      }
      this.#targets.set(target.id, target);
      return {
        kind: "follow",
        id: target.id,
        meta: target.head.meta,
        lifetime: target.head.lifetime,
      };
    }
    const producing: Producing = { claim: found.held, created: false };
    const { id } = found.held;
    this.#producing.set(id, producing);
    return {
      kind: "produce",
      create: async (key, meta, options = {}) => {
        producing.created = true;
        const writer = await this.#create(key, meta, options, producing);
        try {
          await claims.publish(found.held, {
            ...(meta ? { meta } : {}),
            ...(options.lifetime ? { lifetime: options.lifetime } : {}),
          });
        } catch (error) {
          await this.release(id).catch(() => {});
          throw error;
        }
        return writer;
      },
      abandon: async (reason) => {
        if (!this.#producing.has(id)) return; // committed, or released
        // A cache that closes loses its producers: no failure of the entry.
        const lost = reason instanceof CacheClosedError;
        if (producing.created) {
          await this.#note(owner, id, describe(reason), lost);
        }
        this.#producing.delete(id);
        await claims.release(found.held);
      },
    };
  }

  /** Follows entry `id`, which another store writes under its claim. */
  async *#follow(
    id: string,
    signal: AbortSignal,
  ): AsyncGenerator<StoreProgress> {
    await this.#ready;
    const target = this.#targets.get(id);
    const location = this.#locations.get(id);
    if (!target || !location) {
      throw new EntryNotFoundError(
        `Cannot follow entry ${id}: this FsStore found no claim naming it`,
      );
    }
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal.addEventListener("abort", abort, { once: true });
    this.#closing.signal.addEventListener("abort", abort, { once: true });
    if (signal.aborted || this.#closing.signal.aborted) abort();
    try {
      yield* followClaimed({
        fs: this.#fs,
        layout: this.#layout,
        hub: this.#hub,
        claims: this.#claims!,
        target,
        signal: stop.signal,
        grown: (size) => {
          location.size = Math.max(location.size, size);
        },
        committed: (trailer, info, path) => {
          Object.assign(location, {
            path,
            committed: true,
            size: trailer.size,
            foreign: false,
            alternates: undefined,
          });
          this.#index.set(target.hash, trailer, info);
          return this.#known(path, trailer, info);
        },
      });
    } finally {
      signal.removeEventListener("abort", abort);
      this.#closing.signal.removeEventListener("abort", abort);
      this.#targets.delete(id);
    }
  }

  /**
   * Writes why claimed entry `id` failed, for its followers, once; removed
   * after a lease (followers look at once, woken by its creation).
   */
  #note(owner: Owner, id: string, reason: string, lost = false): Promise<void> {
    let noting = this.#notes.get(id);
    if (!noting) {
      const note = `${owner.path}/${id}.failed`;
      noting = (async () => {
        const scratch = `${owner.path}/${id}.note`;
        await writeSmall(this.#fs, scratch, JSON.stringify({ reason, lost }));
        await this.#fs.rename(scratch, note);
        const timer = setTimeout(() => {
          this.#noteTimers.delete(timer);
          this.#notes.delete(id);
          void this.#removeIfPresent(note).catch(() => {});
        }, this.#leaseMs);
        this.#noteTimers.add(timer);
      })().catch(() => {}); // followers then learn it from the claim
      this.#notes.set(id, noting);
    }
    return noting;
  }

  #closed(action: string): EntryNotFoundError {
    return new EntryNotFoundError(`Cannot ${action}: the FsStore is closed`);
  }

  /**
   * Reads the committed entry for `key`; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, with its access time, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    await this.#ready;
    const name = await hashKey(key);
    await this.#recovery.verified(name);
    const path = this.#layout.entryPath(name);
    const found = await this.#readEntry(path);
    if (found?.trailer.key !== key) return undefined;
    this.#index.set(name, found.trailer, found.info);
    return this.#known(path, found.trailer, found.info);
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
    for (;;) {
      const path = location.path;
      try {
        file = await this.#fs.open(path, "read");
        break;
      } catch (error) {
        // Committed (renamed into entries/) or removed while it opened:
        // open it where it is now.
        if (this.#fs.isNotFound(error) && location.path !== path) continue;
        if (!this.#fs.isNotFound(error)) throw error;
        // Followed: its producer may have moved it on before this store saw.
        const moved = await this.#openMoved(id, location);
        if (!moved) throw this.#gone(id);
        file = moved;
        break;
      }
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
    return { file, readers: 0, closed: false, sync: true };
  }

  /** Opens a followed entry's file where its producer may have moved it. */
  async #openMoved(
    id: string,
    location: Location,
  ): Promise<FileHandle | undefined> {
    for (const path of location.alternates ?? []) {
      let file: FileHandle;
      try {
        file = await this.#fs.open(path, "read");
      } catch (error) {
        if (this.#fs.isNotFound(error)) continue;
        throw error;
      }
      // The committed file must be this entry's, not a later one's.
      if (path.endsWith(".commit") || (await readTrailerId(file)) === id) {
        return file;
      }
      await file.close();
    }
    return undefined;
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
        // Every byte is read over before anyone sees the array; a short
        // read's tail is zeroed by shrink().
        const buffer = allocate(length);
        const done = await readFullyFast(shared.file, buffer, offset, shared);
        return shrink(buffer, done);
      },
      readInto(offset, view) {
        const length = Math.max(
          0,
          Math.min(view.byteLength, location.size - offset),
        );
        return readFullyFast(
          shared.file,
          view.subarray(0, length),
          offset,
          shared,
        );
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
    const name = await hashKey(key);
    const path = this.#layout.entryPath(name);
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
    this.#index.delete(name);
    void this.#saveIndex(true);
    const location = this.#locations.get(id);
    this.#times.forget(id, location);
    if (location) Object.assign(location, { path: removed, committed: false });
  }

  /**
   * Deletes entry `id`'s file if it is unfinished or removed; see
   * {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    const owner = await this.#ready;
    const producing = this.#producing.get(id);
    if (producing) {
      // A claimed entry that failed: followers are told before its file
      // goes. The cache abandons the claim with the failure's reason in the
      // next microtask: yield to it, so the note carries that reason.
      await undefined;
      if (producing.created) {
        await this.#note(owner, id, "its producer failed or was abandoned");
      }
      this.#producing.delete(id);
      await this.#claims?.release(producing.claim);
    }
    const location = this.#locations.get(id);
    this.#locations.delete(id);
    this.#times.forget(id, location);
    if (!location) return;
    const { file } = location;
    location.file = undefined;
    await file?.close(); // an entry that failed while written
    // A committed path now belongs to whichever entry replaced this one; a
    // followed entry's file to the store that writes it.
    if (!location.committed && !location.foreign) {
      await this.#removeIfPresent(location.path);
    }
  }

  /**
   * Lists the keys of committed entries, from their records; see
   * {@linkcode Store.keys}. A file the record index holds costs nothing
   * more than its name in the directory listing (its name is its key's
   * hash); any other is read (its last bytes only), a few at a time.
   *
   * @returns The original keys.
   */
  async *keys(): AsyncGenerator<string> {
    const resume = this.#recovery.pause();
    try {
      const names = await this.#entryNames();
      const unindexed: string[] = [];
      for (const name of names) {
        const key = this.#recovery.verifies ? undefined : this.#index.key(name);
        if (key === undefined) unindexed.push(name);
        else yield key;
      }
      yield* mapInParallel(unindexed, LIST_PARALLEL, async (name) => {
        const found = await this.#recovery.inspect(name).catch(() => undefined);
        return found?.record.key;
      });
    } finally {
      resume();
      void this.#saveIndex(true); // what it read, for the next start
    }
  }

  /**
   * Lists every committed entry's record, with its access time, without
   * reading any body; see {@linkcode Store.records}. A file the record index
   * holds unchanged (same length and inode) costs one `lstat`; any other is
   * read (its last bytes only). A few files are handled at a time.
   *
   * @returns The records, in no particular order.
   */
  async *records(): AsyncGenerator<StoreRecord> {
    const resume = this.#recovery.pause();
    try {
      const names = await this.#entryNames();
      yield* mapInParallel(names, LIST_PARALLEL, async (name) => {
        // Gone, or unreadable: not an entry this store can serve.
        const found = await this.#recovery.inspect(name).catch(() => undefined);
        return found &&
          this.#known(this.#layout.entryPath(name), found.record, found.info);
      });
    } finally {
      resume();
      void this.#saveIndex(true); // what it read, for the next start
    }
  }

  /**
   * Records that entry `id` was read at `time`; see {@linkcode Store.touch}.
   * The time is kept in memory at once and written to the entry's file when
   * it has moved on by {@linkcode FsStoreOptions.accessResolution} since the
   * time written before (else when the store closes). Never delays a read:
   * nothing else waits for the write, and most touches make none.
   *
   * @param id The entry's storage identity; unknown or uncommitted ids are ignored.
   * @param time When it was read, by the cache's clock, in ms since the epoch.
   * @returns Resolves once the time is kept (and written, if it was written now).
   */
  touch(id: string, time: number): Promise<void> {
    const location = this.#locations.get(id);
    return location?.committed
      ? this.#times.touch(id, location, time)
      : Promise.resolve();
  }

  /**
   * Stops the start-up scan, writes the access times kept in memory, and
   * deletes this store's unfinished and removed files; committed entries stay.
   */
  async close(): Promise<void> {
    const owner = await this.#ready.catch(() => undefined);
    this.#closing.abort();
    if (owner) {
      // Entries written under a claim: their followers elsewhere learn that
      // the producer is gone, then the claims are released.
      await Promise.all(
        [...this.#producing].filter(([, { created }]) => created).map((
          [id],
        ) => this.#note(owner, id, "its producer's store was closed", true)),
      );
    }
    this.#producing.clear();
    await this.#claims?.close();
    this.#hub.close();
    for (const timer of this.#noteTimers) clearTimeout(timer);
    this.#noteTimers.clear();
    await this.#recovery.close();
    await this.#indexSaved;
    await this.#times.flush();
    await this.#saveIndex(false);
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
    if (this.claim) {
      this.#claims = new Claims(
        this.#fs,
        this.#layout,
        owner,
        this.#hub,
        this.#leaseMs,
      );
    }
    this.#recovery.start();
    this.#owner = owner;
    this.#indexSaved = this.#recovery.done.then(() => this.#saveIndex(false));
    return owner;
  }

  /**
   * Writes the record index after any write in flight; with `onlyIfMany`,
   * only if enough changed since the last one (see INDEX_SAVE_CHANGES) and
   * none is queued.
   */
  #saveIndex(onlyIfMany: boolean): Promise<void> {
    const owner = this.#owner;
    if (!owner) return this.#indexSaving;
    if (onlyIfMany) {
      const enough = Math.max(INDEX_SAVE_CHANGES, this.#index.size / 10);
      if (this.#indexSaveQueued || this.#index.unsaved < enough) {
        return this.#indexSaving;
      }
    }
    this.#indexSaveQueued = true;
    this.#indexSaving = this.#indexSaving.then(() => {
      this.#indexSaveQueued = false;
      return this.#index.save(`${owner.path}/index.json`);
    });
    return this.#indexSaving;
  }

  /** The names of the committed files in `entries/`. */
  async #entryNames(): Promise<string[]> {
    await this.#ready;
    // Right after start-up, the scan's listing is still running: share it.
    const listing = this.#recovery.startListing();
    if (listing) {
      const names = await listing;
      await this.#index.load();
      return names;
    }
    try {
      const names = await this.#fs.readDir(this.#layout.entries);
      await this.#index.load();
      return names.filter((name) => ENTRY_NAME.test(name));
    } catch (error) {
      if (this.#fs.isNotFound(error)) return []; // an operator emptied the directory
      throw error;
    }
  }

  /**
   * Makes a committed entry found on disk known to this store (so `touch` and
   * `openReader` can find its file by id) and returns its record.
   */
  #known(path: string, trailer: IndexedRecord, info: FileInfo): StoreRecord {
    // Files of stores that predate access times hold their commit time.
    const onDisk = Math.max(trailer.created, Math.round(info.mtime));
    let location = this.#locations.get(trailer.id);
    if (!location) {
      location = {
        path,
        committed: true,
        size: trailer.size,
        accessed: onDisk,
        stamped: onDisk,
      };
      this.#locations.set(trailer.id, location);
    }
    const accessed = location.path === path
      ? this.#times.note(trailer.id, location, onDisk)
      : onDisk; // this store moved it meanwhile (removed): not its to touch
    return toRecord(trailer, accessed);
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

  /** Reads a committed file's record and description; `undefined` if there is no whole entry. */
  async #readEntry(
    path: string,
  ): Promise<{ trailer: Trailer; info: FileInfo } | undefined> {
    return await this.#withEntryFile(path, async (file) => {
      const info = await file.stat();
      const trailer = await readTrailer(file, info);
      return trailer && { trailer, info };
    });
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

function toRecord(trailer: IndexedRecord, accessed: number): StoreRecord {
  const { key, id, meta, size, created, lifetime } = trailer;
  return lifetime
    ? { key, id, meta, size, created, accessed, lifetime }
    : { key, id, meta, size, created, accessed };
}

function describe(reason: unknown): string {
  return reason instanceof Error
    ? `${reason.name}: ${reason.message}`
    : String(reason ?? "aborted");
}
