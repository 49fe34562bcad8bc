/**
 * The download server's store: an `FsStore` in its cache directory, or, with
 * `--redis URL` (or `STREAMCACHE_REDIS`), that same directory as the top
 * layer of a `LayeredStore` over a `RedisStore`, shared by every server
 * started with the same Redis: a fleet. Then a download is generated once in
 * the whole fleet; the other servers stream it from Redis while it is
 * generated, and keep a copy in their own directory.
 *
 * URLs: `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS), or
 * `unix:///path/to/redis.sock` (a Unix socket). The node-redis client
 * (npm `redis`) is imported only then.
 *
 * @module
 */

import { LayeredStore, type Store } from "../../mod.ts";
import { FsStore } from "../../src/fs/mod.ts";
import { RedisStore } from "../../src/redis/mod.ts";

/** The environment variable that names the Redis of the fleet, if `--redis` does not. */
export const REDIS_ENV = "STREAMCACHE_REDIS";
/** The prefix of the server's keys in Redis. */
export const REDIS_PREFIX = "streamcache:downloads:";

/** The server's store, and what to close after the cache. */
export interface ServerStore {
  readonly store: Store;
  /** Where its entries are, for the log: the directory, and the Redis URL. */
  readonly where: string;
  /** Closes the Redis connection, if any (after the cache closed the store). */
  close(): Promise<void>;
}

/** How node-redis is told where its server is. */
type ClientOptions =
  | { url: string }
  | { socket: { path: string; tls: false } };

/**
 * Checks a Redis URL and gives node-redis's options for it.
 *
 * @param url `redis://`, `rediss://` or `unix://` URL.
 * @returns The client options.
 * @throws {TypeError} If it is not such a URL.
 */
export function redisClientOptions(url: string): ClientOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = new URL("invalid:");
  }
  if (parsed.protocol === "unix:" && parsed.pathname.startsWith("/")) {
    return {
      socket: { path: decodeURIComponent(parsed.pathname), tls: false },
    };
  }
  if (
    (parsed.protocol === "redis:" || parsed.protocol === "rediss:") &&
    parsed.hostname
  ) {
    return { url };
  }
  throw new TypeError(
    `--redis (or ${REDIS_ENV}) must be a redis://host:port, rediss:// or unix:///path URL: received ${
      JSON.stringify(url)
    }`,
  );
}

/**
 * Opens the server's store: an FsStore in `dir`, layered over Redis if
 * `redis` names one (connecting first, so that a Redis that cannot be
 * reached stops the server before it listens).
 *
 * @param dir The cache directory.
 * @param redis The fleet's Redis URL, if any.
 * @returns The store.
 */
export async function openStore(
  dir: string,
  redis: string | undefined,
): Promise<ServerStore> {
  const local = new FsStore({ dir });
  if (redis === undefined) {
    return { store: local, where: dir, close: () => Promise.resolve() };
  }
  const options = redisClientOptions(redis);
  const { createClient } = await import("redis");
  // No command timeout: under load, commands queue for longer than node-redis's
  // default 5 s, and a timed-out append would fail a download for the load.
  const client = createClient({ ...options, commandOptions: { timeout: 0 } });
  // node-redis reconnects after every error, also before it ever connected:
  // the first error before the connection stops the server instead.
  let refused!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => refused = reject);
  client.on("error", (error: unknown) => refused(error));
  try {
    await Promise.race([client.connect(), failed]);
  } catch (error) {
    client.destroy();
    throw new Error(`Cannot connect to Redis at ${redis}: ${error}`, {
      cause: error,
    });
  }
  // From now on a lost connection is retried, and the commands that fail
  // meanwhile fail their downloads, with the reason.
  failed.catch(() => {});
  const shared = new RedisStore({ client, prefix: REDIS_PREFIX });
  return {
    store: new LayeredStore({ layers: [local, shared] }),
    where: `${dir} over ${redis}`,
    close: () => {
      client.destroy();
      return Promise.resolve();
    },
  };
}
