// The cache's record of one entry: its state machine, the count of its open
// readers and writer, the notification readers wait on, and the moment its
// storage may be released. The public face of it is the Entry interface.

import { createReadable } from "./_reader.ts";
import { Notifier } from "./_notifier.ts";
import { checkOffset, quoteKey } from "./_validate.ts";
import type { Entry, EntryState, ReadableOptions } from "./entry.ts";
import type {
  EntryLifetime,
  EntryMeta,
  Store,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

const DEFAULT_CHUNK_SIZE = 64 * 1024;

/** What an entry needs from the cache that holds it. */
export interface EntryHost {
  readonly store: Store;
  /** Runs `task` while no other lookup, commit or removal of `key` runs. */
  exclusive<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Called when the entry fails (with the reason) or is lost, so the cache forgets it. */
  forget(log: EntryLog, failure?: { reason: unknown }): void;
  /** Called when the entry's writer has stored `count` more bytes. */
  grew(log: EntryLog, count: number): void;
  /**
   * Asked, in the commit's turn, whether the entry is to be kept: `false`
   * (it is too large, say) completes it for its readers only.
   */
  keeps(log: EntryLog): boolean;
  /**
   * Called in the commit's turn, right after the store committed the entry.
   * `replaced` is the entry the commit unlinked from the key, if another.
   */
  committed(
    log: EntryLog,
    record: StoreRecord,
    replaced: string | undefined,
  ): void;
  /** Called when the entry's last reader and its writer are gone. */
  idle(log: EntryLog): void;
  /** Called when the entry's storage starts being released. */
  releasing(log: EntryLog): void;
  /** Called once the entry's storage has been released (or its release failed). */
  released(log: EntryLog): void;
}

/** Something open on the entry that `shutdown` must stop. */
export interface Handle {
  /** Stops the handle with `reason`; a no-op once it has finished. */
  stop(reason: unknown): void;
}

type Phase = "writing" | "committing" | "complete" | "failed";

/** The cache's record of one entry. */
export class EntryLog implements Entry {
  readonly key: string;
  readonly id: string;
  readonly meta: EntryMeta | undefined;
  /** The lifetime the entry was created with, if its own. */
  readonly lifetime: EntryLifetime | undefined;

  readonly #host: EntryHost;
  #phase: Phase;
  #size: number;
  #error: unknown;
  #detached = false;
  #released = false;
  #shutDown: { reason: unknown } | undefined;
  #writer: Handle | undefined;
  #notKept: (() => Promise<void>) | undefined;
  readonly #readers = new Set<Handle>();
  readonly #changed = new Notifier();
  readonly #tasks = new Set<Promise<void>>();
  readonly done: Promise<number>;
  #resolveDone!: (size: number) => void;
  #rejectDone!: (reason: unknown) => void;

  constructor(
    host: EntryHost,
    init: {
      key: string;
      id: string;
      meta: EntryMeta | undefined;
      lifetime?: EntryLifetime | undefined;
      size?: number;
    },
  ) {
    this.#host = host;
    this.key = init.key;
    this.id = init.id;
    this.meta = init.meta;
    this.lifetime = init.lifetime;
    this.#size = init.size ?? 0;
    this.#phase = init.size === undefined ? "writing" : "complete";
    this.done = new Promise<number>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {}); // a failure nobody awaits is not an unhandled rejection
    if (this.#phase === "complete") this.#resolveDone(this.#size);
  }

  get size(): number {
    return this.#size;
  }

  get complete(): boolean {
    return this.#phase === "complete";
  }

  get state(): EntryState {
    return this.#phase === "committing" ? "writing" : this.#phase;
  }

  /** The writer's failure reason, once failed. */
  get error(): unknown {
    return this.#error;
  }

  get store(): Store {
    return this.#host.store;
  }

  /** Whether the storage has been released: the entry was deleted or failed, and went unused. */
  get released(): boolean {
    return this.#released;
  }

  /** Whether the entry was deleted (or replaced, evicted, lost): it serves its open readers only. */
  get detached(): boolean {
    return this.#detached;
  }

  /** Whether a reader or the writer is open: such an entry is never evicted. */
  get inUse(): boolean {
    return this.#readers.size > 0 || this.#writer !== undefined;
  }

  readable(options: ReadableOptions = {}): ReadableStream<Uint8Array> {
    const action = `read entry ${quoteKey(this.key)}`;
    const { start = 0, end, chunkSize = DEFAULT_CHUNK_SIZE } = options;
    checkOffset(start, "start", action);
    checkOffset(end, "end", action);
    checkOffset(chunkSize, "chunkSize", action);
    if (end !== undefined && end < start) {
      throw new RangeError(
        `Cannot ${action}: end (${end}) is before start (${start})`,
      );
    }
    if (chunkSize === 0) {
      throw new RangeError(
        `Cannot ${action}: chunkSize must be positive: received 0`,
      );
    }
    return createReadable(this, start, end ?? Infinity, chunkSize);
  }

  /** Resolves at the entry's next append, commit or failure. */
  changed(): Promise<void> {
    return this.#changed.wait();
  }

  /** Registers an open reader; `closeReader` must follow exactly once. */
  openReader(reader: Handle): void {
    this.#readers.add(reader);
  }

  /** Forgets a reader, and releases the storage if it was the last user of a dead entry. */
  closeReader(reader: Handle): void {
    if (!this.#readers.delete(reader)) return;
    this.#releaseIfUnused();
    this.#idleIfUnused();
  }

  /** Registers the writer; the entry must be writing. */
  openWriter(writer: Handle): void {
    this.#writer = writer;
  }

  /** Records `count` more bytes stored by the writer and wakes waiting readers. */
  appended(count: number): void {
    if (this.#phase !== "writing") return;
    this.#size += count;
    this.#host.grew(this, count);
    this.#changed.notify();
  }

  /**
   * Commits the writer's bytes to the store as the entry for its key, unless
   * the entry was deleted meanwhile, or the cache does not keep it: then it
   * completes for its readers only.
   */
  async commit(writer: StoreWriter): Promise<void> {
    if (this.#phase !== "writing") throw this.#error;
    this.#phase = "committing";
    try {
      await this.#host.exclusive(this.key, async () => {
        if (!this.#detached && !this.#host.keeps(this)) this.#detached = true;
        if (this.#detached) {
          await this.#notKept?.().catch(() => {});
          return;
        }
        const store = this.#host.store;
        const previous = await store.lookup(this.key);
        const record = await writer.commit();
        // Another cache or process committed this key before us, or this is
        // the refresh of a stale entry: the host frees the bytes that are
        // unlinked now, once no reader holds them.
        const replaced = previous?.id !== this.id ? previous?.id : undefined;
        this.#host.committed(this, record, replaced);
      });
    } catch (error) {
      this.#phase = "writing";
      this.fail(error);
      throw error;
    }
    this.#phase = "complete";
    this.#writer = undefined;
    this.#resolveDone(this.#size);
    this.#changed.notify();
    this.#releaseIfUnused();
    this.#idleIfUnused();
  }

  /**
   * Runs `task` when the writer finishes an entry that is not committed
   * (deleted meanwhile, or too large to keep), before `done` resolves: a
   * shared store's claim is given up then, so that the next request for the
   * key, here or in another process, produces it afresh.
   */
  whenNotKept(task: () => Promise<void>): void {
    this.#notKept = task;
  }

  /**
   * Fails an entry that is being written: readers error with `reason`, the
   * cache forgets the entry, and its storage is released once unused
   * (SEMANTICS 5). A no-op in any other phase.
   */
  fail(reason: unknown): void {
    if (this.#phase !== "writing") return;
    this.#phase = "failed";
    this.#error = reason;
    const writer = this.#writer;
    this.#writer = undefined;
    writer?.stop(reason);
    this.#rejectDone(reason);
    this.#changed.notify();
    this.#host.forget(this, { reason });
    this.#releaseIfUnused();
  }

  /**
   * Marks the entry deleted: open readers and the writer go on, a commit not
   * yet made is skipped, and the storage is released once unused
   * (SEMANTICS 10). Unlinking a committed entry from its key in the store is
   * the cache's part.
   */
  detach(): void {
    this.#detached = true;
    this.#releaseIfUnused();
  }

  /**
   * The store can no longer open this complete entry (another cache on the
   * same storage replaced it): the cache forgets it, so the next request
   * looks the key up afresh. Readers already open go on.
   */
  lost(): void {
    if (this.#phase !== "complete" || this.#detached) return;
    this.#host.forget(this);
    this.#detached = true;
    // Nothing to release: the storage is no longer this entry's (and its
    // id may be looked up again, if the failure was passing).
    this.#released = true;
    this.#host.releasing(this);
    this.#host.released(this);
  }

  /** Aborts the writer and errors every reader with `reason` (cache close). */
  shutdown(reason: unknown): void {
    this.#shutDown = { reason };
    this.fail(reason);
    for (const reader of [...this.#readers]) reader.stop(reason);
  }

  /** The reason the cache closed with, once it has: no reader opens after that. */
  get closedWith(): { reason: unknown } | undefined {
    return this.#shutDown;
  }

  /** Keeps a background task (a reader's handle closing) for `settled`. */
  track(task: Promise<void>): void {
    const tracked = task.catch(() => {}).finally(() =>
      this.#tasks.delete(tracked)
    );
    this.#tasks.add(tracked);
  }

  /** Resolves once every background task has settled and no commit is in flight. */
  async settled(): Promise<void> {
    if (this.#phase === "committing") await this.done.catch(() => {});
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  #idleIfUnused(): void {
    if (!this.inUse && !this.#released) this.#host.idle(this);
  }

  #releaseIfUnused(): void {
    if (this.#released || this.inUse) return;
    if (!this.#detached && this.#phase !== "failed") return;
    if (this.#phase === "committing") return; // commit() calls again when done
    this.#released = true;
    this.#host.releasing(this);
    // A failed release leaves garbage, not a wrong answer: the entry is
    // already unreachable, and a persistent store reclaims it on restart.
    this.track(
      this.#host.store.release(this.id).finally(() =>
        this.#host.released(this)
      ),
    );
  }
}
