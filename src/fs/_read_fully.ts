// One loop for every read that wants a whole range: the operating system may
// return fewer bytes than asked, and only 0 means the end of the file.

import type { FileHandle } from "./file_system.ts";

/**
 * Fills `buffer` from byte `position` of `file`, stopping early only at the
 * end of the file.
 *
 * @returns The number of bytes read: `buffer.byteLength` unless the file ended.
 */
export async function readFully(
  file: FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < buffer.byteLength) {
    const count = await file.read(buffer.subarray(done), position + done);
    if (count === 0) break;
    done += count;
  }
  return done;
}

/** A sync read slower than this came from the disk, not the page cache... */
const SLOW_SYNC_READ_MS = 2;
/** ...unless it was one of a few that a busy machine's scheduler delayed. */
const SLOW_SYNC_READS = 4;

/** Whether reads of a file may still be synchronous; shared by its readers. */
export interface ReadMode {
  sync: boolean;
  /** Sync reads in a row that were slow. */
  slow?: number;
}

/**
 * {@linkcode readFully}, synchronously where the file can (`readSync`) and
 * while such reads stay fast. Bytes in the page cache, such as those of an
 * entry being written, come back in microseconds, many times faster than
 * through a thread pool; but a synchronous read that waits for the disk
 * stalls everything else, so `SLOW_SYNC_READS` in a row that take longer
 * than `SLOW_SYNC_READ_MS` each turn `mode.sync` off for good, for every
 * reader of the file. (One slow read is not enough: on a loaded machine the
 * scheduler may delay any of them by a few milliseconds.)
 *
 * @returns The number of bytes read: `buffer.byteLength` unless the file ended.
 */
export async function readFullyFast(
  file: FileHandle,
  buffer: Uint8Array,
  position: number,
  mode: ReadMode,
): Promise<number> {
  let done = 0;
  if (mode.sync && file.readSync) {
    const started = performance.now();
    while (done < buffer.byteLength) {
      const count = file.readSync(buffer.subarray(done), position + done);
      if (count === undefined) break; // an asynchronous read is in flight
      if (count === 0) return done;
      done += count;
    }
    if (performance.now() - started <= SLOW_SYNC_READ_MS) mode.slow = 0;
    else if ((mode.slow = (mode.slow ?? 0) + 1) >= SLOW_SYNC_READS) {
      mode.sync = false;
    }
    if (done === buffer.byteLength) return done;
  }
  return done +
    await readFully(file, buffer.subarray(done), position + done);
}
