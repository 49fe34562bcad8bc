// When each committed entry was last read, kept by FsStore for the cache
// (SEMANTICS 16: the cache's clock, never the operating system's atime,
// which noatime and relatime mounts do not keep).
//
// An entry's access time is its committed file's modification time. The file
// never changes once committed, so nothing else moves that time: the store
// sets it (with utimes, access time too) to the entry's creation time at
// commit, and to the time `touch` gives later. A listing reads it with the
// `fstat` it makes anyway, so a restart rebuilds every access time without
// reading a body.
//
// Writes are throttled: one entry's time is written when it has moved on by
// at least `resolution` milliseconds since the time last written (by the
// cache's clock), so a popular entry costs at most one `utimes` per
// resolution, however often it is read. Every later touch is kept in memory
// (lookups and listings of this store return it exactly) and written by
// `flush()` when the store closes, so only a crash loses up to `resolution`
// of recency. At most one write per entry is in flight at a time.

import type { FileSystem } from "./file_system.ts";
import { forEachInParallel } from "./_in_parallel.ts";

/** Writes `flush()` makes at once. */
const FLUSH_PARALLEL = 16;

/** What the access times keep of one entry: FsStore's record of where its bytes are. */
export interface Stamped {
  /** The entry's file. */
  readonly path: string;
  /** The latest access time known: from touch, or read from the file. */
  accessed: number;
  /** The time the file holds, as this store last wrote or read it. */
  stamped: number;
  /** The write in flight, if any. */
  writing?: Promise<void> | undefined;
}

/** The access times of one store's committed entries. */
export class AccessTimes {
  readonly #fs: FileSystem;
  readonly #resolution: number;
  /** Which id this store last knew committed at each path. */
  readonly #current = new Map<string, string>();
  /** Entries whose latest access time is not written yet. */
  readonly #unwritten = new Map<string, Stamped>();
  readonly #writes = new Set<Promise<void>>();

  constructor(fs: FileSystem, resolution: number) {
    this.#fs = fs;
    this.#resolution = resolution;
  }

  /**
   * Notes that entry `id` is committed at `entry.path`, with `onDisk` the
   * access time its file holds, and returns its access time: the later of
   * that and any touch this store has kept in memory.
   */
  note(id: string, entry: Stamped, onDisk: number): number {
    this.#current.set(entry.path, id);
    if (onDisk > entry.stamped) entry.stamped = onDisk;
    if (onDisk > entry.accessed) entry.accessed = onDisk;
    return entry.accessed;
  }

  /** Forgets entry `id`: removed, or released. */
  forget(id: string, entry: Stamped | undefined): void {
    if (entry && this.#current.get(entry.path) === id) {
      this.#current.delete(entry.path);
    }
    this.#unwritten.delete(id);
  }

  /**
   * Records that entry `id` was read at `time`; writes it to the file if it
   * is at least the resolution later than the time written before. Entries
   * no longer committed here at their path, and times that are not later,
   * are ignored. Resolves once the write, if one was made, is done; a failed
   * write is tried again by the next touch or by `flush()`.
   */
  touch(id: string, entry: Stamped, time: number): Promise<void> {
    if (
      !Number.isFinite(time) || time <= entry.accessed ||
      this.#current.get(entry.path) !== id
    ) {
      return Promise.resolve();
    }
    entry.accessed = time;
    this.#unwritten.set(id, entry);
    if (time - entry.stamped < this.#resolution) return Promise.resolve();
    return this.#write(id, entry);
  }

  /** Writes every access time kept in memory only, and waits for every write. */
  async flush(): Promise<void> {
    await forEachInParallel(
      [...this.#unwritten],
      FLUSH_PARALLEL,
      async ([id, entry]) => {
        await entry.writing; // of an earlier time, perhaps
        if (entry.accessed > entry.stamped) await this.#write(id, entry);
      },
    );
    await Promise.allSettled([...this.#writes]);
  }

  #write(id: string, entry: Stamped): Promise<void> {
    if (entry.writing) return entry.writing; // the next touch writes what it missed
    if (this.#current.get(entry.path) !== id) {
      this.#unwritten.delete(id); // replaced here: the path is another entry's
      return Promise.resolve();
    }
    const time = entry.accessed;
    const writing = this.#fs.touch(entry.path, time).then(
      () => {
        if (time > entry.stamped) entry.stamped = time;
        if (entry.accessed <= entry.stamped) this.#unwritten.delete(id);
      },
      () => {
        // Removed or replaced meanwhile, or a passing failure: nothing a
        // reader should hear of. The next touch or flush() tries again.
      },
    ).finally(() => {
      entry.writing = undefined;
      this.#writes.delete(writing);
    });
    entry.writing = writing;
    this.#writes.add(writing);
    return writing;
  }
}
