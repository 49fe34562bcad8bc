/**
 * A store in Redis (or Valkey) that a fleet of processes and servers
 * shares: one producer per key in the whole fleet, under a fenced lease,
 * and every other process streams the entry while it is written. Bring
 * your own client: node-redis (`npm install redis`), connected.
 *
 * @example One cache over Redis
 * ```ts
 * import { createClient } from "redis";
 * import { StreamCache } from "@streamcache/streamcache";
 * import { RedisStore } from "@streamcache/streamcache/redis";
 * import assert from "node:assert/strict";
 *
 * const client = createClient({ url: "redis://127.0.0.1:6379" }); // then: await client.connect()
 * const store = new RedisStore({ client });
 * assert.equal(typeof store.claim, "function"); // one producer per key in the fleet
 * const cache = new StreamCache({ store }); // sends nothing until it is used
 * await cache.close();
 * ```
 *
 * @module
 */

export { RedisStore } from "./redis_store.ts";
export type { RedisStoreOptions } from "./redis_store.ts";
export type { RedisClient } from "./_client.ts";
