// One member of a test fleet: an HTTP server with a StreamCache over a
// shared store. tests/fleet_redis_test.ts starts three over one Redis
// (FLEET_REDIS_SOCKET, FLEET_PREFIX); tests/fleet_fs_test.ts three over one
// directory (FLEET_DIR: an FsStore in shared mode). FLEET_LEASE_MS sets the
// producers' lease.
//
//   GET /<key>?size=N[&hold]   the entry for key: N deterministic bytes
//                              (pattern(N, 1)), produced here if this
//                              process wins the key; with `hold`, the
//                              producer stops after its first chunk until
//                              POST /finish/<key>
//   POST /finish/<key>         lets a held producer go on
//
// It prints `listening on <url>`, `produce <key>` when its producer runs,
// `holding <key>` when it holds, and `failed <key> <error name>: <message>`
// when a response breaks mid-stream (the client sees the connection cut,
// never a clean end).

import { createServer } from "node:http";
import process from "node:process";
import { type Store, StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { RedisStore } from "../src/redis/mod.ts";
import { pattern } from "./_helpers.ts";

const CHUNK = 16 * 1024;
const leaseMs = Number(process.env.FLEET_LEASE_MS ?? 1000);

/** The shared store the environment names. */
async function sharedStore(): Promise<Store> {
  const dir = process.env.FLEET_DIR;
  if (dir) return new FsStore({ dir, shared: true, leaseMs });
  const { createClient } = await import("redis");
  // No command timeout (node-redis 6 has 5 s by default): three runtimes and
  // 100 requests on a loaded 2-core machine queue commands for longer, and a
  // timed-out append or read would fail an entry for the load, not a fault.
  const client = createClient({
    socket: { path: process.env.FLEET_REDIS_SOCKET!, tls: false },
    commandOptions: { timeout: 0 },
  });
  client.on("error", () => {});
  await client.connect();
  return new RedisStore({
    client,
    prefix: process.env.FLEET_PREFIX ?? "fleet:",
    leaseMs,
  });
}

const cache = new StreamCache({ store: await sharedStore() });
const held = new Map<string, () => void>();

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://fleet");
  if (url.pathname.startsWith("/finish/")) {
    const key = url.pathname.slice("/finish/".length);
    held.get(key)?.();
    res.end(held.has(key) ? "released" : "not held");
    return;
  }
  const key = url.pathname.slice(1);
  const size = Number(url.searchParams.get("size") ?? 100_000);
  const hold = url.searchParams.has("hold");
  try {
    const entry = await cache.getOrCreate(key, async function* () {
      console.log(`produce ${key}`);
      const body = pattern(size, 1);
      for (let at = 0; at < size; at += CHUNK) {
        yield body.slice(at, at + CHUNK);
        if (hold && at === 0) {
          console.log(`holding ${key}`);
          await new Promise<void>((resolve) => held.set(key, resolve));
        }
      }
    });
    res.writeHead(200, { "x-entry-id": entry.id });
    for await (const chunk of entry.readable()) {
      if (!res.write(chunk)) {
        await new Promise((resolve) => res.once("drain", resolve));
      }
    }
    res.end();
  } catch (error) {
    const { name, message } = error as Error;
    console.log(`failed ${key} ${name}: ${message.replaceAll("\n", " ")}`);
    res.destroy();
  }
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}/`);
});
