// Checking committed entry files: the start-up scan, and the per-file check
// that listings share with it. Entries whose file disagrees with its record
// (SEMANTICS 13) are removed, so their space comes back. Files not named like
// an entry are not the store's, and stay.
//
// The scan runs in the background, a few files at a time, and never delays
// serving:
//
// - With verify "size", a lookup checks the file it reads as the scan would
//   (the footer, the record, its size against the file's length), and a
//   listing checks each file with `inspect()`, as the scan does; so a file
//   the scan would remove is never served before the scan reaches it. A file
//   that the record index (_record_index.ts) holds with the same length and
//   inode was whole when it was read and is not read again: one lstat checks
//   it. The scan only reclaims space.
// - With verify "checksum", a lookup or listing of an entry that was present
//   at start-up waits until that entry's bytes are verified (starting its
//   check at once if the scan has not reached it), so an entry with a bad
//   checksum is never served either. Entries committed while the store runs
//   were hashed as they were written, and need no check.
//
// A listing that runs while the scan does takes work off it: the scan waits
// while a listing runs (they would compete for the same CPU and I/O threads),
// and skips the files a listing has checked since start-up (a cache lists its
// records once at start-up, so each file is checked once, not twice).
//
// A file found broken is removed under the turn of its path (which commits
// take too), and only if it is still the same file: a new entry committed
// under the name meanwhile is never removed in its place.

import type { KeyTurns } from "../_key_turns.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";
import { forEachInParallel } from "./_in_parallel.ts";
import { ENTRY_NAME, isNameOf, type Layout } from "./_layout.ts";
import { readFully } from "./_read_fully.ts";
import type { IndexedRecord, RecordIndex } from "./_record_index.ts";
import { readTrailer, readTrailerId, type Trailer } from "./_trailer.ts";

/** How the scan checks a committed entry: its length, or every byte too. */
export type Verify = "size" | "checksum";

/** A whole committed entry file: its record, and its description now. */
export interface Inspected {
  readonly record: IndexedRecord;
  readonly info: FileInfo;
}

/** Files the scan checks at once. */
const SCAN_PARALLEL = 4;

/** One store's checks of `entries/`. */
export class Recovery {
  readonly #fs: FileSystem;
  readonly #layout: Layout;
  readonly #verify: Verify;
  readonly #turns: KeyTurns;
  readonly #index: RecordIndex;
  /** Names present at start-up not yet verified ("checksum"), with their check once started. */
  readonly #unverified = new Map<string, Promise<void> | undefined>();
  /** Names checked since start-up, while the scan runs: it skips them. */
  #inspected: Set<string> | undefined = new Set();
  /** Checks in flight, and who waits for none to be, for close(). */
  #inFlight = 0;
  #idle: (() => void) | undefined;
  /** Listings running, and how the scan waits for them to end. */
  #listings = 0;
  #resume: Promise<void> = Promise.resolve();
  #resumeScan: () => void = () => {};
  #listed: Promise<void> = Promise.resolve();
  /** The start-up listing of entries/, while it runs, for a listing that starts meanwhile. */
  #listing: Promise<string[]> | undefined;
  /** Names this store committed while the start-up listing ran. */
  #committedMeanwhile: Set<string> | undefined;
  #done: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    fs: FileSystem,
    layout: Layout,
    verify: Verify,
    turns: KeyTurns,
    index: RecordIndex,
  ) {
    this.#fs = fs;
    this.#layout = layout;
    this.#verify = verify;
    this.#turns = turns;
    this.#index = index;
  }

  /** Whether entries on disk at start-up are verified before they are served ("checksum"). */
  get verifies(): boolean {
    return this.#verify === "checksum";
  }

  /** Resolves once every entry present at start-up has been checked. Never rejects. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Loads the record index, lists `entries/` (dropping from the index the
   * files that are gone) and starts checking the files in the background.
   */
  start(): void {
    this.#committedMeanwhile = new Set();
    const listing = (async () => {
      await this.#index.load();
      let names: string[];
      try {
        names = await this.#fs.readDir(this.#layout.entries);
      } catch {
        return []; // emptied by an operator: nothing to check
      }
      names = names.filter((name) => ENTRY_NAME.test(name));
      this.#index.reconcile(names);
      return names;
    })();
    this.#listing = listing.then((names) => {
      const committed = this.#committedMeanwhile!;
      this.#committedMeanwhile = undefined;
      if (committed.size === 0) return names;
      const listed = new Set(names);
      return [...names, ...[...committed].filter((name) => !listed.has(name))];
    });
    this.#listed = listing.then((names) => {
      if (this.#verify === "checksum") {
        for (const name of names) this.#unverified.set(name, undefined);
      }
    });
    this.#done = listing.then(async (names) => {
      // One unreadable file (or a FIFO, a directory) does not stop the scan
      // (forEachInParallel goes on); it is never served either, since every
      // read checks its file.
      await forEachInParallel(names, SCAN_PARALLEL, async (name) => {
        while (this.#listings > 0 && !this.#stopped) await this.#resume;
        if (!this.#stopped && !this.#inspected?.has(name)) {
          await this.inspect(name);
        }
      });
      this.#inspected = undefined;
    });
  }

  /**
   * Tells when entry file `name` may be served: `undefined` for at once
   * (verify "size"); with "checksum", a promise that resolves once its bytes
   * are verified (or it is removed).
   */
  verified(name: string): Promise<void> | undefined {
    if (this.#verify === "size") return undefined;
    return this.#listed.then(() => this.#verifyOnce(name));
  }

  /**
   * Checks committed file `name` as the scan does, removing it if it is not
   * a whole entry under its key's name (verified first, with "checksum").
   *
   * @returns Its record and description, or `undefined` if it is not a whole entry.
   */
  async inspect(name: string): Promise<Inspected | undefined> {
    this.#inspected?.add(name);
    this.#inFlight++;
    try {
      return await this.#inspect(name);
    } finally {
      if (--this.#inFlight === 0) this.#idle?.();
    }
  }

  /**
   * Holds the scan while a listing runs; call the returned function when the
   * listing ends.
   */
  pause(): () => void {
    if (this.#listings++ === 0) {
      this.#resume = new Promise((resolve) => (this.#resumeScan = resolve));
    }
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      if (--this.#listings === 0) this.#resumeScan();
    };
  }

  /**
   * The start-up listing of `entries/` (names of entry files), with the
   * names this store committed since it began, if it is still running: a
   * listing that starts meanwhile need not list the directory again.
   */
  startListing(): Promise<string[]> | undefined {
    return this.#committedMeanwhile && this.#listing;
  }

  /** Notes that this store committed `name`: hashed while written, it needs no check. */
  committed(name: string): void {
    this.#committedMeanwhile?.add(name);
    if (this.#unverified.get(name) === undefined) this.#unverified.delete(name);
  }

  /** Stops checking and waits for the checks in flight. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#resumeScan();
    await this.#done;
    while (this.#inFlight > 0) {
      await new Promise<void>((resolve) => (this.#idle = resolve));
    }
  }

  async #inspect(name: string): Promise<Inspected | undefined> {
    const verifying = this.verified(name);
    if (verifying) await verifying;
    if (!this.#index.has(name)) return await this.#check(name, false);
    let info: FileInfo;
    try {
      info = await this.#fs.stat(this.#layout.entryPath(name));
    } catch (error) {
      if (this.#fs.isNotFound(error)) return undefined;
      throw error;
    }
    const indexed = this.#index.match(name, info);
    if (indexed) return { record: indexed, info }; // read whole before, unchanged since
    return await this.#check(name, false);
  }

  #verifyOnce(name: string): Promise<void> {
    if (!this.#unverified.has(name)) return Promise.resolve();
    let checking = this.#unverified.get(name);
    if (!checking) {
      this.#inFlight++;
      const check = this.#check(name, true).finally(() => {
        if (--this.#inFlight === 0) this.#idle?.();
      });
      checking = check.then(
        () => void this.#unverified.delete(name),
        (error: unknown) => {
          // A failure to read (EMFILE, EIO) fails this wait only, and the
          // next one checks again.
          this.#unverified.set(name, undefined);
          throw error;
        },
      );
      this.#unverified.set(name, checking);
    }
    return checking;
  }

  /**
   * Reads file `name` and checks it (its bytes too, if `checksum`); notes a
   * whole entry in the index and removes a broken one.
   */
  async #check(
    name: string,
    checksum: boolean,
  ): Promise<Inspected | undefined> {
    const path = this.#layout.entryPath(name);
    let file: FileHandle;
    try {
      // Rejects anything but a regular file without blocking (a FIFO, say).
      file = await this.#fs.open(path, "read");
    } catch (error) {
      if (this.#fs.isNotFound(error)) return undefined; // never served: nothing to check
      throw error;
    }
    let seen: { size: number; mtime: number; id: string | undefined };
    try {
      const info = await file.stat();
      const trailer = await readTrailer(file, info);
      if (await this.#isWhole(name, file, trailer, checksum)) {
        this.#index.set(name, trailer!, info);
        return { record: trailer!, info };
      }
      if (this.#stopped) return undefined; // a check cut short proves nothing
      const id = await readTrailerId(file).catch(() => undefined);
      seen = { size: info.size, mtime: info.mtime, id };
    } finally {
      await file.close();
    }
    await this.#turns.run(path, async () => {
      const again = await this.#fs.open(path, "read");
      let same: boolean;
      try {
        const info = await again.stat();
        const id = await readTrailerId(again).catch(() => undefined);
        same = info.size === seen.size && info.mtime === seen.mtime &&
          id === seen.id;
      } finally {
        await again.close();
      }
      if (same) {
        await this.#fs.remove(path);
        this.#index.delete(name);
      }
    });
    return undefined;
  }

  /** Whether `trailer` is a whole entry under its key's name, with the right bytes if `checksum`. */
  async #isWhole(
    name: string,
    file: FileHandle,
    trailer: Trailer | undefined,
    checksum: boolean,
  ): Promise<boolean> {
    if (!trailer || !isNameOf(name, trailer.key, this.#fs.createHash())) {
      return false;
    }
    if (!checksum) return true;
    const hasher = this.#fs.createHash();
    const buffer = new Uint8Array(64 * 1024);
    for (let at = 0; at < trailer.size;) {
      if (this.#stopped) return false; // never noted as verified
      const part = buffer.subarray(
        0,
        Math.min(buffer.byteLength, trailer.size - at),
      );
      const count = await readFully(file, part, at);
      if (count < part.byteLength) return false;
      hasher.update(part);
      at += count;
    }
    return hasher.digest() === trailer.checksum;
  }
}
