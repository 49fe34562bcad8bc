/**
 * The view of one cache entry that every caller of the cache gets.
 *
 * @module
 */

import type { EntryMeta } from "./store.ts";

/**
 * Where an entry is in its life: `writing`, then `complete` or `failed`.
 *
 * @example Watching entries complete and fail
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { EntryState } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const good = await cache.open("good");
 * const bad = await cache.open("bad");
 * const before: EntryState[] = [good.entry.state, bad.entry.state];
 * await good.writable?.close();
 * await bad.writable?.abort(new Error("disk full"));
 * await assert.rejects(bad.entry.done, /disk full/);
 * const after: EntryState[] = [good.entry.state, bad.entry.state];
 * assert.deepEqual(before, ["writing", "writing"]);
 * assert.deepEqual(after, ["complete", "failed"]);
 * ```
 */
export type EntryState = "writing" | "complete" | "failed";

/**
 * Options for {@linkcode Entry.readable}.
 *
 * @example Reading a byte range in small chunks
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { ReadableOptions } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const entry = await cache.getOrCreate("letters", () => new TextEncoder().encode("abcdefghij"));
 * const options: ReadableOptions = { start: 2, end: 8, chunkSize: 2 };
 * const chunks = await Array.fromAsync(entry.readable(options));
 * assert.deepEqual(chunks.map((chunk) => new TextDecoder().decode(chunk)), ["cd", "ef", "gh"]);
 * ```
 */
export interface ReadableOptions {
  /**
   * The first byte to read. If the entry has fewer bytes so far, the reader
   * waits for them; if it completes with fewer, the reader errors with a
   * `RangeError` (SEMANTICS 8).
   *
   * @default {0}
   */
  start?: number;
  /**
   * The byte to stop before (exclusive, like `Uint8Array.subarray`). The
   * reader closes as soon as it has delivered the bytes before `end`, even
   * while the writer goes on; if the entry completes shorter, it closes at
   * the entry's end.
   *
   * @default {Infinity}
   */
  end?: number;
  /**
   * The most bytes per chunk the reader enqueues.
   *
   * @default {65536}
   */
  chunkSize?: number;
}

/**
 * One keyed entry of a {@linkcode StreamCache}: an append-only byte log with
 * metadata. Any number of readers may read it while it is written, each from
 * byte 0 (or `start`) at its own pace.
 *
 * @example Reading an entry while it is written
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache();
 * const { entry, writable } = await cache.open("log.txt", { meta: { type: "text/plain" } });
 * const writer = writable!.getWriter();
 * await writer.write(new TextEncoder().encode("hello "));
 * assert.equal(entry.size, 6);
 * assert.equal(entry.complete, false);
 *
 * const text = new Response(entry.readable()).text(); // waits for the writer
 * await writer.write(new TextEncoder().encode("world"));
 * await writer.close();
 * assert.equal(await text, "hello world");
 * assert.equal(await entry.done, 11);
 * assert.deepEqual(entry.meta, { type: "text/plain" });
 * ```
 */
export interface Entry {
  /** The entry's key. */
  readonly key: string;
  /**
   * The entry's storage id: unique to this one creation of the key, never
   * reused, and kept across restarts by persistent stores. It changes
   * whenever the key is produced again, so it can serve as a strong HTTP
   * validator (an `ETag`) for a complete entry.
   */
  readonly id: string;
  /** The metadata given when the entry was created (deep-frozen), if any. */
  readonly meta: EntryMeta | undefined;
  /** The bytes written so far (SEMANTICS 9). */
  readonly size: number;
  /** Whether the writer has closed and every byte is stored. */
  readonly complete: boolean;
  /** `writing`, `complete` or `failed`. */
  readonly state: EntryState;
  /**
   * Resolves with the final size once the entry is complete; rejects with the
   * writer's failure reason if it fails. Unobserved rejections are not reported.
   */
  readonly done: Promise<number>;
  /**
   * Opens a reader over the entry's bytes. It gets every byte from `start`
   * whenever it joins; when it catches up with the writer it waits for the
   * next append (it does not poll); it closes only once the writer has closed
   * and it has read every byte, and it errors with the writer's reason if the
   * writer fails (SEMANTICS 3–6, 8). Cancelling it affects no one else.
   *
   * Each chunk is a new `Uint8Array` that belongs to the reader alone
   * (SEMANTICS 7). Cancel readers you stop consuming: an open reader keeps
   * the entry's storage alive.
   *
   * It is a byte stream (`type: "bytes"`): a BYOB reader gets the bytes
   * copied straight into the buffer it passes, with no array allocated per
   * chunk (at most `chunkSize` bytes per read).
   *
   * @example Reading into a buffer of your own (BYOB)
   * ```ts
   * import { StreamCache } from "@streamcache/streamcache";
   * import assert from "node:assert/strict";
   *
   * await using cache = new StreamCache();
   * const entry = await cache.getOrCreate("abc", () => new TextEncoder().encode("abcdefgh"));
   * const reader = entry.readable().getReader({ mode: "byob" });
   * let buffer = new ArrayBuffer(3);
   * const parts: string[] = [];
   * for (;;) {
   *   const { done, value } = await reader.read(new Uint8Array(buffer));
   *   if (done) break;
   *   parts.push(new TextDecoder().decode(value));
   *   buffer = value.buffer; // the same memory, handed back
   * }
   * assert.deepEqual(parts, ["abc", "def", "gh"]);
   * ```
   *
   * @param options Where to start and stop, and the chunk size.
   * @returns A stream of the entry's bytes.
   */
  readable(options?: ReadableOptions): ReadableStream<Uint8Array>;
}
