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

interface Stamp {
  readonly path: string;
  /** The latest access time known: from touch, or read from the file. */
  accessed: number;
  /** The time the file holds, as this store last wrote or read it. */
  stamped: number;
  /** The write in flight, if any. */
  writing: Promise<void> | undefined;
}

/** The access times of one store's committed entries, by id. */
export class AccessTimes {
  readonly #fs: FileSystem;
  readonly #resolution: number;
  readonly #stamps = new Map<string, Stamp>();
  /** Which id this store last knew committed at each path. */
  readonly #current = new Map<string, string>();
  /** Ids whose latest access time is not written yet. */
  readonly #unwritten = new Set<string>();
  readonly #writes = new Set<Promise<void>>();

  constructor(fs: FileSystem, resolution: number) {
    this.#fs = fs;
    this.#resolution = resolution;
  }

  /**
   * Notes that entry `id` is committed at `path`, with `onDisk` the access
   * time its file holds, and returns its access time: the later of that and
   * any touch this store has kept in memory.
   */
  note(id: string, path: string, onDisk: number): number {
    this.#current.set(path, id);
    const stamp = this.#stamps.get(id);
    if (stamp === undefined || stamp.path !== path) {
      const fresh = {
        path,
        accessed: onDisk,
        stamped: onDisk,
        writing: undefined,
      };
      this.#stamps.set(id, fresh);
      return onDisk;
    }
    stamp.stamped = Math.max(stamp.stamped, onDisk);
    stamp.accessed = Math.max(stamp.accessed, onDisk);
    return stamp.accessed;
  }

  /** Forgets entry `id`: removed, replaced, or released. */
  forget(id: string): void {
    const stamp = this.#stamps.get(id);
    if (stamp && this.#current.get(stamp.path) === id) {
      this.#current.delete(stamp.path);
    }
    this.#stamps.delete(id);
    this.#unwritten.delete(id);
  }

  /**
   * Records that entry `id` was read at `time`; writes it to the file if it
   * is at least the resolution later than the time written before. Unknown
   * ids, entries no longer committed here, and times that are not later are
   * ignored. Resolves once the write, if one was made, is done; a failed
   * write is tried again by the next touch or by `flush()`.
   */
  touch(id: string, time: number): Promise<void> {
    const stamp = this.#stamps.get(id);
    if (!stamp || !Number.isFinite(time) || time <= stamp.accessed) {
      return Promise.resolve();
    }
    stamp.accessed = time;
    this.#unwritten.add(id);
    if (time - stamp.stamped < this.#resolution) return Promise.resolve();
    return this.#write(id, stamp);
  }

  /** Writes every access time kept in memory only, and waits for every write. */
  async flush(): Promise<void> {
    await forEachInParallel(
      [...this.#unwritten],
      FLUSH_PARALLEL,
      async (id) => {
        const stamp = this.#stamps.get(id);
        await stamp?.writing; // of an earlier time, perhaps
        if (stamp && stamp.accessed > stamp.stamped) {
          await this.#write(
            id,
            stamp,
          );
        }
      },
    );
    await Promise.allSettled([...this.#writes]);
  }

  #write(id: string, stamp: Stamp): Promise<void> {
    if (stamp.writing) return stamp.writing; // the next touch writes what it missed
    if (this.#current.get(stamp.path) !== id) {
      this.#unwritten.delete(id); // replaced here: the path is another entry's
      return Promise.resolve();
    }
    const time = stamp.accessed;
    const writing = this.#fs.touch(stamp.path, time).then(
      () => {
        stamp.stamped = Math.max(stamp.stamped, time);
        if (stamp.accessed <= stamp.stamped) this.#unwritten.delete(id);
      },
      () => {
        // Removed or replaced meanwhile, or a passing failure: nothing a
        // reader should hear of. The next touch or flush() tries again.
      },
    ).finally(() => {
      stamp.writing = undefined;
      this.#writes.delete(writing);
    });
    stamp.writing = writing;
    this.#writes.add(writing);
    return writing;
  }
}
