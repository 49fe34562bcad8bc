// The writable side of a new entry. Each chunk is checked, stored, and only
// then counted, so readers never see bytes the store does not hold. Any
// failure, from the producer or the store, fails the entry (SEMANTICS 5, 18).

import type { EntryLog } from "./_entry_log.ts";
import { describeValue, quoteKey } from "./_validate.ts";
import type { StoreWriter } from "./store.ts";

export function createWritable(
  log: EntryLog,
  writer: StoreWriter,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    start(controller) {
      // Lets the cache abort this writer on close(), even while it is locked.
      log.openWriter({ stop: (reason) => controller.error(reason) });
    },
    async write(chunk) {
      try {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot write to entry ${
              quoteKey(log.key)
            }: chunk must be a Uint8Array: received ${describeValue(chunk)}`,
          );
        }
        if (chunk.byteLength === 0) return;
        await writer.write(chunk);
        log.appended(chunk.byteLength);
      } catch (error) {
        log.fail(error);
        throw error;
      }
    },
    async close() {
      await log.commit(writer);
    },
    abort(reason) {
      log.fail(
        reason ??
          new DOMException(
            `The writer of entry ${quoteKey(log.key)} aborted`,
            "AbortError",
          ),
      );
    },
  });
}
