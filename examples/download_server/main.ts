/**
 * The streamcache download server: slow, generated downloads, each made once
 * and streamed to every client that asks, kept on disk across restarts.
 *
 *     npm start                                          # Deno, port 8000
 *     npm start -- --port 0 --dir /tmp/dl                # through start.mjs
 *     bun examples/download_server/main.ts --port 0      # a free port
 *     node examples/download_server/main.ts              # Node 22.18+ / 24
 *
 * Options: `--port N` (else the `PORT` variable, else 8000; 0 picks a free
 * port), `--dir PATH` the cache directory (default `.cache/downloads`),
 * `--quiet` no log line per request (generations are still logged). It
 * listens on 127.0.0.1 only. The first line it prints is `listening on
 * <url>`, the second names the cache directory and the process id; then one
 * line per request and per generation (see access_log.ts).
 *
 * SIGINT, SIGTERM or SIGHUP stops it: it stops listening, closes the cache
 * (generations still running are abandoned, not kept, and their downloads
 * break) and exits 0. Signals that arrive while it stops are ignored: one
 * Ctrl-C under `npm start` arrives up to three times (from the terminal, and
 * forwarded by npm and by start.mjs). A stop that takes longer than
 * {@linkcode STOP_DEADLINE_MS} exits at once, with 1.
 *
 * On Deno it needs `--allow-net=127.0.0.1 --allow-read=<dir>
 * --allow-write=<dir> --allow-env=PORT`; `npm start` (start.mjs) grants
 * exactly these for the `--dir` it is given.
 *
 * @module
 */

import process from "node:process";
import { setTimeout } from "node:timers";
import { parseArgs } from "node:util";
import { StreamCache } from "../../mod.ts";
import { FsStore } from "../../src/fs/mod.ts";
import { createApp } from "./app.ts";
import { serve } from "./serve.ts";

const HOSTNAME = "127.0.0.1";
/** How long a stop may take before the server exits without finishing it. */
const STOP_DEADLINE_MS = 10_000;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const USAGE =
  "usage: main.ts [--port N] [--dir PATH] [--quiet]   (PORT in the environment sets the default port)";

/** The command line, checked. */
interface Args {
  port: number;
  dir: string;
  quiet: boolean;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      dir: { type: "string", default: ".cache/downloads" },
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
  return { port, dir: values.dir, quiet: values.quiet };
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
  const cache = new StreamCache({ store: new FsStore({ dir: args.dir }) });
  const log = (line: string) => console.log(line);
  const app = createApp({ cache, log, logRequests: !args.quiet });
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
  const { entries } = await app.stats.snapshot(cache);
  log(`cache: ${args.dir} (${entries} entries), pid ${process.pid}`);
}

await main();
