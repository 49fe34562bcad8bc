// A pull-based reader over one entry. Its pull() reads the next chunk from
// the store at its own offset; when it has caught up with the writer it
// awaits the entry's next change. It holds no queue of its own: with a high
// water mark of 0 it has at most the one chunk its consumer asked for in
// flight (SEMANTICS 3, 4, 6).
//
// It is a byte stream (`type: "bytes"`): a consumer that reads with
// `getReader({ mode: "byob" })` gets the bytes copied straight into its own
// buffer (by the store's `readInto` where it has one), with no array
// allocated per chunk. A default reader gets a new array per chunk, as
// before; enqueueing it transfers its buffer, which the store made for this
// reader alone (SEMANTICS 7), so no one else can see it detached.

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
  let controller!: ReadableByteStreamController;

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

  // The store returned `count` bytes for a read of `length` at `offset`.
  const check = (count: number, length: number) => {
    if (count === 0 || count > length) {
      throw new StreamCacheError(
        `Cannot read entry ${
          quoteKey(log.key)
        }: the store's read of ${log.id} at byte ${offset} returned ${count} bytes, expected 1 to ${length}`,
      );
    }
  };
  // Closes the stream, and ends a BYOB read waiting on it.
  const close = (c: ReadableByteStreamController) => {
    c.close();
    c.byobRequest?.respond(0);
  };

  log.openReader(handle);
  return new ReadableStream({
    type: "bytes",
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
            close(c);
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
            let length = Math.min(chunkSize, log.size - offset, end - offset);
            const request = c.byobRequest;
            const view = request?.view;
            if (request && view) {
              // A BYOB read: into the consumer's buffer, no array of ours.
              length = Math.min(length, view.byteLength);
              const into = new Uint8Array(view.buffer, view.byteOffset, length);
              const count = reader.readInto
                ? await reader.readInto(offset, into)
                : copyInto(await reader.read(offset, length), into);
              if (finished) return; // cancelled or stopped while reading
              check(count, length);
              offset += count;
              request.respond(count);
              return;
            }
            const bytes = await reader.read(offset, length);
            if (finished) return; // cancelled or stopped while reading
            check(bytes.byteLength, length);
            offset += bytes.byteLength;
            // A store's array is its reader's alone (SEMANTICS 7): its
            // buffer can be transferred. (One on a SharedArrayBuffer cannot:
            // enqueue() then fails this reader with a TypeError.)
            c.enqueue(bytes as Uint8Array<ArrayBuffer>);
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
            close(c);
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
  }, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
}

/** Copies `bytes` (a store's read, at most `into`'s length) into `into`. */
function copyInto(bytes: Uint8Array, into: Uint8Array): number {
  if (bytes.byteLength <= into.byteLength) into.set(bytes);
  return bytes.byteLength;
}
