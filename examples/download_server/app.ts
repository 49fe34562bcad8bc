/**
 * The download server's fetch handler: routes, the cached downloads, the
 * log. It needs no socket: call `app.fetch(new Request(...))` in a test.
 *
 * | route                 | answers                                                         |
 * | --------------------- | --------------------------------------------------------------- |
 * | `/`                   | the index page (HTML): entries, examples, curl commands         |
 * | `/stats`              | the cache's counters and bounds, the server's counters (JSON)   |
 * | `/metrics`            | the same in the Prometheus text exposition format               |
 * | `/downloads/<name>`   | the report, `?size=<bytes>&rate=<bytes/s>`, through the cache   |
 *
 * Every response carries a `Cache-Status` header (RFC 9211) saying how the
 * cache handled it: `hit`, `fwd=miss`, `fwd=miss; collapsed` (a join), or
 * `fwd=bypass` for the pages that do not use it (see cache_status.ts).
 *
 * Besides a line per request, the log has a line per event of the cache
 * (see cache_log.ts): a generation `stored` or `failed`, an entry `evicted`,
 * the cache `over budget` because of entries in use. Nothing polls.
 *
 * @module
 */

import {
  CacheClosedError,
  type CacheEvent,
  type Entry,
  type StreamCache,
} from "../../mod.ts";
import { cached, type ServeOutcome } from "../../src/http/mod.ts";
import { formatAccess, watchBody } from "./access_log.ts";
import { formatCacheEvent } from "./cache_log.ts";
import { cacheStatus } from "./cache_status.ts";
import { generateReport } from "./generate.ts";
import { indexPage } from "./index_page.ts";
import { createMetrics } from "./metrics.ts";
import { parseDownload } from "./params.ts";
import {
  type CacheLimits,
  listEntries,
  ServerStats,
  type StatsSnapshot,
} from "./stats.ts";

/** Options for {@linkcode createApp}. */
export interface AppOptions {
  /** Where downloads are kept. The app never closes it. */
  cache: StreamCache;
  /**
   * The bounds `cache` was made with, shown on `/stats` and `/metrics` (a
   * cache does not tell them).
   */
  limits?: CacheLimits;
  /** Receives each log line (requests, generations, cache events); none by default. */
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
  /**
   * Resolves once the cache has loaded what its store holds (sizes, access
   * times) and applied its bounds to it: one `prune()` at start. `/stats`
   * and `/metrics` wait for it, so that their numbers count what a previous
   * run left.
   */
  readonly ready: Promise<void>;
  /** What `/stats` shows now. */
  snapshot(): StatsSnapshot;
}

const GET_OR_HEAD = new Set(["GET", "HEAD"]);

/**
 * Creates the download server's handler over `cache`.
 *
 * @param options The cache, and where log lines go.
 * @returns The app.
 */
export function createApp(options: AppOptions): App {
  const { cache, limits = {}, log = () => {}, logRequests = true } = options;
  const stats = new ServerStats();
  const metrics = createMetrics(limits);
  const ready = cache.prune().catch(() => {}); // closed meanwhile: nothing to load
  const snapshot = () => stats.snapshot(cache, limits);
  /** How the cache served each request, told by `onServe` before the response is returned. */
  const outcomes = new WeakMap<Request, ServeOutcome>();
  /**
   * The generations running: when each started (to log how long it took),
   * and its entry once `onServe` has told it (for the index page).
   */
  const generating = new Map<string, { since: number; entry?: Entry }>();

  // What the cache does by itself: a line each, and the generation counts.
  const onCacheEvent = (event: Event) => {
    const { type, key } = event as CacheEvent;
    const since = key === undefined ? undefined : generating.get(key)?.since;
    const ended = type === "commit" || type === "fail" ||
      (event as CacheEvent).reason === "oversize";
    if (ended && key !== undefined) generating.delete(key);
    if (type === "commit") stats.generation("completed");
    if (type === "fail") stats.generation("failed");
    log(formatCacheEvent(event as CacheEvent, { since, limits }));
  };
  for (const type of ["commit", "fail", "evict", "overbudget"]) {
    cache.addEventListener(type, onCacheEvent);
  }

  const download = cached(
    (request) => {
      // The wrapper calls this once per missing key, with the request's URL
      // and the generation's own signal (aborted if the cache closes).
      const parsed = parseDownload(new URL(request.url));
      if (!parsed.ok) throw new TypeError(parsed.error); // checked before
      const { name, size, rate, key } = parsed.download;
      stats.generation("started");
      generating.set(key, { since: performance.now() });
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
        if (outcome === "uncacheable") stats.uncacheable();
        const running = entry && generating.get(entry.key);
        if (running && outcome === "miss") running.entry = entry;
      },
    },
  );

  async function route(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const known = path === "/" || path === "/stats" || path === "/metrics" ||
      path.startsWith("/downloads/");
    if (!known) return text(404, `Not found: ${path}\n`);
    if (!GET_OR_HEAD.has(request.method)) {
      return text(405, `Method ${request.method} not allowed\n`, {
        allow: "GET, HEAD",
      });
    }
    const head = request.method === "HEAD";
    if (path === "/") {
      const entries = await listEntries(cache, (key) => {
        const running = generating.get(key);
        return running && (running.entry?.size ?? 0);
      });
      const page = indexPage(url.origin, entries);
      return new Response(head ? null : page, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (path === "/stats" || path === "/metrics") {
      await ready;
      const now = snapshot();
      const [body, type] = path === "/stats"
        ? [JSON.stringify(now, null, 2) + "\n", "application/json"]
        : [await metrics.text(now), metrics.contentType];
      return new Response(head ? null : body, {
        headers: { "content-type": type, "cache-control": "no-store" },
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
    ready,
    snapshot,
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
