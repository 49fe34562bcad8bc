/**
 * The download server's fetch handler: routes, the cached downloads, the
 * log. It needs no socket: call `app.fetch(new Request(...))` in a test.
 *
 * | route                 | answers                                                         |
 * | --------------------- | --------------------------------------------------------------- |
 * | `/`                   | the index page (HTML): entries, examples, curl commands         |
 * | `/stats`              | the counters and a summary of the cache (JSON)                  |
 * | `/downloads/<name>`   | the report, `?size=<bytes>&rate=<bytes/s>`, through the cache   |
 *
 * Every response carries a `Cache-Status` header (RFC 9211) saying how the
 * cache handled it: `hit`, `fwd=miss`, `fwd=miss; collapsed` (a join), or
 * `fwd=bypass` for the pages that do not use it (see cache_status.ts).
 *
 * @module
 */

import { CacheClosedError, type Entry, type StreamCache } from "../../mod.ts";
import { cached, type ServeOutcome } from "../../src/http/mod.ts";
import { formatAccess, watchBody } from "./access_log.ts";
import { cacheStatus } from "./cache_status.ts";
import { generateReport } from "./generate.ts";
import { indexPage } from "./index_page.ts";
import { parseDownload } from "./params.ts";
import { listEntries, ServerStats } from "./stats.ts";

/** Options for {@linkcode createApp}. */
export interface AppOptions {
  /** Where downloads are kept. The app never closes it. */
  cache: StreamCache;
  /** Receives each log line (requests, generations); none by default. */
  log?: (line: string) => void;
  /**
   * Log a line per request (else only generations).
   *
   * @default {true}
   */
  logRequests?: boolean;
}

/** The download server, as a fetch handler. */
export interface App {
  /** Answers one request. */
  fetch(request: Request): Promise<Response>;
  /** The counters `/stats` shows. */
  readonly stats: ServerStats;
}

const GET_OR_HEAD = new Set(["GET", "HEAD"]);

/**
 * Creates the download server's handler over `cache`.
 *
 * @param options The cache, and where log lines go.
 * @returns The app.
 */
export function createApp(options: AppOptions): App {
  const { cache, log = () => {}, logRequests = true } = options;
  const stats = new ServerStats();
  /** How the cache served each request, told by `onServe` before the response is returned. */
  const outcomes = new WeakMap<Request, ServeOutcome>();
  /** When each key's generation started, to log how long it took. */
  const started = new Map<string, number>();

  const onGenerated = (entry: Entry) => {
    const ms = () => elapsed(started.get(entry.key));
    entry.done.then(
      (size) => {
        stats.generation("completed");
        log(`stored ${entry.key} ${size} B in ${ms()}`);
      },
      (reason) => {
        stats.generation("failed");
        log(`failed ${entry.key} after ${entry.size} B: ${message(reason)}`);
      },
    ).finally(() => started.delete(entry.key));
  };

  const download = cached(
    (request) => {
      // The wrapper calls this once per missing key, with the request's URL
      // and the generation's own signal (aborted if the cache closes).
      const parsed = parseDownload(new URL(request.url));
      if (!parsed.ok) throw new TypeError(parsed.error); // checked before
      const { name, size, rate, key } = parsed.download;
      stats.generation("started");
      started.set(key, performance.now());
      log(`generating ${key} at ${rate} B/s`);
      const body = generateReport(name, size, { rate, signal: request.signal });
      return new Response(body, {
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-length": String(size),
          "content-disposition": `attachment; filename="${name}"`,
        },
      });
    },
    {
      cache,
      key: (request) => {
        const parsed = parseDownload(new URL(request.url));
        return parsed.ok ? parsed.download.key : undefined;
      },
      onServe: ({ request, outcome, entry }) => {
        outcomes.set(request, outcome);
        stats.served(outcome);
        if (outcome === "miss" && entry) onGenerated(entry);
      },
    },
  );

  async function route(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const known = path === "/" || path === "/stats" ||
      path.startsWith("/downloads/");
    if (!known) return text(404, `Not found: ${path}\n`);
    if (!GET_OR_HEAD.has(request.method)) {
      return text(405, `Method ${request.method} not allowed\n`, {
        allow: "GET, HEAD",
      });
    }
    const head = request.method === "HEAD";
    if (path === "/") {
      const page = indexPage(url.origin, await listEntries(cache));
      return new Response(head ? null : page, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (path === "/stats") {
      const json = JSON.stringify(await stats.snapshot(cache), null, 2) + "\n";
      return new Response(head ? null : json, {
        headers: {
          "content-type": "application/json",
          "cache-control": "no-store",
        },
      });
    }
    const parsed = parseDownload(url);
    if (!parsed.ok) {
      stats.rejected();
      return text(400, `${parsed.error}\n`);
    }
    return await download(request);
  }

  return {
    stats,
    async fetch(request) {
      const start = performance.now();
      const url = new URL(request.url);
      let routed: Response;
      try {
        routed = await route(request, url);
      } catch (error) {
        routed = error instanceof CacheClosedError
          ? text(503, "The server is shutting down\n")
          : text(500, `Internal error: ${message(error)}\n`);
      }
      const served = outcomes.get(request);
      const response = withHeader(routed, "cache-status", cacheStatus(served));
      if (!logRequests) return response;
      const headersMs = performance.now() - start;
      const outcome = served ?? "-";
      return watchBody(response, ({ bytes, note }) =>
        log(formatAccess({
          outcome,
          status: response.status,
          method: request.method,
          target: url.pathname + url.search,
          bytes,
          headersMs,
          totalMs: performance.now() - start,
          ...(note === undefined ? {} : { note }),
        })));
    },
  };
}

function text(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** `response` with one more header (a copy: its own headers may be immutable). */
function withHeader(response: Response, name: string, value: string): Response {
  const headers = new Headers(response.headers);
  headers.set(name, value);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function elapsed(since: number | undefined): string {
  if (since === undefined) return "?";
  const ms = performance.now() - since;
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
