// Builds the response for one request from a cache entry: the stored status
// and headers with a Date, an Age, the validators (ETag, Last-Modified)
// from the first byte on, the preconditions of RFC 9110 section 13 (304,
// 412), a single Range (206, 416), also while the entry is still generated,
// and HEAD without a body.

import type { Entry } from "../entry.ts";
import { currentAge } from "./_age.ts";
import {
  evaluatePreconditions,
  ifRangeMatches,
  type Validators,
} from "./_conditionals.ts";
import { headBody } from "./_head.ts";
import { formatHttpDate, parseHttpDate } from "./_http_date.ts";
import { type HttpMeta, readMeta } from "./_meta.ts";
import {
  type ByteRange,
  isClosed,
  parseRange,
  resolveRange,
  type Span,
} from "./_range.ts";
import { type Lease, NO_LEASE } from "./_unread_watch.ts";

/** What {@linkcode respond} answers from. */
export interface RespondOptions {
  /** The entry to serve. */
  readonly entry: Entry;
  /** The client's request. */
  readonly request: Request;
  /**
   * Whether this request's handler call made the entry: its response was
   * made for it, so it gets no Age unless the handler's response had one.
   */
  readonly produced: boolean;
  /** This client's hold on the entry; released once answered or read. */
  readonly lease: Lease;
  /** Headers only this client may see (its own response's `no-cache="…"` fields). */
  readonly unshared?: readonly (readonly [string, string])[];
  /** The cache's clock (ms since the epoch), for Date and Age. */
  readonly clock: () => number;
}

/** Statuses whose responses never have a body (Fetch's null body statuses). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The fields a 304 keeps (RFC 9110 15.4.5), and Age; 412 and 416 keep them too, with a Date of their own. */
const CONDITIONAL_FIELDS = [
  "cache-control",
  "content-location",
  "date",
  "etag",
  "expires",
  "vary",
  "age",
];

/** The response to `request` from `entry`. */
export async function respond(options: RespondOptions): Promise<Response> {
  try {
    return await answer(options);
  } catch (error) {
    options.lease.release(isAbort(error, options.request));
    throw error;
  }
}

async function answer(options: RespondOptions): Promise<Response> {
  const { entry, request, produced, lease, clock } = options;
  const meta = readMeta(entry);
  const now = clock();
  const headers = new Headers(meta.headers as [string, string][]);
  for (const [name, value] of options.unshared ?? []) {
    headers.append(name, value);
  }
  // RFC 9110 6.6.1: the handler's Date is the origin's and stays (a cache
  // must not change it); without one, the wrapper is the origin server and
  // each response is a message it originates now.
  if (!headers.has("date")) headers.set("date", formatHttpDate(now));
  const age = currentAge(meta, now);
  if (age !== undefined && (!produced || (meta.age ?? 0) > 0)) {
    headers.set("age", String(age));
  }
  const reply = new Reply({ entry, request, meta, headers, lease, now });
  // RFC 9110 13.2.1: preconditions and ranges are for a 2xx representation.
  if (meta.status < 200 || meta.status > 299) return reply.whole();

  if (!headers.has("etag")) headers.set("etag", strongETag(entry.id));
  const own = parseHttpDate(headers.get("last-modified"));
  const lastModified = own ?? defaultLastModified(headers, meta, now);
  if (!headers.has("last-modified") && lastModified !== undefined) {
    headers.set("last-modified", formatHttpDate(lastModified));
  }
  const validators: Validators = {
    etag: headers.get("etag")!,
    lastModified,
    // 8.8.2.2: a date tells versions apart only if it is the handler's own
    // and the representation was made at least a second after it. The
    // default one (a Date, or the creation time) never is one, so If-Range
    // with a date never matches it.
    strongDate: own !== undefined && meta.created !== undefined &&
      own <= meta.created - 1000,
  };
  const verdict = evaluatePreconditions(request.headers, validators);
  if (verdict !== undefined) return reply.bodiless(verdict);
  if (meta.status !== 200) return reply.whole();

  headers.set("accept-ranges", "bytes");
  let range = parseRange(request.headers.get("range"));
  const ifRange = request.headers.get("if-range");
  if (range && ifRange !== null && !ifRangeMatches(ifRange, validators)) {
    range = undefined; // 13.1.5: the client's copy is another version
  }
  if (!range) return reply.whole();
  return await reply.partial(range);
}

/** What a {@linkcode Reply} answers from. */
interface ReplyOptions {
  readonly entry: Entry;
  readonly request: Request;
  readonly meta: HttpMeta;
  /** The response headers so far; the reply adds its own. */
  readonly headers: Headers;
  readonly lease: Lease;
  /** When the response is made, by the cache's clock. */
  readonly now: number;
}

/** The ways one request can be answered from its entry. */
class Reply {
  readonly #entry: Entry;
  readonly #request: Request;
  readonly #meta: HttpMeta;
  readonly #headers: Headers;
  readonly #lease: Lease;
  readonly #head: boolean;
  readonly #now: number;

  constructor(options: ReplyOptions) {
    this.#entry = options.entry;
    this.#request = options.request;
    this.#meta = options.meta;
    this.#headers = options.headers;
    this.#lease = options.lease;
    this.#head = options.request.method === "HEAD";
    this.#now = options.now;
  }

  /** The whole representation, with its stored status. */
  whole(): Response {
    const entry = this.#entry;
    const length = entry.complete ? entry.size : this.#meta.length;
    const status = this.#meta.status;
    const init = {
      status,
      statusText: this.#meta.statusText,
      headers: this.#headers,
    };
    if (NULL_BODY.has(status)) {
      this.#lease.release(false);
      return new Response(null, init);
    }
    if (length !== undefined) {
      this.#headers.set("content-length", String(length));
    }
    if (this.#head) {
      this.#lease.release(false);
      return new Response(
        length === undefined ? headBody(entry.done) : null,
        init,
      );
    }
    return new Response(watched(entry.readable(), this.#lease), init);
  }

  /** A 304, 412 or 416 without a body, with the fields RFC 9110 15.4.5 lists. */
  bodiless(status: 304 | 412 | 416, total?: number): Response {
    this.#lease.release(false);
    const kept = new Headers();
    for (const name of CONDITIONAL_FIELDS) {
      const value = this.#headers.get(name);
      if (value !== null) kept.set(name, value);
    }
    if (status !== 304) kept.set("date", formatHttpDate(this.#now)); // the cache's own message
    if (status === 416) kept.set("content-range", `bytes */${total}`);
    return new Response(null, { status, headers: kept });
  }

  /**
   * A 206 for a single range, or 416. On an entry still generated whose
   * length is not known, it answers once it can do so exactly: a `first-last`
   * range as soon as byte `last` exists (`Content-Range: bytes
   * first-last/*`) or the entry has ended, any other range once the entry has
   * ended. A 206 never promises a byte it does not send.
   */
  async partial(range: ByteRange): Promise<Response> {
    const entry = this.#entry;
    let total = entry.complete ? entry.size : this.#meta.length;
    let span: Span | undefined;
    if (total === undefined && isClosed(range)) {
      total = await this.#lastByteOrEnd(range.last);
      if (total === undefined) {
        span = { start: range.first, end: range.last + 1 };
      }
    } else if (total === undefined) {
      total = await abortable(entry.done, this.#request.signal);
    }
    if (total === 0 && "suffix" in range && range.suffix > 0) {
      // 14.1.1: satisfiable, yet no Content-Range can name zero bytes.
      return this.whole();
    }
    if (total !== undefined) {
      span = resolveRange(range, total);
      if (!span) return this.bodiless(416, total);
    }
    const { start, end } = span!;
    this.#headers.set(
      "content-range",
      `bytes ${start}-${end - 1}/${total ?? "*"}`,
    );
    this.#headers.set("content-length", String(end - start));
    const init = { status: 206, headers: this.#headers };
    if (this.#head) {
      this.#lease.release(false);
      return new Response(null, init);
    }
    return new Response(
      watched(entry.readable({ start, end }), this.#lease),
      init,
    );
  }

  /**
   * Waits until byte `last` exists (resolves `undefined`, or the total if the
   * entry has completed meanwhile) or the entry has ended (its total).
   */
  async #lastByteOrEnd(last: number): Promise<number | undefined> {
    const entry = this.#entry;
    if (entry.size > last) return entry.complete ? entry.size : undefined;
    if (!entry.complete) {
      const probe = entry.readable({ start: last, end: last + 1 }).getReader();
      try {
        const { done } = await abortable(probe.read(), this.#request.signal);
        if (!done) return entry.complete ? entry.size : undefined;
      } catch (error) {
        // A RangeError: the entry ended before byte `last`.
        if (!(error instanceof RangeError)) throw error;
      } finally {
        probe.cancel().catch(() => {});
      }
    }
    return await entry.done;
  }
}

/**
 * A strong entity tag (RFC 9110 8.8.3) for an entry id: characters an
 * entity tag may not hold, and `%`, are percent-encoded, so distinct ids
 * give distinct tags.
 */
function strongETag(id: string): string {
  return `"${id.replace(/[^\x21\x23\x24\x26-\x7e]/gu, encodeURIComponent)}"`;
}

/**
 * RFC 9111 4.3.2: without a Last-Modified, the response's Date (if not in
 * the future), else the time it arrived, stands for it.
 */
function defaultLastModified(
  headers: Headers,
  meta: HttpMeta,
  now: number,
): number | undefined {
  const date = parseHttpDate(headers.get("date"));
  if (date !== undefined && date <= (meta.created ?? now)) {
    return date;
  }
  return meta.created === undefined
    ? undefined
    : Math.floor(meta.created / 1000) * 1000;
}

/** `promise`, or a rejection with the signal's reason once the client disconnects. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** Whether `error` is the client's disconnect. */
function isAbort(error: unknown, request: Request): boolean {
  return request.signal.aborted && error === request.signal.reason;
}

/** Releases `lease` when the body ends (cancelled: the client disconnected). */
function watched(
  body: ReadableStream<Uint8Array>,
  lease: Lease,
): ReadableStream<Uint8Array> {
  if (lease === NO_LEASE) return body;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          lease.release(false);
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        lease.release(false);
        throw error;
      }
    },
    cancel(reason) {
      lease.release(true);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
