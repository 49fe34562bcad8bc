/**
 * The streamcache download server: slow, generated downloads, each made once
 * and streamed to every client that asks, kept on disk across restarts.
 *
 *     npm start                                          # Deno, port 8000
 *     npm start -- --port 0 --dir /tmp/dl                # through start.mjs
 *     npm start -- --max-bytes 512MiB --ttl 10m          # a smaller cache
 *     bun examples/download_server/main.ts --port 0      # a free port
 *     node examples/download_server/main.ts              # Node 22.18+ / 24
 *     npm start -- --redis redis://127.0.0.1:6379        # one member of a fleet
 *
 * Options: `--port N` (else the `PORT` variable, else 8000; 0 picks a free
 * port), `--dir PATH` the cache directory (default `.cache/downloads`),
 * `--quiet` no log line per request (the cache's events are still logged).
 * It listens on 127.0.0.1 only.
 *
 * `--redis URL` (else the `STREAMCACHE_REDIS` variable) makes it one member
 * of a fleet: its store is its cache directory layered over a RedisStore
 * that every server given the same Redis shares (see store.ts), so a
 * download is generated once in the whole fleet, and every other member
 * streams it from Redis as it is generated and keeps a copy on its disk.
 *
 * The cache is bounded, so that the server cannot fill a disk: `--max-bytes
 * SIZE` is its byte budget (default {@linkcode DEFAULT_MAX_BYTES}, 1 GiB;
 * `512MiB`, `2G`, `500MB`, see units.ts), past which the least recently used
 * downloads are evicted (never one being read or generated), and a download
 * larger than it streams to its clients but is not kept; `--ttl DURATION`
 * is how long a download may go unrequested before it expires (default
 * {@linkcode DEFAULT_TTL}, 1 h; `90s`, `10m`, `1h30m`). Expired entries go
 * on access and in a sweep every {@linkcode SWEEP_MS} (or every `--ttl`, if
 * shorter), on a timer that never keeps the process alive.
 *
 * The first line it prints is `listening on <url>`, the second names the
 * cache directory, what it holds, its bounds and the process id; then one
 * line per request (see access_log.ts) and per event of the cache (see
 * cache_log.ts).
 *
 * SIGINT, SIGTERM or SIGHUP stops it: it stops listening, closes the cache
 * (generations still running are abandoned, not kept, and their downloads
 * break) and exits 0. Signals that arrive while it stops are ignored: one
 * Ctrl-C under `npm start` arrives up to three times (from the terminal, and
 * forwarded by npm and by start.mjs). A stop that takes longer than
 * {@linkcode STOP_DEADLINE_MS} exits at once, with 1.
 *
 * On Deno it needs `--allow-net=127.0.0.1 --allow-read=<dir>
 * --allow-write=<dir> --allow-env=PORT,STREAMCACHE_REDIS`, and with Redis
 * the network to it (or its socket); `npm start` (start.mjs) grants exactly
 * these for the `--dir` and `--redis` it is given.
 *
 * @module
 */

import process from "node:process";
import { setTimeout } from "node:timers";
import { parseArgs } from "node:util";
import { StreamCache } from "../../mod.ts";
import { createApp } from "./app.ts";
import { serve } from "./serve.ts";
import { openStore, REDIS_ENV, redisClientOptions } from "./store.ts";
import {
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
} from "./units.ts";

const HOSTNAME = "127.0.0.1";
/** How long a stop may take before the server exits without finishing it. */
const STOP_DEADLINE_MS = 10_000;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** The default byte budget of the cache: 1 GiB. */
const DEFAULT_MAX_BYTES = "1GiB";
/** The default idle time after which a download expires: 1 h. */
const DEFAULT_TTL = "1h";
/** The longest time between two sweeps for expired entries: 1 min. */
const SWEEP_MS = 60_000;
const USAGE =
  `usage: main.ts [--port N] [--dir PATH] [--max-bytes SIZE] [--ttl DURATION] [--redis URL] [--quiet]
  --port       0 to 65535; default: PORT in the environment, else 8000
  --dir        the cache directory; default .cache/downloads
  --max-bytes  the cache's byte budget, e.g. 512MiB, 2G, 500MB; default ${DEFAULT_MAX_BYTES}
  --ttl        how long a download may go unrequested, e.g. 90s, 10m, 1h30m; default ${DEFAULT_TTL}
  --redis      share downloads with every server on this Redis (a fleet): redis://host:port,
               rediss://..., unix:///path; default: ${REDIS_ENV} in the environment, else none
  --quiet      no log line per request`;

/** The command line, checked. */
interface Args {
  port: number;
  dir: string;
  maxBytes: number;
  ttl: number;
  redis: string | undefined;
  quiet: boolean;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      dir: { type: "string", default: ".cache/downloads" },
      "max-bytes": { type: "string", default: DEFAULT_MAX_BYTES },
      ttl: { type: "string", default: DEFAULT_TTL },
      redis: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const text = values.port ?? process.env.PORT ?? "8000";
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) {
    throw new RangeError(
      `--port (or PORT) must be a port number from 0 to 65535: received ${
        JSON.stringify(text)
      }`,
    );
  }
  const redis = values.redis ?? (process.env[REDIS_ENV] || undefined);
  if (redis !== undefined) redisClientOptions(redis); // checked now
  return {
    port,
    dir: values.dir,
    redis,
    maxBytes: parseSize(values["max-bytes"], "--max-bytes"),
    ttl: parseDuration(values.ttl, "--ttl"),
    quiet: values.quiet,
  };
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (error) {
    console.error(
      `${error instanceof Error ? error.message : error}\n${USAGE}`,
    );
    process.exit(2);
  }
  const { maxBytes, ttl } = args;
  let opened;
  try {
    opened = await openStore(args.dir, args.redis);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const cache = new StreamCache({
    store: opened.store,
    maxBytes,
    maxEntryBytes: maxBytes, // a larger download streams, but is not kept
    ttl,
    sweepInterval: Math.min(ttl, SWEEP_MS),
  });
  const log = (line: string) => console.log(line);
  const app = createApp({
    cache,
    limits: { maxBytes, ttl },
    log,
    logRequests: !args.quiet,
  });
  const server = await serve(app.fetch, {
    hostname: HOSTNAME,
    port: args.port,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    log(`${signal}: stopping`);
    // Ends the process if the stop hangs; unref'd, so it never keeps it alive.
    setTimeout(() => {
      console.error(`not stopped after ${STOP_DEADLINE_MS} ms: exiting`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    const stopped = server.stop(); // no new connections
    await cache.close(); // running generations end, open downloads with them
    await opened.close(); // the Redis connection, if any
    server.closeConnections();
    await stopped;
    log("stopped");
    // Exit now rather than when the event loop drains: a runtime drops its
    // signal handlers as it winds down, and a late repeat of the signal
    // (forwarded by npm and start.mjs) would then kill it.
    process.exit(0);
  };
  const onSignal = (signal: string) => {
    if (stopping) return; // the same stop, told again (see above)
    stopping = true;
    stop(signal).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  };
  // Before the first line: whoever reads it may signal at once.
  for (const name of SIGNALS) process.on(name, onSignal);

  log(`listening on ${server.url}`);
  await app.ready; // the store's entries counted, the bounds applied
  const { entries, bytes } = cache.stats();
  log(
    `cache: ${opened.where} (${entries} ${
      entries === 1 ? "entry" : "entries"
    }, ` +
      `${formatSize(bytes)}; ` +
      `--max-bytes ${formatSize(maxBytes)}, --ttl ${formatDuration(ttl)}), ` +
      `pid ${process.pid}`,
  );
}

await main();
