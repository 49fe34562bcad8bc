// A real redis-server for the tests that need one, started by the test file
// itself (decided over one server for the whole test command: the runtimes
// run two at a time and must not share a keyspace, and the fleet tests kill,
// restart and reconfigure their server). It listens on a Unix socket in a
// temporary directory, so there is no free-port race, keeps nothing on disk
// (`--save ''`, no AOF), and is stopped by `stop()`; it dies with the test
// process group besides (scripts/_group.mjs).
//
// `redis-server` is found on PATH (Debian: /usr/bin/redis-server; .ci/run
// installs it). Without it, `REDIS_MISSING` is the reason to skip, decided
// when a test is declared; under CI (isCI()) it is `undefined`, so the tests
// run and fail on the missing server instead of skipping.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { isCI } from "./_testing.ts";

/** The server binary: REDIS_SERVER, else `redis-server` on PATH. */
const BINARY = globalThis.process?.env?.REDIS_SERVER || "redis-server";
/** A server that does not say it is ready within this fails the test. */
const DEADLINE_MS = 10_000;

function installed(): boolean {
  try {
    return spawnSync(BINARY, ["--version"], { stdio: "ignore" }).status === 0;
  } catch {
    return false;
  }
}

/**
 * Why the Redis tests cannot run here (no redis-server), for `{ skip }`;
 * `undefined` when they can, and always under CI, where they then fail.
 */
export const REDIS_MISSING: string | undefined = installed() || isCI()
  ? undefined
  : `${BINARY} is not installed (apt-get install redis-server)`;

/** A node-redis client of a server's socket, not connected yet. */
export function clientOf(socket: string) {
  return createClient({ socket: { path: socket, tls: false } });
}

/** A client of the kind RedisStore takes. */
export type Client = ReturnType<typeof clientOf>;

/** A running redis-server. */
export interface RedisServer {
  /** The Unix socket it listens on. */
  readonly socket: string;
  /** Its process id. */
  readonly pid: number;
  /** A new, connected client of this server. */
  connect(): Promise<Client>;
  /** Stops it (SIGKILL: nothing to save) and removes its directory. */
  stop(): Promise<void>;
  /** Stops it and starts a fresh, empty server on the same socket. */
  restart(): Promise<void>;
}

/** Starts a redis-server; `args` are extra `--option value` pairs. */
export async function startRedis(
  args: readonly string[] = [],
): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "streamcache-redis-"));
  const socket = join(dir, "redis.sock");
  let child = await launch(dir, socket, args);
  return {
    socket,
    get pid() {
      return child.pid;
    },
    async connect() {
      const client = clientOf(socket);
      client.on("error", () => {}); // a failed command says why
      await client.connect();
      return client;
    },
    async stop() {
      await child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await child.kill();
      child = await launch(dir, socket, args);
    },
  };
}

interface Launched {
  readonly pid: number;
  kill(): Promise<void>;
}

function launch(
  dir: string,
  socket: string,
  args: readonly string[],
): Promise<Launched> {
  const child = spawn(BINARY, [
    "--port",
    "0",
    "--unixsocket",
    socket,
    "--unixsocketperm",
    "700",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--loglevel",
    "notice",
    ...args,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.on("close", resolve));
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${BINARY} was not ready in ${DEADLINE_MS} ms:\n${output}`),
      );
    }, DEADLINE_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start ${BINARY}: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`${BINARY} exited (${code}):\n${output}`));
    });
    const onData = (text: Buffer) => {
      output += text.toString();
      if (!/ready to accept connections/i.test(output)) return;
      clearTimeout(timer);
      resolve({
        pid: child.pid!,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
          }
          await exited;
        },
      });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
  });
}
