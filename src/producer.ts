/**
 * What a producer given to {@linkcode StreamCache.getOrCreate} is, and what it
 * may return.
 *
 * @module
 */

import { checkLifetime } from "./_options.ts";
import { describeValue, freezeMeta, quoteKey } from "./_validate.ts";
import type { Entry } from "./entry.ts";
import type { EntryLifetime, EntryMeta } from "./store.ts";

/**
 * What a producer is told about the entry it fills.
 *
 * @example Stopping side work when the entry fails
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { ProducerContext } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * let signal: AbortSignal | undefined;
 * {
 *   await using cache = new StreamCache();
 *   await cache.getOrCreate("feed", (context: ProducerContext) => {
 *     signal = context.signal; // e.g. passed on to fetch()
 *     const head = new TextEncoder().encode(`${context.key}\n`);
 *     return new ReadableStream({ start: (c) => c.enqueue(head) }); // never ends
 *   });
 *   assert.equal(signal?.aborted, false);
 * } // closing the cache fails the unfinished entry
 * assert.equal(signal?.aborted, true);
 * ```
 */
export interface ProducerContext {
  /** The key being produced. */
  readonly key: string;
  /**
   * Aborted if the entry fails while the producer runs (its output was not a
   * valid byte stream, the store failed, or the cache closed), so work done
   * beside the returned stream can stop too.
   */
  readonly signal: AbortSignal;
  /**
   * The stale entry this call refreshes (stale-while-revalidate, or an entry
   * kept for revalidation by `keepStale`), so the producer can revalidate
   * it, e.g. with an HTTP conditional request, and make the new entry from
   * its bytes; `undefined` when the key is missing.
   */
  readonly stale?: Entry;
}

/**
 * The bytes of a produced entry, in any of the shapes producers have at hand.
 *
 * @example Bytes, a stream and an async generator
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { ProducerBody } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const bodies: ProducerBody[] = [
 *   new TextEncoder().encode("bytes"),
 *   new Blob(["stream"]).stream(),
 *   (async function* () { yield new TextEncoder().encode("generator"); })(),
 * ];
 * await using cache = new StreamCache();
 * const entries = await Promise.all(bodies.map((body, i) => cache.getOrCreate(`${i}`, () => body)));
 * const texts = await Promise.all(entries.map((entry) => new Response(entry.readable()).text()));
 * assert.deepEqual(texts, ["bytes", "stream", "generator"]);
 * ```
 */
export type ProducerBody =
  | ReadableStream<Uint8Array>
  | Uint8Array
  | AsyncIterable<Uint8Array>;

/**
 * What a producer returns: a body, or a body with the entry's metadata and
 * its own lifetime (`ttl`, `maxAge`, `staleWhileRevalidate`, `staleIfError`,
 * in ms), which override the cache's and `getOrCreate`'s.
 *
 * @example Returning metadata with the body
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { ProducerResult } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const render = (key: string): ProducerResult => ({
 *   body: new TextEncoder().encode(`<h1>${key}</h1>`),
 *   meta: { type: "text/html" },
 * });
 * await using cache = new StreamCache();
 * const entry = await cache.getOrCreate("home", ({ key }) => render(key));
 * assert.deepEqual(entry.meta, { type: "text/html" });
 * assert.equal(await new Response(entry.readable()).text(), "<h1>home</h1>");
 * ```
 */
export type ProducerResult = ProducerBody | ProducedEntry;

/**
 * A producer's entry with what it knows of it: its metadata, and how long it
 * stays fresh (an HTTP response's `Cache-Control: max-age`, say).
 *
 * @example A report that is fresh for a minute
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { ProducedEntry } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * await using cache = new StreamCache({ clock: () => now });
 * const report = (): ProducedEntry => ({
 *   body: new TextEncoder().encode(`report at ${now}`),
 *   meta: { type: "text/plain" },
 *   maxAge: 60_000,
 * });
 * const first = await cache.getOrCreate("report", report);
 * await first.done;
 * now = 61_000; // past its maxAge: produced afresh
 * const second = await cache.getOrCreate("report", report);
 * assert.equal(await new Response(second.readable()).text(), "report at 61000");
 * ```
 */
export interface ProducedEntry extends EntryLifetime {
  /** The entry's bytes. */
  readonly body: ProducerBody;
  /** The entry's metadata; overrides `meta` given to `getOrCreate`. */
  readonly meta?: EntryMeta;
}

/**
 * Makes the bytes of a missing entry. Runs at most once per missing key however
 * many callers ask (SEMANTICS 1). If it throws, or its stream errors, every
 * reader of the entry errors with that reason and nothing is cached
 * (SEMANTICS 5).
 *
 * @example A producer that streams a report
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import type { Producer } from "@streamcache/streamcache";
 * import assert from "node:assert/strict";
 *
 * const report: Producer = async function* ({ key }) {
 *   yield new TextEncoder().encode(`report for ${key}\n`);
 * };
 * await using cache = new StreamCache();
 * const entry = await cache.getOrCreate("q3", report);
 * assert.equal(await new Response(entry.readable()).text(), "report for q3\n");
 * ```
 */
export type Producer = (
  context: ProducerContext,
) => ProducerResult | Promise<ProducerResult>;

/** Turns a producer's result into a byte stream and metadata, or throws a TypeError. */
export function toBody(
  result: unknown,
  key: string,
): {
  body: ReadableStream<Uint8Array>;
  meta: EntryMeta | undefined;
  hasMeta: boolean;
  lifetime?: EntryLifetime | undefined;
} {
  const action = `produce entry ${quoteKey(key)}`;
  const direct = toStream(result);
  if (direct) return { body: direct, meta: undefined, hasMeta: false };
  if (typeof result === "object" && result !== null && "body" in result) {
    const { body, meta } = result as { body: unknown; meta?: unknown };
    const stream = toStream(body);
    if (!stream) {
      throw new TypeError(
        `Cannot ${action}: body must be a ReadableStream, Uint8Array or AsyncIterable: received ${
          describeValue(body)
        }`,
      );
    }
    try {
      return {
        body: stream,
        meta: freezeMeta(meta, action),
        hasMeta: meta !== undefined,
        lifetime: checkLifetime(result, action),
      };
    } catch (error) {
      stream.cancel(error).catch(() => {});
      throw error;
    }
  }
  throw new TypeError(
    `Cannot ${action}: the producer must return a ReadableStream, Uint8Array, AsyncIterable or { body, meta }: received ${
      describeValue(result)
    }`,
  );
}

function toStream(value: unknown): ReadableStream<Uint8Array> | undefined {
  if (value instanceof ReadableStream) {
    return value as ReadableStream<Uint8Array>;
  }
  if (value instanceof Uint8Array) {
    const bytes = value;
    return new ReadableStream({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    });
  }
  if (
    typeof value === "object" && value !== null && Symbol.asyncIterator in value
  ) {
    return fromAsyncIterable(value as AsyncIterable<Uint8Array>);
  }
  return undefined;
}

function fromAsyncIterable(
  iterable: AsyncIterable<Uint8Array>,
): ReadableStream<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= iterable[Symbol.asyncIterator]();
      const step = await iterator.next();
      if (step.done) controller.close();
      else controller.enqueue(step.value);
    },
    async cancel(reason) {
      await iterator?.return?.(reason);
    },
  }, { highWaterMark: 0 });
}
