/**
 * RedisStore: entries in Redis, shared by every process that uses the same
 * Redis and prefix. It is a plain {@linkcode Store} and a shared one: with
 * `claim` and `follow`, one process in the whole fleet produces a key, under
 * a fenced lease, and the others stream the entry as it is written.
 *
 * @module
 */

import { EntryNotFoundError } from "../errors.ts";
import type {
  FollowClaim,
  StoreClaim,
  StoreProgress,
} from "../shared_store.ts";
import type {
  EntryMeta,
  Store,
  StoreCreateOptions,
  StoreReader,
  StoreRecord,
  StoreWriter,
} from "../store.ts";
import { unrefInterval } from "../_unref_timer.ts";
import { Commands, keyHash, type RedisClient } from "./_client.ts";
import { fields, KeyNames, scriptError, toRecord } from "./_entry_keys.ts";
import { followEntry, NO_TIMEOUT } from "./_follow.ts";
import { RedisWriter } from "./_redis_writer.ts";

/**
 * Options for {@linkcode RedisStore}. Times are in milliseconds.
 *
 * @example A store with a short lease
 * ```ts
 * import { createClient } from "redis";
 * import { RedisStore } from "@streamcache/streamcache/redis";
 * import type { RedisStoreOptions } from "@streamcache/streamcache/redis";
 * import assert from "node:assert/strict";
 *
 * const client = createClient({ url: "redis://127.0.0.1:6379" }); // then: await client.connect()
 * const options: RedisStoreOptions = { client, prefix: "downloads:", leaseMs: 5_000 };
 * const store = new RedisStore(options);
 * assert.throws(() => new RedisStore({ client, leaseMs: 0 }), RangeError);
 * await store.close();
 * ```
 */
export interface RedisStoreOptions {
  /**
   * A connected client (node-redis's `createClient()`, or any
   * {@linkcode RedisClient}: for ioredis, `fromIoredis(client)` from the
   * repository's examples/ioredis/adapter.ts). The store sends its commands through it, and
   * makes a connection of its own with `duplicate()` for each entry it
   * follows. It never closes the client: that is the caller's.
   */
  client: RedisClient;
  /** The prefix of every Redis key the store makes. @default {"streamcache:"} */
  prefix?: string;
  /**
   * How long a producer's claim on a key lasts unless renewed (every third
   * of it, by an unref'd timer): followers learn of a dead producer within
   * about this long. @default {10000}
   */
  leaseMs?: number;
  /** How long a committed entry stays in Redis after its last access. @default {604800000} (7 days) */
  ttl?: number;
  /** How long an entry being written stays after its last append or lease renewal. @default {600000} */
  writingTtl?: number;
  /** How long a released entry stays, for readers already reading it. @default {60000} */
  releasedTtl?: number;
  /** The most bytes one entry may have: a write past it fails the entry. @default {536870912} */
  maxEntryBytes?: number;
  /** The size of the Redis strings an entry's bytes are kept in. @default {262144} */
  blockSize?: number;
}

/** The most bytes one read fetches from Redis. */
const MAX_READ = 4 * 1024 * 1024;

/**
 * Keeps entries in Redis: bytes in blocks, metadata in a hash, a stream of
 * events for followers, and a fenced lease per key being produced, each
 * step that must be atomic done by one Lua script (src/redis/_scripts.ts).
 * Every Redis key has a TTL. It targets one Redis server (or a primary), not
 * a cluster. Listing (`keys`, `records`) reads an index of committed keys,
 * not the keyspace.
 *
 * @example A cache whose entries every process shares
 * ```ts
 * import { createClient } from "redis";
 * import { StreamCache } from "@streamcache/streamcache";
 * import { RedisStore } from "@streamcache/streamcache/redis";
 * import assert from "node:assert/strict";
 *
 * const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
 * // With `await client.connect()`, every process of the fleet runs:
 * //   const entry = await cache.getOrCreate("report", produce);
 * // and the producer runs once in the whole fleet.
 * const cache = new StreamCache({ store: new RedisStore({ client, prefix: "app:" }) });
 * assert.equal(cache.stats().entries, 0);
 * await cache.close();
 * ```
 */
export class RedisStore implements Store {
  readonly #commands: Commands;
  readonly #names: KeyNames;
  readonly #leaseMs: number;
  readonly #ttl: number;
  readonly #writingTtl: number;
  readonly #releasedTtl: number;
  readonly #maxEntryBytes: number;
  readonly #blockSize: number;
  /** Entries this store writes, by id: their lease key ("" without a claim). */
  readonly #writing = new Map<string, string>();
  /** Leases held, by id: their lease key; renewed until the entry is done. */
  readonly #leases = new Map<string, string>();
  /** Followers running, stopped by close(). */
  readonly #follows = new Set<AbortController>();
  #stopRenewal: (() => void) | undefined;
  #closed = false;

  /**
   * Creates a store over a connected client.
   *
   * @param options The client, and the store's times and sizes.
   */
  constructor(options: RedisStoreOptions) {
    const action = "create RedisStore";
    if (typeof options?.client?.sendCommand !== "function") {
      throw new TypeError(
        `Cannot ${action}: client must be a Redis client (node-redis's createClient())`,
      );
    }
    const prefix = options.prefix ?? "streamcache:";
    if (typeof prefix !== "string") {
      throw new TypeError(
        `Cannot ${action}: prefix must be a string: received ${typeof prefix}`,
      );
    }
    const positive = (name: string, value: number | undefined, by: number) => {
      if (value === undefined) return by;
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new RangeError(
          `Cannot ${action}: ${name} must be a positive integer: received ${value}`,
        );
      }
      return value;
    };
    this.#commands = new Commands(options.client, prefix);
    this.#names = new KeyNames(prefix);
    this.#leaseMs = positive("leaseMs", options.leaseMs, 10_000);
    this.#ttl = positive("ttl", options.ttl, 7 * 24 * 3_600_000);
    this.#writingTtl = positive("writingTtl", options.writingTtl, 600_000);
    this.#releasedTtl = positive("releasedTtl", options.releasedTtl, 60_000);
    this.#maxEntryBytes = positive(
      "maxEntryBytes",
      options.maxEntryBytes,
      512 * 1024 * 1024,
    );
    this.#blockSize = positive("blockSize", options.blockSize, 256 * 1024);
  }

  /**
   * Starts a new entry; see {@linkcode Store.create}.
   *
   * @param key The entry's key.
   * @param meta The entry's metadata.
   * @param options Its creation time and lifetime.
   * @returns A writer; its bytes are readable at once, looked up after commit.
   */
  async create(
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions = {},
  ): Promise<StoreWriter> {
    const id = await this.#newId();
    return await this.#create(id, "", key, meta, options);
  }

  /**
   * Claims `key` for this process, or names the entry another process
   * produces; see {@linkcode Store.claim}.
   *
   * @param key The key to produce.
   * @returns Who produces it.
   */
  async claim(key: string): Promise<StoreClaim> {
    this.#assertOpen("claim a key");
    const hash = keyHash(key);
    const lease = this.#names.lease(hash);
    for (;;) {
      const [kind, id] = await this.#commands.run("claim", [
        lease,
        this.#names.committed(hash),
        String(this.#leaseMs),
        randomSuffix(),
      ]) as [string, string];
      if (kind === "p") return this.#produce(id, lease);
      const head = await this.#head(id, lease);
      if (head) return { kind: "follow", id, ...head };
      // Its producer went before creating it: claim again.
    }
  }

  /**
   * Reports the progress of entry `id`, written by another process; see
   * {@linkcode Store.follow}.
   *
   * @param id The entry a claim named.
   * @param signal Stops following.
   * @returns Its growing size, then its record.
   */
  async *follow(
    id: string,
    signal: AbortSignal,
  ): AsyncIterable<StoreProgress> {
    this.#assertOpen("follow an entry");
    const stop = new AbortController();
    const abort = () => stop.abort(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    this.#follows.add(stop);
    try {
      const hash = await this.#hashOf(id);
      yield* followEntry({
        commands: this.#commands,
        names: this.#names,
        id,
        lease: hash === undefined ? "" : this.#names.lease(hash),
        leaseMs: this.#leaseMs,
        signal: stop.signal,
      });
    } finally {
      signal.removeEventListener("abort", abort);
      this.#follows.delete(stop);
    }
  }

  /**
   * Finds the committed entry for `key`; see {@linkcode Store.lookup}.
   *
   * @param key The key to look up.
   * @returns Its record, or `undefined`.
   */
  async lookup(key: string): Promise<StoreRecord | undefined> {
    return await this.#lookup(this.#names.committed(keyHash(key)));
  }

  /**
   * Opens a reader over entry `id`; see {@linkcode Store.openReader}.
   *
   * @param id The entry's storage identity.
   * @returns A reader that fetches bytes from the entry's blocks.
   * @throws {EntryNotFoundError} If the entry is released or gone.
   */
  async openReader(id: string): Promise<StoreReader> {
    if (await this.#commands.run("opened", [id]) !== 1) {
      throw new EntryNotFoundError(
        `Cannot open reader: RedisStore has no entry with id ${id}`,
      );
    }
    return {
      read: (offset, length) => this.#read(id, offset, length),
      close: () => Promise.resolve(),
    };
  }

  /**
   * Unlinks `key` if it names entry `id`; see {@linkcode Store.remove}.
   *
   * @param key The key to unlink.
   * @param id The entry meant.
   */
  async remove(key: string, id: string): Promise<void> {
    const hash = keyHash(key);
    await this.#commands.run("remove", [
      this.#names.committed(hash),
      id,
      hash,
    ]);
  }

  /**
   * Frees entry `id`: it stays `releasedTtl` for readers already reading
   * it, then expires. An entry another process is still writing is left to
   * its producer. See {@linkcode Store.release}.
   *
   * @param id The entry's storage identity.
   */
  async release(id: string): Promise<void> {
    // A claimed entry that failed is released in the same turn as it fails,
    // and the cache abandons its claim, with the failure's reason, in the
    // next microtask: yield to it, so followers learn that reason.
    await undefined;
    const lease = this.#writing.get(id);
    this.#done(id);
    await this.#commands.run("release", [
      id,
      lease === undefined ? "0" : "1",
      lease ?? "",
      String(this.#releasedTtl),
      "its producer failed or was abandoned",
    ]);
  }

  /**
   * Lists committed keys; see {@linkcode Store.keys}.
   *
   * @returns The keys of committed entries.
   */
  async *keys(): AsyncIterable<string> {
    for await (const record of this.records()) yield record.key;
  }

  /**
   * Records that entry `id` was read at `time`, and keeps it `ttl` longer;
   * see {@linkcode Store.touch}.
   *
   * @param id The entry's storage identity.
   * @param time When it was read.
   */
  async touch(id: string, time: number): Promise<void> {
    await this.#commands.run("touch", [id, String(time), String(this.#ttl)]);
  }

  /**
   * Lists every committed entry's record (from the store's index); see
   * {@linkcode Store.records}.
   *
   * @returns The records, with their access times.
   */
  async *records(): AsyncIterable<StoreRecord> {
    let cursor = "0";
    const seen = new Set<string>();
    do {
      const [next, pairs] = await this.#commands.send([
        "HSCAN",
        `${this.#names.prefix}index`,
        cursor,
        "COUNT",
        "1000",
      ]) as [string, string[]];
      cursor = next;
      if (pairs.length === 0) continue;
      const listed = await this.#commands.run("listed", pairs) as [
        string,
        unknown,
      ][];
      for (const [id, hash] of listed) {
        // HSCAN may return a field twice.
        if (seen.has(id)) continue;
        seen.add(id);
        yield toRecord(id, fields(hash));
      }
    } while (cursor !== "0");
  }

  /**
   * Stops the lease renewal and every follower, and fails the entries this
   * store was writing. The client stays open: it is the caller's.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const follow of this.#follows) follow.abort();
    const writing = [...this.#writing];
    this.#stopRenewal?.();
    this.#stopRenewal = undefined;
    this.#leases.clear();
    this.#writing.clear();
    await Promise.all(
      writing.map(([id, lease]) =>
        this.#commands.run("fail", [id, lease, "the store was closed"])
          .catch(() => {}) // it expires anyway
      ),
    );
  }

  // ---- internals ----------------------------------------------------------

  #assertOpen(action: string): void {
    if (this.#closed) {
      throw new EntryNotFoundError(
        `Cannot ${action}: the RedisStore is closed`,
      );
    }
  }

  async #newId(): Promise<string> {
    const n = await this.#commands.send(["INCR", `${this.#names.prefix}ids`]);
    return `${n}.${randomSuffix()}`;
  }

  async #create(
    id: string,
    lease: string,
    key: string,
    meta: EntryMeta | undefined,
    options: StoreCreateOptions,
  ): Promise<StoreWriter> {
    this.#assertOpen("create an entry");
    const { created = Date.now(), lifetime } = options;
    const hash = keyHash(key);
    try {
      await this.#commands.run("create", [
        id,
        lease,
        JSON.stringify(key),
        hash,
        meta === undefined ? "" : JSON.stringify(meta),
        String(created),
        lifetime === undefined ? "" : JSON.stringify(lifetime),
        String(this.#writingTtl),
      ]);
    } catch (error) {
      throw scriptError(error, `create entry ${id}`);
    }
    this.#writing.set(id, lease);
    return new RedisWriter({
      commands: this.#commands,
      id,
      lease,
      committedKey: this.#names.committed(hash),
      record: {
        key,
        id,
        meta,
        created,
        accessed: created,
        ...(lifetime ? { lifetime } : {}),
      },
      blockSize: this.#blockSize,
      maxEntryBytes: this.#maxEntryBytes,
      writingTtl: this.#writingTtl,
      leaseMs: this.#leaseMs,
      ttl: this.#ttl,
      releasedTtl: this.#releasedTtl,
      done: (done) => this.#done(done),
    });
  }

  /** A lease won: renew it until its entry is done, and create under it. */
  #produce(id: string, lease: string): StoreClaim {
    this.#leases.set(id, lease);
    this.#stopRenewal ??= unrefInterval(
      () => this.#renew(),
      Math.max(1, Math.floor(this.#leaseMs / 3)),
    );
    let created = false;
    return {
      kind: "produce",
      create: (key, meta, options = {}) => {
        created = true;
        return this.#create(id, lease, key, meta, options);
      },
      abandon: async (reason) => {
        const wasWriting = this.#writing.has(id);
        this.#done(id);
        if (!created) {
          await this.#commands.send(["EVAL", UNLEASE, "1", lease, id]);
        } else if (wasWriting) {
          await this.#commands.run("fail", [id, lease, describe(reason)]);
        }
      },
    };
  }

  #renew(): void {
    for (const [id, lease] of this.#leases) {
      this.#commands.run("renew", [
        id,
        lease,
        String(this.#leaseMs),
        String(this.#writingTtl),
      ]).then((held) => {
        // Lost (expired while this process was stopped, say): the next
        // append or commit is refused by its script anyway.
        if (held !== 1) this.#leases.delete(id);
        this.#stopIfIdle();
      }, () => {}); // Redis unreachable: the next round tries again
    }
  }

  /** An entry of this store's is done: its lease is no longer renewed. */
  #done(id: string): void {
    this.#writing.delete(id);
    this.#leases.delete(id);
    this.#stopIfIdle();
  }

  #stopIfIdle(): void {
    if (this.#leases.size === 0 && this.#stopRenewal) {
      this.#stopRenewal();
      this.#stopRenewal = undefined;
    }
  }

  /**
   * The metadata of an entry another process produces, once it has created
   * it (waiting for its head event); `undefined` if its producer went first.
   */
  async #head(
    id: string,
    lease: string,
  ): Promise<Pick<FollowClaim, "meta" | "lifetime"> | undefined> {
    const stop = new AbortController();
    this.#follows.add(stop);
    try {
      for (;;) {
        const hash = fields(
          await this.#commands.send([
            "HGETALL",
            `${this.#names.prefix}m:${id}`,
          ]),
        );
        if (hash.has("state")) {
          const record = toRecord(id, hash);
          return { meta: record.meta, lifetime: record.lifetime };
        }
        const pttl = Number(await this.#commands.send(["PTTL", lease]));
        const holder = await this.#commands.send(["GET", lease]);
        if (pttl < 0 || holder !== id) return undefined;
        this.#assertOpen("claim a key");
        await this.#block(id, pttl + 50, stop.signal);
      }
    } finally {
      this.#follows.delete(stop);
    }
  }

  /** Waits (XREAD BLOCK, a connection of its own) for an event of entry `id`. */
  async #block(id: string, ms: number, signal: AbortSignal): Promise<void> {
    const connection = this.#commands.client.duplicate();
    connection.on("error", () => {});
    const stop = () => connection.destroy();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await connection.connect();
      await connection.sendCommand([
        "XREAD",
        "BLOCK",
        String(Math.max(1, ms)),
        "STREAMS",
        this.#names.events(id),
        "0-0",
      ], NO_TIMEOUT);
    } catch {
      // Closed, or the connection broke: the caller looks again.
    } finally {
      signal.removeEventListener("abort", stop);
      connection.destroy();
    }
  }

  async #hashOf(id: string): Promise<string | undefined> {
    const hash = await this.#commands.send([
      "HGET",
      `${this.#names.prefix}m:${id}`,
      "h",
    ]);
    return typeof hash === "string" ? hash : undefined;
  }

  async #lookup(committedKey: string): Promise<StoreRecord | undefined> {
    const reply = await this.#commands.run("lookup", [committedKey]) as
      | [string, unknown]
      | null;
    return reply ? toRecord(reply[0], fields(reply[1])) : undefined;
  }

  async #read(id: string, offset: number, length: number): Promise<Uint8Array> {
    const count = Math.min(length, MAX_READ);
    const n = Math.floor(offset / this.#blockSize);
    const within = offset - n * this.#blockSize;
    // Within one block (a reader's 64 KiB chunks in 256 KiB blocks): one
    // GETRANGE; across blocks, one script.
    const bytes =
      await (within + count <= this.#blockSize
        ? this.#commands.bytes([
          "GETRANGE",
          this.#names.block(id, n),
          String(within),
          String(within + count - 1),
        ])
        : this.#commands.run("read", [
          id,
          String(offset),
          String(count),
          String(this.#blockSize),
        ], true)) as Uint8Array;
    // A copy of its own for the caller (SEMANTICS 7): the client's buffers
    // may share memory with other replies.
    return new Uint8Array(bytes);
  }
}

/** Deletes a lease if it still names the id (KEYS[1] lease, ARGV[1] id). */
const UNLEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1";

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function describe(reason: unknown): string {
  return reason instanceof Error
    ? `${reason.name}: ${reason.message}`
    : String(reason ?? "aborted");
}
