// A pull-based reader over one entry. Its pull() reads the next chunk from
// the store at its own offset; when it has caught up with the writer it
// awaits the entry's next change. It holds no queue of its own: with a high
// water mark of 0 it has at most the one chunk its consumer asked for in
// flight (SEMANTICS 3, 4, 6).

import type { EntryLog, Handle } from "./_entry_log.ts";
import { quoteKey } from "./_validate.ts";
import { EntryNotFoundError, StreamCacheError } from "./errors.ts";
import type { StoreReader } from "./store.ts";

export function createReadable(
  log: EntryLog,
  start: number,
  end: number,
  chunkSize: number,
): ReadableStream<Uint8Array> {
  let offset = start;
  let opening: Promise<StoreReader> | undefined;
  let finished = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const handle: Handle = {
    stop(reason) {
      if (finished) return;
      finish();
      controller.error(reason);
    },
  };
  // Runs exactly once, however the reader ends: closed, errored or cancelled.
  const finish = () => {
    finished = true;
    if (opening) log.track(opening.then((reader) => reader.close()));
    opening = undefined;
    log.closeReader(handle);
  };

  log.openReader(handle);
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    async pull(c) {
      try {
        while (!finished) {
          // The cache closed: every call after close() gets its reason.
          if (log.closedWith) throw log.closedWith.reason;
          if (offset >= end) {
            finish();
            c.close();
            return;
          }
          if (log.state === "failed") throw log.error;
          if (offset < log.size) {
            if (!opening) {
              // A reader that has its storage open reads on whatever befalls
              // the entry; only one that has not opened it yet can be too late.
              if (log.released) {
                throw new EntryNotFoundError(
                  `Cannot read entry ${
                    quoteKey(log.key)
                  }: it was deleted (or replaced) and its storage released`,
                );
              }
              opening = log.store.openReader(log.id);
            }
            const reader = await opening.catch((error) => {
              opening = undefined;
              // Only "not found" means the entry is gone; any other failure
              // (EMFILE, EIO) is this reader's alone (SEMANTICS 6).
              if (error instanceof EntryNotFoundError) log.lost();
              throw error;
            });
            const length = Math.min(chunkSize, log.size - offset, end - offset);
            const bytes = await reader.read(offset, length);
            if (finished) return; // cancelled or stopped while reading
            if (bytes.byteLength === 0 || bytes.byteLength > length) {
              throw new StreamCacheError(
                `Cannot read entry ${
                  quoteKey(log.key)
                }: the store's read of ${log.id} at byte ${offset} returned ${bytes.byteLength} bytes, expected 1 to ${length}`,
              );
            }
            offset += bytes.byteLength;
            c.enqueue(bytes);
            return;
          }
          if (log.complete) {
            if (offset > log.size) {
              throw new RangeError(
                `Cannot read entry ${
                  quoteKey(log.key)
                } from byte ${start}: it ended at byte ${log.size}`,
              );
            }
            finish();
            c.close();
            return;
          }
          await log.changed();
        }
      } catch (error) {
        if (finished) return;
        finish();
        throw error;
      }
    },
    cancel() {
      if (!finished) finish();
    },
  }, { highWaterMark: 0 });
}
