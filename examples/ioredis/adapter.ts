/**
 * `fromIoredis(client)`: an ioredis client as the `RedisClient` that
 * `RedisStore` takes (node-redis's shape). Copy this file, importing
 * `RedisClient` from `streamcache/redis` (npm) or
 * `@streamcache/streamcache/redis`; ioredis stays your dependency, not the
 * library's. tests/ioredis_store_test.ts runs RedisStore's
 * conformance suite, the cross-cache tests and a `CLIENT KILL` of a follower's
 * blocking connection over it, on Deno, Node and Bun.
 *
 *     import { Redis } from "ioredis";
 *     const store = new RedisStore({ client: fromIoredis(new Redis(url)), prefix: "app:" });
 *
 * What it takes care of:
 * - Replies: `call()` gives bulk strings as strings, `callBuffer()` as Buffers
 *   (what node-redis's `typeMapping: { 36: Buffer }` asks for).
 * - The connections RedisStore blocks on (`XREAD BLOCK`, one per entry it
 *   follows) are `duplicate()`s that connect when RedisStore says so
 *   (`lazyConnect`), with no command or socket timeout, and
 *   `maxRetriesPerRequest: null`: a read cut by a dropped connection is sent
 *   again once ioredis has reconnected (`autoResendUnfulfilledCommands`), so
 *   it resumes, and never fails by a retry count.
 * - ioredis #1285 (a blocking command can wait forever across a reconnect, or
 *   on a connection that died without a close): each blocking read ends by
 *   its own `BLOCK` time plus `BLOCK_GRACE_MS`, with no reply, whatever
 *   becomes of its connection; RedisStore then asks for the entry's status
 *   and reads on. Not by ioredis's `blockingTimeout`, whose timer outlives
 *   `disconnect()`.
 * - `destroy()` fails every command still pending: ioredis's `disconnect()`
 *   leaves a command it holds for resending unsettled.
 * - ioredis 6 speaks RESP3 by default, with "legacy" replies that flatten a
 *   map into [key, value, ...]: RedisStore's commands and scripts read the
 *   same either way but for XREAD's, so the blocking connections use RESP2.
 *
 * Set no `keyPrefix` (RedisStore's `prefix` names its keys).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Redis, RedisOptions } from "ioredis";
import type { RedisClient } from "../../src/redis/mod.ts";

/** The options of the client that the connections RedisStore blocks on override. */
export const BLOCKING_OPTIONS: Partial<RedisOptions> = {
  lazyConnect: true,
  // ioredis 6 speaks RESP3 with its "legacy" replies, which flatten XREAD's
  // map of streams into [name, entries]: RESP2 gives [[name, entries]].
  protocol: 2,
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResendUnfulfilledCommands: true,
  commandTimeout: undefined,
  socketTimeout: undefined,
  // Not ioredis's own `blockingTimeout`: its timer outlives disconnect() (a
  // read held for resending stays pending), and holds the process open.
  blockingTimeout: undefined,
};

/** How long past its `BLOCK` time a blocking read is given before it ends. */
export const BLOCK_GRACE_MS = 1_000;

/** An ioredis client as a RedisStore client. */
export function fromIoredis(client: Redis): RedisClient {
  const pending = new Set<(error: Error) => void>();
  return {
    sendCommand(args, options) {
      const [name = "", ...rest] = args.map(asArgument);
      // RedisStore asks for bytes with `{ typeMapping: { 36: Buffer } }`.
      const bytes = options?.typeMapping?.[36] !== undefined;
      const block = blockMs(args);
      return new Promise((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settle = (then: () => void) => {
          clearTimeout(timer);
          pending.delete(fail);
          then();
        };
        const fail = (error: unknown) => settle(() => reject(error));
        pending.add(fail);
        // ioredis #1285: a read whose connection died unseen, or that waits
        // for a reconnection, ends as a read that saw nothing would.
        if (block !== undefined) {
          timer = setTimeout(
            () => settle(() => resolve(null)),
            block + BLOCK_GRACE_MS,
          );
        }
        const reply = bytes
          ? client.callBuffer(String(name), ...rest)
          : client.call(String(name), ...rest);
        reply.then((value) => settle(() => resolve(value)), fail);
      });
    },
    duplicate() {
      return fromIoredis(client.duplicate(BLOCKING_OPTIONS));
    },
    connect() {
      switch (client.status) {
        case "ready":
          return Promise.resolve();
        case "wait":
        case "end":
          return client.connect();
        default: // connecting: wait for it
          return new Promise<void>((resolve, reject) => {
            const ready = () => {
              client.off("end", end);
              resolve();
            };
            const end = () => {
              client.off("ready", ready);
              reject(new Error("Connection is closed."));
            };
            client.once("ready", ready).once("end", end);
          });
      }
    },
    destroy() {
      client.disconnect();
      const error = new Error("Connection destroyed");
      for (const reject of pending) reject(error);
      pending.clear();
    },
    on(event, listener) {
      return client.on(event, listener);
    },
  };
}

/** The `BLOCK` time of an XREAD (or XREADGROUP), unless it is 0 (forever). */
function blockMs(args: ReadonlyArray<string | Uint8Array>): number | undefined {
  if (!/^xread(group)?$/i.test(String(args[0]))) return undefined;
  const at = args.findIndex((arg) => String(arg).toUpperCase() === "BLOCK");
  const ms = at < 0 ? NaN : Number(String(args[at + 1]));
  return ms > 0 ? ms : undefined;
}

/** ioredis writes Buffers as bytes and anything else as its String(). */
function asArgument(arg: string | Uint8Array): string | Buffer {
  return typeof arg === "string" || Buffer.isBuffer(arg)
    ? arg
    : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
}
