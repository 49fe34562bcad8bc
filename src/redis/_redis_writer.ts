// The writer of one RedisStore entry: each append is one script that checks
// the entry is still this writer's (state, lease, offset) and appends to its
// blocks; the commit is one script that checks the same, makes the entry the
// key's, records its size and CRC-32, and ends its event stream.

import type { StoreRecord, StoreWriter } from "../store.ts";
import type { Commands } from "./_client.ts";
import { Crc32 } from "./_crc32.ts";
import { scriptError } from "./_entry_keys.ts";

/** The most bytes one append script carries: larger writes are split. */
const PIECE = 1024 * 1024;

/** What a writer needs from its store. */
export interface WriterInit {
  readonly commands: Commands;
  readonly id: string;
  /** The key's lease, or "" for an entry created without a claim. */
  readonly lease: string;
  readonly committedKey: string;
  readonly record: Omit<StoreRecord, "size">;
  readonly blockSize: number;
  readonly maxEntryBytes: number;
  readonly writingTtl: number;
  /** The lease's length, which each append renews. */
  readonly leaseMs: number;
  readonly ttl: number;
  readonly releasedTtl: number;
  /** Called once the writer is done (committed), so the store forgets it. */
  readonly done: (id: string) => void;
}

export class RedisWriter implements StoreWriter {
  readonly id: string;
  readonly #init: WriterInit;
  readonly #crc = new Crc32();
  #size = 0;

  constructor(init: WriterInit) {
    this.#init = init;
    this.id = init.id;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const init = this.#init;
    for (let at = 0; at < chunk.byteLength; at += PIECE) {
      const piece = chunk.subarray(at, at + PIECE);
      try {
        await init.commands.run("append", [
          init.id,
          init.lease,
          String(this.#size),
          piece,
          String(init.blockSize),
          String(init.maxEntryBytes),
          String(init.writingTtl),
          String(init.leaseMs),
        ]);
      } catch (error) {
        throw scriptError(error, `write entry ${init.id}`);
      }
      this.#crc.update(piece);
      this.#size += piece.byteLength;
    }
  }

  async commit(): Promise<StoreRecord> {
    const init = this.#init;
    try {
      await init.commands.run("commit", [
        init.id,
        init.lease,
        init.committedKey,
        String(this.#size),
        this.#crc.hex(),
        String(init.ttl),
        String(init.releasedTtl),
      ]);
    } catch (error) {
      throw scriptError(error, `commit entry ${init.id}`);
    }
    init.done(init.id);
    const { lifetime, ...rest } = init.record;
    return {
      ...rest,
      size: this.#size,
      ...(lifetime ? { lifetime } : {}),
    };
  }
}
