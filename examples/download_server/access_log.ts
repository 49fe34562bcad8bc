/**
 * One log line per request, written when its response body has ended:
 *
 * ```text
 * miss  200 GET /downloads/q3.csv?size=1M 1048576 B  headers 2.1 ms  total 4012.5 ms
 * join  206 GET /downloads/q3.csv?size=1M 1000 B  headers 0.4 ms  total 803.0 ms
 * hit   200 GET /downloads/q3.csv?size=1M 1048576 B  headers 0.6 ms  total 9.8 ms
 * -     400 GET /downloads/q3.csv?size=0 152 B  headers 0.1 ms  total 0.2 ms
 * join  200 GET /downloads/big.csv 65536 B  headers 0.5 ms  total 120.3 ms (client disconnected)
 * ```
 *
 * The first word is how the cache served it (`miss`, `join`, `hit`, `stale`,
 * `revalidated`, `uncacheable`, `bypass`) or `-` for pages and errors that are
 * not cached.
 * Headers is the time until the handler returned the response, total until
 * its body ended; bytes are the body bytes handed to the server.
 *
 * @module
 */

/** What is known of a request when its response body ends. */
export interface AccessRecord {
  /** The cache's outcome, or `-`. */
  readonly outcome: string;
  readonly status: number;
  readonly method: string;
  /** Path and query. */
  readonly target: string;
  /** Body bytes delivered. */
  readonly bytes: number;
  /** Milliseconds until the response (its headers) was ready. */
  readonly headersMs: number;
  /** Milliseconds until its body ended. */
  readonly totalMs: number;
  /** Why the body ended early, if it did. */
  readonly note?: string;
}

/**
 * Formats one log line.
 *
 * @param record The request.
 * @returns The line, without a newline.
 */
export function formatAccess(record: AccessRecord): string {
  const { outcome, status, method, target, bytes, headersMs, totalMs } = record;
  const note = record.note ? ` (${record.note})` : "";
  return `${outcome.padEnd(5)} ${status} ${method} ${target} ${bytes} B` +
    `  headers ${headersMs.toFixed(1)} ms  total ${
      totalMs.toFixed(1)
    } ms${note}`;
}

/** How a response body ended: read to its end, cancelled by the server (the client left), or errored. */
export interface BodyEnd {
  readonly bytes: number;
  readonly note?: string;
}

/**
 * Passes `response` through, calling `ended` once when its body has been
 * read to the end, cancelled or errored (at once if it has no body).
 *
 * @param response The response to watch.
 * @param ended Called once, with the bytes delivered and how it ended.
 * @returns A response with the same status, headers and body bytes.
 */
export function watchBody(
  response: Response,
  ended: (end: BodyEnd) => void,
): Response {
  if (!response.body) {
    ended({ bytes: 0 });
    return response;
  }
  // Deno cancels a body once it has sent Content-Length bytes of it.
  const length = Number(response.headers.get("content-length") ?? NaN);
  let bytes = 0;
  let done = false;
  const end = (note?: string) => {
    if (done) return;
    done = true;
    ended(note === undefined ? { bytes } : { bytes, note });
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (error) {
        end(`failed: ${error instanceof Error ? error.message : error}`);
        throw error;
      }
      if (result.done) {
        end();
        controller.close();
      } else {
        bytes += result.value.byteLength;
        controller.enqueue(result.value);
      }
    },
    cancel(reason) {
      end(bytes >= length ? undefined : "client disconnected");
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
