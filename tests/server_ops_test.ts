// The download server in operation (issue 14, points 7 and 8): /stats and
// /metrics (Prometheus text, written by prom-client) from the cache's own
// counters, a log line per cache event, and a cache bounded by default (a
// byte budget and a TTL, --max-bytes and --ttl to change them). First the
// flags' sizes and durations and the app in process (a MemoryStore, events
// awaited, nothing timed); then the server as a child process, scraped with
// curl, its log lines the events the tests wait for.

import { after, before, describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CacheEvent, type CacheEventType, StreamCache } from "../mod.ts";
import { createApp } from "../examples/download_server/app.ts";
import { reportBytes } from "../examples/download_server/generate.ts";
import {
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
} from "../examples/download_server/units.ts";
import { curl, skipReason } from "./_server_clients.ts";
import { parseMetrics, sample, type Scrape } from "./_server_metrics.ts";
import { runServer, ServerProcess } from "./_server_process.ts";

/** The repository (Node 20 runs this file built, from .build/tests/). */
const ROOT = fileURLToPath(
  new URL(import.meta.url.endsWith(".js") ? "../../" : "../", import.meta.url),
);

/** The child process tests wait for a server: more than Bun's default 5 s per test. */
const SLOW = { timeout: 30_000 };

/** The body of /stats, as far as these tests read it. */
interface Stats {
  entries: number;
  bytes: number;
  pinnedBytes: number;
  inProgress: number;
  hits: number;
  misses: number;
  joins: number;
  stale: number;
  failures: number;
  evictions: Record<string, number>;
  rejected: number;
  generations: { started: number; completed: number; failed: number };
  limits: { maxBytes?: number; ttl?: number };
}

/** Resolves with the next event of `type` that `cache` dispatches. */
function nextEvent(
  cache: StreamCache,
  type: CacheEventType,
): Promise<CacheEvent> {
  return new Promise((resolve) =>
    cache.addEventListener(type, (event) => resolve(event as CacheEvent), {
      once: true,
    })
  );
}

describe("download server flags: sizes and durations", () => {
  it("parseSize reads bytes, binary (k, MiB) and decimal (MB) units, and fractions", () => {
    const cases: [string, number][] = [
      ["1", 1],
      ["4096", 4096],
      ["10B", 10],
      ["1k", 1024],
      ["1K", 1024],
      ["1KiB", 1024],
      ["1kB", 1000],
      ["512MiB", 512 * 2 ** 20],
      ["512m", 512 * 2 ** 20],
      ["500MB", 500_000_000],
      ["1.5G", 1.5 * 2 ** 30],
      ["1 GiB", 2 ** 30],
      ["2TiB", 2 * 2 ** 40],
      ["0.5k", 512],
    ];
    for (const [text, bytes] of cases) {
      assert.equal(parseSize(text, "--max-bytes"), bytes, text);
    }
  });

  it("parseSize refuses what is not a size of at least 1 byte, naming the flag and the value", () => {
    for (
      const text of ["", "0", "0.4", "12x", "1iB", "-1k", "1e3", "k", "1PB"]
    ) {
      assert.throws(() => parseSize(text, "--max-bytes"), (error) => {
        assert.ok(error instanceof RangeError);
        assert.match(
          error.message,
          /^--max-bytes must be a size of at least 1 byte, such as 512MiB/,
        );
        assert.ok(
          error.message.endsWith(`received ${JSON.stringify(text)}`),
          error.message,
        );
        return true;
      }, text);
    }
  });

  it("parseDuration reads numbers with units, compounds and fractions, in ms", () => {
    const cases: [string, number][] = [
      ["250ms", 250],
      ["90s", 90_000],
      ["10m", 600_000],
      ["1h", 3_600_000],
      ["1.5h", 5_400_000],
      ["1h30m", 5_400_000],
      ["2d", 172_800_000],
      ["1H", 3_600_000],
    ];
    for (const [text, ms] of cases) {
      assert.equal(parseDuration(text, "--ttl"), ms, text);
    }
  });

  it("parseDuration refuses a bare number, an unknown unit and zero", () => {
    for (const text of ["", "10", "10x", "0s", "0.1ms", "h", "1h 30m", "-1s"]) {
      assert.throws(() => parseDuration(text, "--ttl"), (error) => {
        assert.ok(error instanceof RangeError);
        assert.match(
          error.message,
          /^--ttl must be a duration of at least 1 ms, each number with a unit \(ms, s, m, h, d\)/,
        );
        assert.ok(
          error.message.endsWith(`received ${JSON.stringify(text)}`),
          error.message,
        );
        return true;
      }, text);
    }
  });

  it("formatSize and formatDuration write what people read, and parse back", () => {
    assert.equal(formatSize(0), "0 B");
    assert.equal(formatSize(1023), "1023 B");
    assert.equal(formatSize(2 ** 30), "1 GiB");
    assert.equal(formatSize(1.5 * 2 ** 20), "1.5 MiB");
    assert.equal(formatSize(102_400), "100 KiB");
    assert.equal(formatDuration(3_600_000), "1h");
    assert.equal(formatDuration(5_400_000), "1h30m");
    assert.equal(formatDuration(1_500), "1s500ms");
    for (const ms of [1, 999, 60_000, 90_061_001]) {
      assert.equal(parseDuration(formatDuration(ms), "--ttl"), ms);
    }
  });
});

describe("download server /stats, /metrics and cache log (in process, no socket)", () => {
  it("/metrics gives the cache's counters in Prometheus text; /stats the same numbers, the bounds and the server's counts", async () => {
    const cache = new StreamCache({ maxBytes: 250, maxEntryBytes: 250 });
    try {
      const lines: string[] = [];
      const app = createApp({
        cache,
        limits: { maxBytes: 250, ttl: 60_000 },
        log: (line) => lines.push(line),
      });
      const at = (path: string, init?: RequestInit) =>
        app.fetch(new Request(`http://app.test${path}`, init));
      const scrape = async (): Promise<Scrape> => {
        const response = await at("/metrics");
        assert.equal(response.status, 200);
        assert.match(
          response.headers.get("content-type") ?? "",
          /^text\/plain; version=0\.0\.4/,
        );
        assert.equal(response.headers.get("cache-control"), "no-store");
        return parseMetrics(await response.text());
      };
      const download = async (name: string, size: number) => {
        const committed = nextEvent(cache, "commit");
        const response = await at(`/downloads/${name}?size=${size}&rate=1G`);
        assert.equal(response.status, 200);
        assert.deepEqual(
          new Uint8Array(await response.arrayBuffer()),
          reportBytes(name, size),
        );
        return committed;
      };

      const empty = await scrape();
      const types: [string, string][] = [
        ["streamcache_entries", "gauge"],
        ["streamcache_entries_in_progress", "gauge"],
        ["streamcache_bytes", "gauge"],
        ["streamcache_pinned_bytes", "gauge"],
        ["streamcache_max_bytes", "gauge"],
        ["streamcache_ttl_seconds", "gauge"],
        ["streamcache_lookups_total", "counter"],
        ["streamcache_evictions_total", "counter"],
        ["streamcache_failures_total", "counter"],
        ["download_generations_total", "counter"],
        ["download_requests_rejected_total", "counter"],
      ];
      for (const [name, type] of types) {
        assert.equal(empty.types.get(name), type, name);
        assert.ok(empty.help.get(name), `${name} has a help text`);
      }
      for (const outcome of ["hit", "miss", "join", "stale"]) {
        assert.equal(
          sample(empty, `streamcache_lookups_total{outcome="${outcome}"}`),
          0,
        );
      }
      for (const reason of ["bytes", "entries", "ttl", "maxAge", "oversize"]) {
        assert.equal(
          sample(empty, `streamcache_evictions_total{reason="${reason}"}`),
          0,
        );
      }
      assert.equal(sample(empty, "streamcache_max_bytes"), 250);
      assert.equal(sample(empty, "streamcache_ttl_seconds"), 60);

      await download("a.csv", 100);
      await download("b.csv", 100);
      const hit = await at("/downloads/a.csv?size=100", { method: "HEAD" });
      assert.equal(hit.headers.get("cache-status"), "streamcache; hit");
      const two = await scrape();
      assert.equal(sample(two, 'streamcache_lookups_total{outcome="miss"}'), 2);
      assert.equal(sample(two, 'streamcache_lookups_total{outcome="hit"}'), 1);
      assert.equal(sample(two, "streamcache_entries"), 2);
      assert.equal(sample(two, "streamcache_bytes"), 200);

      // The index page lists both without touching them: no hit counted,
      // and b stays the least recently used.
      const page = await (await at("/")).text();
      for (const name of ["a.csv", "b.csv"]) {
        assert.match(
          page,
          new RegExp(
            `>/downloads/${name}\\?size=100</a></td>.*<td>complete</td>`,
          ),
        );
      }
      // c: 300 bytes, over the 250-byte budget; b goes.
      const evicted = nextEvent(cache, "evict");
      await download("c.csv", 100);
      assert.equal((await evicted).key, "/downloads/b.csv?size=100");
      assert.equal((await at("/downloads/x?size=0")).status, 400);

      const metrics = await scrape();
      const stats = await (await at("/stats")).json() as Stats;
      assert.deepEqual(
        {
          entries: stats.entries,
          bytes: stats.bytes,
          misses: stats.misses,
          hits: stats.hits,
          joins: stats.joins,
          evictions: stats.evictions,
          failures: stats.failures,
          rejected: stats.rejected,
          generations: stats.generations,
          limits: stats.limits,
        },
        {
          entries: 2,
          bytes: 200,
          misses: 3,
          hits: 1,
          joins: 0,
          evictions: { bytes: 1, entries: 0, ttl: 0, maxAge: 0, oversize: 0 },
          failures: 0,
          rejected: 1,
          generations: { started: 3, completed: 3, failed: 0 },
          limits: { maxBytes: 250, ttl: 60_000 },
        },
      );
      const asMetrics: [string, number][] = [
        ["streamcache_entries", stats.entries],
        ["streamcache_bytes", stats.bytes],
        ["streamcache_pinned_bytes", stats.pinnedBytes],
        ["streamcache_entries_in_progress", stats.inProgress],
        ['streamcache_lookups_total{outcome="miss"}', stats.misses],
        ['streamcache_lookups_total{outcome="hit"}', stats.hits],
        ['streamcache_evictions_total{reason="bytes"}', 1],
        ['streamcache_evictions_total{reason="oversize"}', 0],
        ["streamcache_failures_total", 0],
        ['download_generations_total{event="started"}', 3],
        ['download_generations_total{event="completed"}', 3],
        ["download_requests_rejected_total", 1],
      ];
      for (const [key, value] of asMetrics) {
        assert.equal(sample(metrics, key), value, key);
      }

      const log = lines.join("\n");
      assert.match(log, /^stored \/downloads\/c\.csv\?size=100 100 B in /m);
      assert.match(
        log,
        /^evicted \/downloads\/b\.csv\?size=100 100 B \(bytes\)$/m,
      );
    } finally {
      await cache.close();
    }
  });

  it("a download larger than the budget streams whole to its client, and is logged and counted as evicted (oversize), not stored", async () => {
    const cache = new StreamCache({ maxBytes: 250, maxEntryBytes: 250 });
    try {
      const lines: string[] = [];
      const app = createApp({
        cache,
        limits: { maxBytes: 250 },
        log: (line) => lines.push(line),
      });
      const oversize = nextEvent(cache, "evict");
      const big = await app.fetch(
        new Request("http://app.test/downloads/big.csv?size=300&rate=1G"),
      );
      assert.deepEqual(
        new Uint8Array(await big.arrayBuffer()),
        reportBytes("big.csv", 300),
      );
      assert.equal((await oversize).reason, "oversize");
      assert.ok(
        lines.includes("evicted /downloads/big.csv?size=300 300 B (oversize)"),
        lines.join("\n"),
      );
      assert.ok(!lines.some((line) => line.startsWith("stored ")));
      const stats = app.snapshot();
      assert.equal(stats.evictions.oversize, 1);
      assert.equal(stats.entries, 0);
      assert.deepEqual(stats.generations, {
        started: 1,
        completed: 0,
        failed: 0,
      });
      const again = await app.fetch(
        new Request("http://app.test/downloads/big.csv?size=300", {
          method: "HEAD",
        }),
      );
      assert.equal(again.headers.get("cache-status"), "streamcache; fwd=miss");
    } finally {
      await cache.close();
    }
  });

  it("logs `over budget` once when entries being generated exceed the budget, and `failed` for a generation the cache's close abandons", async () => {
    const cache = new StreamCache({ maxBytes: 100 });
    const lines: string[] = [];
    try {
      const app = createApp({
        cache,
        limits: { maxBytes: 100 },
        log: (line) => lines.push(line),
      });
      const over = nextEvent(cache, "overbudget");
      // ~60 s at 1 KiB/s: still generating when the cache closes.
      const response = await app.fetch(
        new Request("http://app.test/downloads/slow.csv?size=60k&rate=1k"),
      );
      const reader = response.body!.getReader();
      const event = await over;
      assert.ok(event.pinnedBytes! > 100 && event.bytes! > 100);
      assert.ok(
        lines.some((line) =>
          /^over budget: \d+ B held, \d+ B of them being read or written; budget 100 B$/
            .test(line)
        ),
        lines.join("\n"),
      );
      const stats = app.snapshot();
      assert.equal(stats.inProgress, 1);
      assert.ok(stats.pinnedBytes > 100, `${stats.pinnedBytes} pinned`);
      assert.equal(
        stats.evictions.bytes,
        0,
        "an entry in use is never evicted",
      );

      const failed = nextEvent(cache, "fail");
      await cache.close();
      await failed;
      await reader.cancel().catch(() => {});
      assert.ok(
        lines.some((line) =>
          /^failed \/downloads\/slow\.csv\?size=61440 after [\d.]+ m?s: /
            .test(line)
        ),
        lines.join("\n"),
      );
      assert.equal(
        lines.filter((line) => line.startsWith("over budget")).length,
        1,
        "said once",
      );
      assert.equal(app.snapshot().generations.failed, 1);
    } finally {
      await cache.close();
    }
  });
});

describe("download server bounds and metrics end to end (child process, curl)", () => {
  let dir: string;
  const servers: ServerProcess[] = [];
  const startServer = async (name: string, args: readonly string[] = []) => {
    const server = await ServerProcess.start(join(dir, name), args);
    servers.push(server);
    return server;
  };
  const statsOf = async (server: ServerProcess): Promise<Stats> =>
    await (await fetch(server.at("/stats"))).json() as Stats;
  /** /metrics as a scraper gets it: with curl. */
  const scrape = async (server: ServerProcess): Promise<Scrape> => {
    const run = await curl(["--fail", server.at("/metrics")]);
    assert.equal(run.code, 0, run.stderr);
    return parseMetrics(new TextDecoder().decode(run.stdout));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "streamcache-server-ops-"));
  });

  after(async () => {
    for (const server of servers) await server.stop("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }, SLOW);

  it(
    "is bounded by default (1 GiB, 1 h), says so at start, and curl scrapes /metrics whose counters move with a miss, a join and a hit, as /stats says",
    { ...SLOW, skip: skipReason("curl") },
    async () => {
      const server = await startServer("default");
      const line = await server.waitFor(
        "the cache line",
        (lines) => lines.find((l) => l.startsWith("cache: ")),
      );
      assert.match(
        line,
        /^cache: \S+ \(0 entries, 0 B; --max-bytes 1 GiB, --ttl 1h\), pid \d+$/,
      );
      const start = await scrape(server);
      assert.equal(sample(start, "streamcache_max_bytes"), 2 ** 30);
      assert.equal(sample(start, "streamcache_ttl_seconds"), 3600);
      /** The miss, join and hit counters. */
      const lookups = (scrape: Scrape) =>
        ["miss", "join", "hit"].map((outcome) =>
          sample(scrape, `streamcache_lookups_total{outcome="${outcome}"}`)
        );
      assert.deepEqual(lookups(start), [0, 0, 0]);

      // A miss, then a hit, of a report made at once.
      const quick = "/downloads/quick.csv?size=10000";
      const missed = await fetch(server.at(`${quick}&rate=1G`));
      assert.equal(missed.headers.get("cache-status"), "streamcache; fwd=miss");
      assert.deepEqual(
        new Uint8Array(await missed.arrayBuffer()),
        reportBytes("quick.csv", 10_000),
      );
      assert.equal(await server.waitForStored(quick), 10_000);
      const afterMiss = await scrape(server);
      assert.deepEqual(lookups(afterMiss), [1, 0, 0]);
      assert.equal(sample(afterMiss, "streamcache_entries"), 1);
      assert.equal(sample(afterMiss, "streamcache_bytes"), 10_000);
      assert.equal(
        sample(afterMiss, 'download_generations_total{event="completed"}'),
        1,
      );
      const hit = await fetch(server.at(quick));
      assert.equal(hit.headers.get("cache-status"), "streamcache; hit");
      await hit.arrayBuffer();
      assert.deepEqual(lookups(await scrape(server)), [1, 0, 1]);

      // A join: a report that takes 1000 s at 1 KiB/s is still being made
      // however slow this machine is. Nobody waits for its end.
      const slow = "/downloads/slow.csv?size=1M&rate=1k";
      const generating = await fetch(server.at(slow));
      assert.equal(
        generating.headers.get("cache-status"),
        "streamcache; fwd=miss",
      );
      const afterSlowMiss = await scrape(server);
      assert.deepEqual(lookups(afterSlowMiss), [2, 0, 1]);
      assert.equal(sample(afterSlowMiss, "streamcache_entries_in_progress"), 1);
      assert.equal(
        sample(afterSlowMiss, 'download_generations_total{event="started"}'),
        2,
      );
      const joined = await fetch(server.at(slow));
      assert.equal(
        joined.headers.get("cache-status"),
        "streamcache; fwd=miss; collapsed",
      );
      const joinedReader = joined.body!.getReader();
      const first = await joinedReader.read();
      assert.ok(!first.done);
      assert.deepEqual(
        first.value,
        reportBytes("slow.csv", 1 << 20, 0, first.value.byteLength),
      );
      const afterJoin = await scrape(server);
      assert.deepEqual(lookups(afterJoin), [2, 1, 1]);
      assert.equal(sample(afterJoin, "streamcache_entries"), 1);
      assert.equal(sample(afterJoin, "streamcache_entries_in_progress"), 1);
      assert.ok(sample(afterJoin, "streamcache_pinned_bytes") > 0);

      const stats = await statsOf(server);
      assert.deepEqual(
        [
          stats.misses,
          stats.joins,
          stats.hits,
          stats.entries,
          stats.inProgress,
        ],
        [2, 1, 1, 1, 1],
      );
      assert.ok(
        stats.bytes > 10_000,
        `${stats.bytes} B: quick.csv and part of slow.csv`,
      );
      assert.deepEqual(stats.limits, { maxBytes: 2 ** 30, ttl: 3_600_000 });
      await generating.body?.cancel();
      await joinedReader.cancel();
    },
  );

  it(
    "with --max-bytes 100k, a flood of distinct downloads evicts the least recently used: bytes stay within the budget, each eviction logged and counted",
    { ...SLOW, skip: skipReason("curl") },
    async () => {
      const server = await startServer("budget", ["--max-bytes", "100k"]);
      await server.waitFor(
        "the cache line",
        (lines) => lines.find((l) => /--max-bytes 100 KiB,/.test(l)),
      );
      // A query string of its own is refused: it makes no entry.
      for (const junk of [1, 2, 3]) {
        const refused = await fetch(
          server.at(`/downloads/f1.csv?size=40000&junk=${junk}`),
        );
        assert.equal(refused.status, 400);
        await refused.body?.cancel();
      }
      const names = ["f1", "f2", "f3", "f4", "f5", "f6"].map((n) => `${n}.csv`);
      const size = 40_000; // 2 fit in 100 KiB, 3 do not
      for (const name of names) {
        const run = await curl([
          ...["--fail", "-o", "/dev/null", "-w", "%{size_download}"],
          server.at(`/downloads/${name}?size=${size}&rate=1G`),
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(new TextDecoder().decode(run.stdout), String(size));
        await server.waitForStored(`/downloads/${name}?size=${size}`);
      }
      // Four must go; the oldest four, each once its reader is done.
      const evicted = await server.waitFor("4 evictions", (lines) => {
        const found = lines.filter((l) => l.startsWith("evicted "));
        return found.length >= 4 ? found : undefined;
      });
      assert.deepEqual(
        evicted,
        names.slice(0, 4).map((name) =>
          `evicted /downloads/${name}?size=${size} ${size} B (bytes)`
        ),
      );
      const stats = await statsOf(server);
      assert.ok(stats.bytes <= 100 * 1024, `${stats.bytes} B held`);
      assert.equal(stats.entries, 2);
      assert.equal(stats.bytes, 2 * size);
      assert.equal(stats.evictions.bytes, 4);
      assert.equal(stats.rejected, 3);
      const metrics = await scrape(server);
      assert.equal(
        sample(metrics, 'streamcache_evictions_total{reason="bytes"}'),
        4,
      );
      assert.ok(sample(metrics, "streamcache_bytes") <= 100 * 1024);
      assert.equal(sample(metrics, "streamcache_max_bytes"), 100 * 1024);

      // The newest is still a hit; the oldest is generated again.
      const newest = await fetch(
        server.at(`/downloads/${names[5]}?size=${size}`),
      );
      assert.equal(newest.headers.get("cache-status"), "streamcache; hit");
      await newest.body?.cancel();
      const oldest = await fetch(
        server.at(`/downloads/${names[0]}?size=${size}&rate=1G`),
      );
      assert.equal(oldest.headers.get("cache-status"), "streamcache; fwd=miss");
      assert.deepEqual(
        new Uint8Array(await oldest.arrayBuffer()),
        reportBytes(names[0]!, size),
      );
    },
  );

  it(
    "with --ttl 1s, a download nobody asks for again expires: logged and counted as ttl, and asked again it is a miss",
    SLOW,
    async () => {
      const server = await startServer("ttl", ["--ttl", "1s"]);
      const key = "/downloads/brief.csv?size=1000";
      const first = await fetch(server.at(`${key}&rate=1G`));
      assert.equal(first.headers.get("cache-status"), "streamcache; fwd=miss");
      await first.arrayBuffer();
      await server.waitForStored(key);
      // The sweep (every --ttl, here 1 s) finds it idle past its TTL.
      await server.waitFor(
        "its expiry",
        (lines) => lines.find((l) => l === `evicted ${key} 1000 B (ttl)`),
        20_000, // 1 s idle, then a sweep within 1 s: more on a loaded machine
      );
      const stats = await statsOf(server);
      assert.equal(stats.evictions.ttl, 1);
      assert.equal(stats.entries, 0);
      assert.equal(stats.bytes, 0);
      const again = await fetch(server.at(`${key}&rate=1G`));
      assert.equal(again.headers.get("cache-status"), "streamcache; fwd=miss");
      await again.arrayBuffer();
    },
  );

  it(
    "a restart with a smaller --max-bytes evicts down to it before it says what the cache holds",
    SLOW,
    async () => {
      const first = await startServer("restart");
      for (const name of ["r1.csv", "r2.csv"]) {
        const key = `/downloads/${name}?size=4000`;
        const response = await fetch(first.at(`${key}&rate=1G`));
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        assert.equal(await first.waitForStored(key), 4000);
      }
      assert.deepEqual(await first.stop("SIGTERM"), { code: 0, signal: null });

      const next = await startServer("restart", ["--max-bytes", "5k"]);
      const line = await next.waitFor(
        "the cache line",
        (lines) => lines.find((l) => l.startsWith("cache: ")),
      );
      assert.match(
        line,
        /^cache: \S+ \(1 entry, 3\.9 KiB; --max-bytes 5 KiB, --ttl 1h\), pid \d+$/,
      );
      const before = next.lines.slice(0, next.lines.indexOf(line));
      const evicted = before.filter((l) => l.startsWith("evicted "));
      assert.equal(evicted.length, 1, before.join("\n"));
      assert.match(
        evicted[0]!,
        /^evicted \/downloads\/r[12]\.csv\?size=4000 4000 B \(bytes\)$/,
      );
      const stats = await statsOf(next);
      assert.deepEqual([stats.entries, stats.bytes, stats.evictions.bytes], [
        1,
        4000,
        1,
      ]);
    },
  );

  it(
    "refuses a bad --max-bytes or --ttl: exit 2, the reason and the usage on stderr, nothing started",
    { timeout: HEAVY_TIMEOUT_MS },
    async () => {
      const cases: [string[], RegExp][] = [
        [
          ["--max-bytes", "12x"],
          /^--max-bytes must be a size .*received "12x"$/m,
        ],
        [["--max-bytes", "0"], /^--max-bytes must be a size .*received "0"$/m],
        [["--ttl", "10"], /^--ttl must be a duration .*received "10"$/m],
        [["--ttl", "0s"], /^--ttl must be a duration .*received "0s"$/m],
        [["--max-byte", "1G"], /--max-byte/],
      ];
      // One at a time: each loads the server's modules before it refuses.
      for (const [args, reason] of cases) {
        const run = await runServer(["--dir", join(dir, "never"), ...args]);
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, reason, args.join(" "));
        assert.match(run.stderr, /^usage: main\.ts /m);
        assert.equal(run.stdout, "", "it never listened");
      }
    },
  );

  it(
    "--help gives the flags and their defaults, as the server's README does",
    { timeout: 120_000 },
    async () => {
      const help = await runServer(["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /--max-bytes .*default 1GiB$/m);
      assert.match(help.stdout, /--ttl .*default 1h$/m);
      const readme = await readFile(
        join(ROOT, "examples/download_server/README.md"),
        "utf8",
      );
      assert.ok(
        readme.includes("```text\n" + help.stdout + "```"),
        `the README shows the output of --help in a text block:\n${help.stdout}`,
      );
    },
  );
});
