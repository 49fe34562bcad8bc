// RedisStore through the conformance suite, against a real redis-server
// that this file starts (tests/_redis_server.ts), each store under a prefix
// of its own.

import { after, before, describe } from "./_testing.ts";
import { RedisStore } from "../src/redis/mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";
import {
  type Client,
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "./_redis_server.ts";

let server: RedisServer;
let client: Client;
let count = 0;

describe("RedisStore", { skip: REDIS_MISSING }, () => {
  before(async () => {
    server = await startRedis();
    client = await server.connect();
  });
  after(async () => {
    client?.destroy();
    await server?.stop();
  });
  // No volume test (`bulk`): it measures the process's memory while 2 MiB
  // is written, and with the bytes in Redis what it measures is node-redis's
  // socket buffers coming and going by megabytes (one failure in three full
  // runs on Node 22). MemoryStore and FsStore run it.
  describeStoreConformance(
    "RedisStore",
    () => new RedisStore({ client, prefix: `t${++count}:` }),
    { bulk: false },
  );
  describeStoreConformance(
    "RedisStore (5-byte blocks)",
    () => new RedisStore({ client, prefix: `s${++count}:`, blockSize: 5 }),
    { bulk: false },
  );
});
