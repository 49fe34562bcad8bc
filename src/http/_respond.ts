// Builds the response for one request from a cache entry: status and headers
// from the entry's metadata, a strong ETag once it is complete, 304 for a
// matching If-None-Match, 206/416 for a single Range (also while the entry is
// still written), and no body for HEAD.

import type { Entry } from "../entry.ts";
import { type HttpMeta, noneMatch } from "./_policy.ts";
import { parseRange, resolveRange } from "./_range.ts";

type ReadResult = Awaited<
  ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>
>;

/** Lets the wrapper see each response body start and end (for `abortWhenUnread`). */
export interface BodyWatch {
  opened(): void;
  closed(cancelled: boolean): void;
}

export async function respond(
  entry: Entry,
  request: Request,
  watch: BodyWatch | undefined,
): Promise<Response> {
  const meta = entry.meta as HttpMeta | undefined;
  if (typeof meta?.status !== "number" || !Array.isArray(meta.headers)) {
    // The key's entry was made by other code sharing this cache.
    throw new TypeError(
      `Cannot serve entry ${
        JSON.stringify(entry.key).slice(0, 64)
      }: its metadata was not written by cached()`,
    );
  }
  const headers = new Headers(meta.headers as [string, string][]);
  const etag = entry.complete ? `"${entry.id}"` : undefined;
  if (etag) headers.set("etag", etag);
  const head = request.method === "HEAD";

  const ifNoneMatch = request.headers.get("if-none-match");
  if (etag && ifNoneMatch !== null && noneMatch(ifNoneMatch, etag)) {
    return new Response(null, {
      status: 304,
      headers: validatorHeaders(headers),
    });
  }
  if (meta.status !== 200) {
    return reply(
      entry,
      { start: 0, end: undefined },
      meta.status,
      headers,
      head,
      watch,
      meta,
    );
  }
  headers.set("accept-ranges", "bytes");

  let range = parseRange(request.headers.get("range"));
  const ifRange = request.headers.get("if-range");
  // If-Range with a date never matches: the cache keeps no Last-Modified.
  if (range && ifRange !== null && ifRange.trim() !== etag) range = undefined;
  if (!range) {
    return reply(
      entry,
      { start: 0, end: undefined },
      200,
      headers,
      head,
      watch,
      meta,
    );
  }

  // The total length: known once complete, or declared by the handler.
  let total = entry.complete ? entry.size : meta.length;
  const open = "suffix" in range || range.last === undefined;
  if (total === undefined && open) {
    // A suffix or open-ended range needs the total; wait for the end.
    total = await entry.done;
  }
  if (total !== undefined) {
    const span = resolveRange(range, total);
    if (!span) {
      headers.set("content-range", `bytes */${total}`);
      return new Response(null, {
        status: 416,
        headers: validatorHeaders(headers, true),
      });
    }
    headers.set(
      "content-range",
      `bytes ${span.start}-${span.end - 1}/${total}`,
    );
    return reply(entry, span, 206, headers, head, watch, meta);
  }
  // `first-last` on an entry still written, of unknown length: whether `first`
  // exists is only known once its first byte does.
  const { first, last } = range as { first: number; last: number };
  const reader = entry.readable({ start: first, end: last + 1 }).getReader();
  let chunk: ReadResult;
  try {
    chunk = await reader.read();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    headers.set("content-range", `bytes */${entry.size}`);
    return new Response(null, {
      status: 416,
      headers: validatorHeaders(headers, true),
    });
  }
  const end = Math.min(last + 1, entry.complete ? entry.size : Infinity);
  headers.set(
    "content-range",
    `bytes ${first}-${end - 1}/${entry.complete ? entry.size : "*"}`,
  );
  headers.set("content-length", String(end - first));
  if (head) {
    await reader.cancel();
    return new Response(null, { status: 206, headers });
  }
  return new Response(watched(prepend(chunk, reader), watch), {
    status: 206,
    headers,
  });
}

function reply(
  entry: Entry,
  span: { start: number; end: number | undefined },
  status: number,
  headers: Headers,
  head: boolean,
  watch: BodyWatch | undefined,
  meta: HttpMeta,
): Response {
  const length = span.end !== undefined
    ? span.end - span.start
    : entry.complete
    ? entry.size
    : meta.length;
  if (length !== undefined) headers.set("content-length", String(length));
  const init = {
    status,
    statusText: status === meta.status ? meta.statusText : "",
    headers,
  };
  if (head) return new Response(null, init);
  const body = span.end === undefined
    ? entry.readable({ start: span.start })
    : entry.readable({ start: span.start, end: span.end });
  return new Response(watched(body, watch), init);
}

/** The headers a 304 or 416 keeps (RFC 9110 15.4.5). */
function validatorHeaders(headers: Headers, withRange = false): Headers {
  const kept = new Headers();
  for (
    const name of [
      "etag",
      "cache-control",
      "content-location",
      "date",
      "expires",
      "vary",
    ]
  ) {
    const value = headers.get(name);
    if (value !== null) kept.set(name, value);
  }
  if (withRange) kept.set("content-range", headers.get("content-range")!);
  return kept;
}

/** A stream of `first` followed by the rest of `reader`. */
function prepend(
  first: ReadResult,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  let pending: ReadResult | undefined = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending ?? await reader.read();
      pending = undefined;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** Reports a body's start and end to `watch`; otherwise passes it through. */
function watched(
  body: ReadableStream<Uint8Array>,
  watch: BodyWatch | undefined,
): ReadableStream<Uint8Array> {
  if (!watch) return body;
  watch.opened();
  let ended = false;
  const end = (cancelled: boolean) => {
    if (!ended) {
      ended = true;
      watch.closed(cancelled);
    }
  };
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end(false);
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end(false);
        throw error;
      }
    },
    cancel(reason) {
      end(true);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
