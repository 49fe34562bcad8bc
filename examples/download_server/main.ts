/**
 * The streamcache download server: slow, generated downloads, each made once
 * and streamed to every client that asks, kept on disk across restarts.
 *
 *     npm start                                          # Deno, port 8000
 *     deno task start
 *     bun examples/download_server/main.ts --port 0      # a free port
 *     node examples/download_server/main.ts              # Node 22.18+ / 24
 *
 * Options: `--port N` (else the `PORT` variable, else 8000; 0 picks a free
 * port), `--dir PATH` the cache directory (default `.cache/downloads`),
 * `--quiet` no log line per request (generations are still logged). It
 * listens on 127.0.0.1 only. The first line it prints is `listening on
 * <url>`; then one line per request and per generation (see access_log.ts).
 * SIGINT or SIGTERM stops it: it stops listening, closes the cache
 * (generations still running are abandoned, not kept, and their downloads
 * break) and exits 0; a second signal makes it exit at once, with 1.
 *
 * On Deno it needs `--allow-net=127.0.0.1 --allow-read=.cache
 * --allow-write=.cache --allow-env=PORT` (with `--dir`, read and write
 * access to that directory instead).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { StreamCache } from "../../mod.ts";
import { FsStore } from "../../src/fs/mod.ts";
import { createApp } from "./app.ts";
import { serve } from "./serve.ts";

const HOSTNAME = "127.0.0.1";
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
  log(`listening on ${server.url}`);
  log(
    `cache: ${args.dir} (${(await app.stats.snapshot(cache)).entries} entries)`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping`);
    const stopped = server.stop(); // no new connections
    await cache.close(); // running generations end, open downloads with them
    server.closeConnections();
    await stopped;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    log("stopped");
  };
  const onSignal = (signal: string) => {
    stop(signal).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

await main();
