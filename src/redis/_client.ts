// What RedisStore needs of a Redis client, and how it sends commands and
// runs its scripts through one. The shape is node-redis's (the `redis`
// package, v5 and v6): RedisStore never imports it, so the client is the
// caller's, and any object of this shape works: examples/ioredis/adapter.ts
// makes one of an ioredis client (README: ioredis).

import { Buffer } from "node:buffer";
import { type ScriptName, scriptSource } from "./_scripts.ts";
import { createHash } from "node:crypto";

/**
 * The part of a Redis client that {@linkcode RedisStore} uses: node-redis's
 * `createClient()` result has it.
 *
 * @example A node-redis client is a RedisClient
 * ```ts
 * import { createClient } from "redis";
 * import type { RedisClient } from "@streamcache/streamcache/redis";
 * import assert from "node:assert/strict";
 *
 * const client: RedisClient = createClient({ url: "redis://127.0.0.1:6379" });
 * assert.equal(typeof client.duplicate, "function"); // connect() it before use
 * ```
 */
export interface RedisClient {
  /**
   * Sends one command. With `{ typeMapping: { 36: Buffer } }`, bulk strings
   * come back as bytes; otherwise as strings. `{ timeout: 0 }` lifts the
   * client's command timeout (node-redis v6: 5 s by default) for a
   * blocking read.
   */
  sendCommand(
    args: ReadonlyArray<string | Uint8Array>,
    options?: { typeMapping?: Record<number, unknown>; timeout?: number },
  ): Promise<unknown>;
  /** A new client with the same options, not yet connected. */
  duplicate(): RedisClient;
  /** Connects. */
  connect(): Promise<unknown>;
  /** Closes the connection at once, failing what is pending. */
  destroy(): void;
  /** Listens for connection errors (node-redis throws them otherwise). */
  on(event: "error", listener: (error: unknown) => void): unknown;
}

const BYTES = { typeMapping: { 36: Buffer } };

/** Commands and scripts over one client. */
export class Commands {
  readonly client: RedisClient;
  readonly prefix: string;
  readonly #sha = new Map<ScriptName, string>();

  constructor(client: RedisClient, prefix: string) {
    this.client = client;
    this.prefix = prefix;
  }

  /** Sends a command; replies as strings. */
  send(args: ReadonlyArray<string | Uint8Array>): Promise<unknown> {
    return this.client.sendCommand(args.map(asArgument));
  }

  /** Sends a command; bulk replies as bytes (Buffers). */
  bytes(args: ReadonlyArray<string | Uint8Array>): Promise<unknown> {
    return this.client.sendCommand(args.map(asArgument), BYTES);
  }

  /** Runs a script with the prefix and `args` as ARGV (no KEYS). */
  async run(
    name: ScriptName,
    args: ReadonlyArray<string | Uint8Array>,
    bytes = false,
  ): Promise<unknown> {
    const send = (args: ReadonlyArray<string | Uint8Array>) =>
      bytes ? this.bytes(args) : this.send(args);
    const source = scriptSource(name);
    let sha = this.#sha.get(name);
    if (sha === undefined) {
      sha = createHash("sha1").update(source).digest("hex");
      this.#sha.set(name, sha);
    }
    const argv = ["0", this.prefix, ...args];
    try {
      return await send(["EVALSHA", sha, ...argv]);
    } catch (error) {
      // Not loaded yet, or the server restarted: EVAL loads it.
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) {
        throw error;
      }
      return await send(["EVAL", source, ...argv]);
    }
  }
}

/** node-redis takes strings and Buffers: a view of other bytes, not a copy. */
function asArgument(arg: string | Uint8Array): string | Uint8Array {
  return typeof arg === "string" || Buffer.isBuffer(arg)
    ? arg
    : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
}

/** The hash of a key in Redis key names: SHA-256 of its UTF-16 code units. */
export function keyHash(key: string): string {
  return createHash("sha256").update(key, "utf16le").digest("hex");
}
