// Model-based property test: random interleavings of appends, step-by-step
// reads at random offsets, cancels, deletes, successor entries, writer closes
// and aborts, entries made by open() and by getOrCreate() producers (one at a
// time or several calls at once), and in half the scenarios a close() of the
// cache at a random step, over two keys of one cache, checked against a plain
// model of what each reader must get (SEMANTICS 1, 3–12).
//
// Replaying a failure: its message gives the seed and the path of the
// smallest failing scenario, e.g. `FC_SEED=-1234 FC_PATH=12:3:0` before the
// test command (FC_RUNS sets the number of scenarios, 500 by default).
//
// Reads are never awaited inline: a read that has caught up with its writer
// resolves only when a later command appends, closes or aborts. Each read's
// outcome is recorded by a handler attached at once (so nothing is ever an
// unhandled rejection) and checked against the model at the end, after every
// remaining writer is closed and every reader drained.

import { describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { CacheClosedError, MemoryStore, StreamCache } from "../mod.ts";
import type { Entry, EntryMeta, StoreWriter } from "../mod.ts";

type Key = "a" | "b";
type ReasonKind = "error" | "object" | "none";

/** How a caller asks for an entry: open() (a writer if it creates it) or getOrCreate(). */
type Call = "open" | "produce";

/** One step of a scenario. Indices pick among the eligible entries or readers, modulo their count. */
type Command =
  | { op: "open"; key: Key }
  | { op: "produce"; key: Key; fails: boolean }
  | { op: "concurrent"; key: Key; calls: Call[] }
  | { op: "get"; key: Key }
  | { op: "delete"; key: Key; wait: boolean }
  | { op: "write"; writer: number; size: number }
  | { op: "close"; writer: number; wait: boolean }
  | { op: "abort"; writer: number; reason: ReasonKind }
  | { op: "late"; writer: number; call: "write" | "close" | "abort" }
  | {
    op: "reader";
    entry: number;
    start: number;
    length: number | undefined;
    chunkSize: number;
  }
  | { op: "read"; reader: number }
  | { op: "cancel"; reader: number };

/**
 * How the model writes an entry: through the writer open() gave, or through
 * the stream a getOrCreate() producer returned (the cache pipes it in).
 */
type Feed =
  | { kind: "writer"; writer: WritableStreamDefaultWriter<Uint8Array> }
  | { kind: "producer"; source: ReadableStreamDefaultController<Uint8Array> };

/** What the model knows of one entry ever created. */
interface EntryModel {
  readonly key: Key;
  readonly entry: Entry;
  readonly feed: Feed;
  /** Every byte appended, in order. */
  readonly bytes: number[];
  /** Set *before* the real close or abort starts, so read handlers see it early. */
  state: "writing" | "complete" | "failed";
  /** The abort reason given (`undefined` for a reasonless abort). */
  reason: unknown;
  /** Deleted from the cache (its successor, if any, is another EntryModel). */
  detached: boolean;
  /** A close not awaited is in flight: the entry may still show `writing`. */
  closing: boolean;
  /** The cache closed while this entry's close was in flight: it may have completed or failed. */
  raced: boolean;
}

/** How a read ended the stream, and what the model said at that moment. */
interface Ending {
  readonly kind: "done" | "error";
  readonly error: unknown;
  /** The entry's model state when the read settled. */
  readonly entryState: EntryModel["state"];
}

/** What the model knows of one reader. */
interface ReaderModel {
  readonly of: EntryModel;
  readonly start: number;
  /** Exclusive; `Infinity` when no `end` was given. */
  readonly end: number;
  readonly chunkSize: number;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Every byte received, in order. */
  readonly received: number[];
  readonly chunkSizes: number[];
  /** Every `done` or rejection, in order (a finished stream answers every later read the same). */
  readonly endings: Ending[];
  /** Reads issued and not yet settled. */
  pending: number;
  cancelled: boolean;
  /** Opened after the cache was closed. */
  afterClose: boolean;
}

const MAX_PENDING_READS = 2;
/** The model's reason for an entry that close() failed: a CacheClosedError. */
const CLOSED = Symbol("closed by close()");

/** A MemoryStore that knows which entries' storage is still held. */
class TrackingStore extends MemoryStore {
  readonly held = new Set<string>();

  override async create(
    key: string,
    meta: EntryMeta | undefined,
  ): Promise<StoreWriter> {
    const writer = await super.create(key, meta);
    this.held.add(writer.id);
    return writer;
  }

  override release(id: string): Promise<void> {
    this.held.delete(id);
    return super.release(id);
  }
}

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(
    error,
  );
}

/** Runs commands against a real cache and the model side by side. */
class World {
  readonly cache: StreamCache;
  readonly store: TrackingStore;
  readonly entries: EntryModel[] = [];
  readonly readers: ReaderModel[] = [];
  readonly current = new Map<Key, EntryModel>();
  /** Closes and deletes left running while later commands go on; they never reject. */
  readonly inFlight: Promise<void>[] = [];
  /** Failures seen by the in-flight operations, thrown by `finish`. */
  readonly problems: unknown[] = [];
  /** Whether the cache has been closed (rule 12). */
  closed = false;
  #nextByte = 0;
  #nextReason = 0;

  /** Whether this runtime's WritableStream lets a closed writer be written to (see `writeAfterCloseRejects`). */
  readonly #writeAfterClose: boolean;

  constructor(blockSize: number, writeAfterClose: boolean) {
    this.store = new TrackingStore({ blockSize });
    this.cache = new StreamCache({ store: this.store });
    this.#writeAfterClose = writeAfterClose;
  }

  async run(command: Command): Promise<void> {
    switch (command.op) {
      case "open":
      case "produce":
      case "concurrent":
      case "get":
      case "delete":
        if (this.closed) return await this.#afterClose(command);
    }
    switch (command.op) {
      case "open":
        return await this.#open(command.key);
      case "produce":
        return await this.#produce(command.key, command.fails);
      case "concurrent":
        return await this.#concurrent(command.key, command.calls);
      case "get":
        return await this.#get(command.key);
      case "delete":
        return await this.#settle(this.#delete(command.key), command.wait);
      case "write":
        return await this.#write(command.writer, command.size);
      case "close":
        return await this.#settle(this.#close(command.writer), command.wait);
      case "abort":
        return await this.#abort(command.writer, command.reason);
      case "late":
        return await this.#late(command.writer, command.call);
      case "reader":
        return this.#openReader(command);
      case "read":
        return this.#readStep(command.reader);
      case "cancel":
        return await this.#cancel(command.reader);
    }
  }

  // Rule 12: after close(), every call on the cache rejects with a
  // CacheClosedError, and no producer runs.
  async #afterClose(command: Command): Promise<void> {
    if (!("key" in command)) return;
    const { key } = command;
    let runs = 0;
    const producer = () => (runs++, new Uint8Array(1));
    const calls = command.op === "concurrent"
      ? command.calls.map((call) =>
        call === "open"
          ? this.cache.open(key)
          : this.cache.getOrCreate(key, producer)
      )
      : command.op === "open"
      ? [this.cache.open(key)]
      : command.op === "produce"
      ? [this.cache.getOrCreate(key, producer)]
      : command.op === "get"
      ? [this.cache.get(key), this.cache.has(key)]
      : [this.cache.delete(key)];
    for (const call of calls) {
      await assert.rejects(
        call,
        CacheClosedError,
        `${command.op} after close()`,
      );
    }
    assert.equal(runs, 0, "no producer runs after close()");
  }

  /** Awaits `operation`, or lets it run on while later commands interleave with it. */
  async #settle(operation: Promise<void>, wait: boolean): Promise<void> {
    if (wait) return await operation;
    this.inFlight.push(operation.catch((error) => {
      this.problems.push(error);
    }));
  }

  /** A new entry's model, made current for its key. */
  #created(key: Key, entry: Entry, feed: Feed): void {
    assert.ok(
      this.entries.every((known) => known.entry !== entry),
      `a missing ${key} gets a new entry, never an old one (rules 5, 10)`,
    );
    assert.equal(entry.key, key);
    const model: EntryModel = {
      key,
      entry,
      feed,
      bytes: [],
      state: "writing",
      reason: undefined,
      detached: false,
      closing: false,
      raced: false,
    };
    this.entries.push(model);
    this.current.set(key, model);
  }

  /** A producer the model feeds by hand, through the stream it returns. */
  #producer(runs: { count: number; source?: Feed }, fails: boolean) {
    return () => {
      runs.count++;
      if (fails) throw new Error(`producer of run ${runs.count} fails`);
      let source!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          source = controller;
        },
      });
      runs.source = { kind: "producer", source };
      return body;
    };
  }

  // Rule 1: a missing key gets a new entry and its one writer; an existing
  // one is shared, without a writer.
  async #open(key: Key): Promise<void> {
    const { entry, writable } = await this.cache.open(key);
    const existing = this.current.get(key);
    if (existing) {
      assert.equal(entry, existing.entry, `open(${key}) returns its entry`);
      assert.equal(writable, undefined, `open(${key}) gives no 2nd writer`);
      return;
    }
    assert.ok(writable, `open(${key}) of a missing key gives the writer`);
    const writer = writable.getWriter();
    writer.closed.catch(() => {});
    this.#created(key, entry, { kind: "writer", writer });
  }

  // Rules 1, 5: getOrCreate runs the producer only for a missing key; one
  // that throws rejects the call and leaves the key missing.
  async #produce(key: Key, fails: boolean): Promise<void> {
    const runs: { count: number; source?: Feed } = { count: 0 };
    const existing = this.current.get(key);
    const call = this.cache.getOrCreate(key, this.#producer(runs, fails));
    if (existing) {
      assert.equal(await call, existing.entry, `getOrCreate(${key}) hit`);
      assert.equal(runs.count, 0, "the producer of a present key never runs");
      return;
    }
    if (fails) {
      await assert.rejects(call, /producer of run 1 fails/);
      assert.equal(runs.count, 1);
      return;
    }
    const entry = await call;
    assert.equal(runs.count, 1, `getOrCreate(${key}) runs its producer once`);
    this.#created(key, entry, runs.source!);
  }

  // Rule 1: of several open() and getOrCreate() calls at once for a missing
  // key, exactly one creates the entry (one writer given, or one producer
  // run), and all of them get that entry.
  async #concurrent(key: Key, calls: readonly Call[]): Promise<void> {
    const runs: { count: number; source?: Feed } = { count: 0 };
    const existing = this.current.get(key);
    const results = await Promise.all(calls.map(async (call) => {
      if (call === "produce") {
        return {
          entry: await this.cache.getOrCreate(key, this.#producer(runs, false)),
          writable: undefined,
        };
      }
      return await this.cache.open(key);
    }));
    const entries = new Set(results.map((result) => result.entry));
    assert.equal(entries.size, 1, `${calls} of ${key} get one entry`);
    const [entry] = entries;
    const writers = results.filter((result) => result.writable);
    if (existing) {
      assert.equal(entry, existing.entry, `${calls} of a present ${key}`);
      assert.equal(writers.length + runs.count, 0, "nobody creates it");
      return;
    }
    assert.equal(
      writers.length + runs.count,
      1,
      `exactly one of ${calls} creates ${key}: ${writers.length} writers, ${runs.count} producer runs`,
    );
    if (runs.source) this.#created(key, entry!, runs.source);
    else {
      const writer = writers[0]!.writable!.getWriter();
      writer.closed.catch(() => {});
      this.#created(key, entry!, { kind: "writer", writer });
    }
  }

  async #get(key: Key): Promise<void> {
    const expected = this.current.get(key)?.entry;
    assert.equal(await this.cache.get(key), expected, `get(${key})`);
    assert.equal(await this.cache.has(key), expected !== undefined);
  }

  // Rule 10: the key is detached at once; open readers are unaffected.
  async #delete(key: Key): Promise<void> {
    const existing = this.current.get(key);
    if (existing) existing.detached = true;
    this.current.delete(key);
    const deleted = this.cache.delete(key); // detaches before it returns
    assert.equal(
      await deleted,
      existing !== undefined,
      `delete(${key}) tells whether there was an entry`,
    );
  }

  /**
   * Resolves once the entry holds `size` bytes. A producer's chunk reaches
   * the entry through the cache's pipe, some time after it is enqueued: a
   * reader of the entry's last byte waits for it (rule 8), with no sleep.
   */
  async #stored(model: EntryModel, size: number): Promise<void> {
    if (size === 0 || model.entry.size >= size) return;
    const probe = model.entry.readable({ start: size - 1, end: size });
    const reader = probe.getReader();
    const { value } = await reader.read();
    assert.equal(value?.byteLength, 1, "the probe got the last byte written");
    await reader.cancel();
  }

  // Rule 7: the writer reuses its buffer once write() resolves (a producer,
  // once the entry holds the chunk).
  async #write(index: number, size: number): Promise<void> {
    const model = pick(this.#writing(), index);
    if (!model) return;
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      chunk[i] = this.#nextByte;
      this.#nextByte = (this.#nextByte + 1) % 251;
    }
    model.bytes.push(...chunk);
    if (model.feed.kind === "writer") await model.feed.writer.write(chunk);
    else {
      model.feed.source.enqueue(chunk);
      await this.#stored(model, model.bytes.length);
    }
    chunk.fill(0xff);
  }

  async #close(index: number): Promise<void> {
    const model = pick(this.#writing(), index);
    if (!model) return;
    model.state = "complete";
    model.closing = true;
    if (model.feed.kind === "writer") await model.feed.writer.close();
    else {
      model.feed.source.close();
      await model.entry.done;
    }
    model.closing = false;
  }

  // Rule 5: a failed entry is forgotten; the next open creates afresh.
  async #abort(index: number, kind: ReasonKind): Promise<void> {
    const model = pick(this.#writing(), index);
    if (!model) return;
    const n = ++this.#nextReason;
    const reason = kind === "error"
      ? new Error(`abort #${n}`)
      : kind === "object"
      ? { abort: n }
      : undefined;
    model.state = "failed";
    model.reason = reason;
    if (this.current.get(model.key) === model) this.current.delete(model.key);
    if (model.feed.kind === "writer") await model.feed.writer.abort(reason);
    else {
      // The cache's pipe aborts the entry with the stream's error.
      model.feed.source.error(reason);
      await model.entry.done.catch(() => {});
    }
  }

  // Rule 11: calls on a writer that has already closed or aborted.
  async #late(index: number, call: "write" | "close" | "abort"): Promise<void> {
    // No write while a close is in flight: Node's WritableStream throws an
    // internal assertion error there (whatwg/streams#1218), whatever the sink;
    // Node 20's does after the close too.
    const ended = this.entries.filter((e) =>
      e.feed.kind === "writer" && !e.raced && (
        e.state === "failed" ||
        (e.state === "complete" &&
          !(call === "write" && (e.closing || !this.#writeAfterClose)))
      )
    );
    const model = pick(ended, index);
    if (!model || model.feed.kind !== "writer") return;
    const { writer } = model.feed;
    if (call === "abort") {
      await writer.abort(new Error("late abort"));
      return;
    }
    const attempt = call === "write"
      ? writer.write(new Uint8Array([0xfe]))
      : writer.close();
    const outcome = await attempt.then(
      () => ({ rejected: false, error: undefined as unknown }),
      (error: unknown) => ({ rejected: true, error }),
    );
    assert.ok(outcome.rejected, `${call} after ${model.state} must reject`);
    if (model.state === "complete") {
      assert.ok(
        outcome.error instanceof TypeError,
        `${call} after close rejects with a TypeError, got ${
          describeError(outcome.error)
        }`,
      );
    }
  }

  // Rule 12: close() fails every entry still written with a CacheClosedError
  // (a close in flight may still commit), ends every open reader, and every
  // later call rejects.
  async closeCache(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const model of this.entries) {
      if (model.closing) model.raced = true;
      else if (model.state === "writing") {
        model.state = "failed";
        model.reason = CLOSED;
      }
    }
    this.current.clear();
    await this.cache.close();
    await this.cache.close(); // rule 11: twice is harmless
  }

  // Rules 3, 8: a reader may join at any time, at any offset.
  #openReader(
    command: Extract<Command, { op: "reader" }>,
  ): void {
    // Entries whose storage is surely alive: still written (the writer holds
    // it), committed and not deleted, or failed (the reader never reads it).
    // After close(), any entry: its readers must fail.
    const openable = this.entries.filter((e) =>
      this.closed || e.state !== "complete" || !e.detached
    );
    const model = pick(openable, command.entry);
    if (!model) return;
    const { start, chunkSize } = command;
    const end = command.length === undefined
      ? Infinity
      : start + command.length;
    const stream = command.length === undefined
      ? model.entry.readable({ start, chunkSize })
      : model.entry.readable({ start, end, chunkSize });
    const reader = stream.getReader();
    reader.closed.catch(() => {});
    this.readers.push({
      of: model,
      start,
      end,
      chunkSize,
      reader,
      received: [],
      chunkSizes: [],
      endings: [],
      pending: 0,
      cancelled: false,
      afterClose: this.closed,
    });
  }

  // Rules 3, 4: one read at a time, left pending if it must wait.
  #readStep(index: number): void {
    const reader = pick(
      this.readers.filter((r) =>
        !r.cancelled && r.endings.length === 0 && r.pending < MAX_PENDING_READS
      ),
      index,
    );
    if (reader) void this.read(reader);
  }

  /** Issues one read; the promise settles (never rejects) once its outcome is recorded. */
  read(model: ReaderModel): Promise<void> {
    model.pending++;
    return model.reader.read().then(
      (result) => {
        model.pending--;
        if (result.done) {
          model.endings.push({
            kind: "done",
            error: undefined,
            entryState: model.of.state,
          });
          return;
        }
        const chunk = result.value;
        model.chunkSizes.push(chunk.byteLength);
        model.received.push(...chunk);
        chunk.fill(0xee); // rule 7: nobody else may see this
      },
      (error: unknown) => {
        model.pending--;
        model.endings.push({
          kind: "error",
          error,
          entryState: model.of.state,
        });
      },
    );
  }

  // Rule 6: cancelling one reader affects no one else.
  async #cancel(index: number): Promise<void> {
    const model = pick(
      this.readers.filter((r) => !r.cancelled && r.endings.length === 0),
      index,
    );
    if (!model) return;
    model.cancelled = true;
    // The stream may already have errored with the writer's reason, whose
    // rejection is then what cancel() returns.
    await model.reader.cancel().catch(() => {});
  }

  #writing(): EntryModel[] {
    return this.entries.filter((e) => e.state === "writing");
  }

  /** Rule 9: every entry's observable size and state match the model. */
  checkEntries(): void {
    for (const model of this.entries) {
      const { entry } = model;
      assert.equal(entry.size, model.bytes.length, `size of ${entry.key}`);
      if (model.raced) continue; // its close raced close(): settled in finish
      if (model.closing && entry.state === "writing") continue; // committing
      assert.equal(entry.state, model.state, `state of ${entry.key}`);
      assert.equal(entry.complete, model.state === "complete");
    }
  }

  /** Closes every writer still writing, drains every reader, and checks them all. */
  async finish(): Promise<void> {
    await Promise.all(this.inFlight);
    // A close or delete in flight when the cache closed may reject so.
    const problems = this.problems.filter((error) =>
      !(this.closed && error instanceof CacheClosedError)
    );
    if (problems.length > 0) throw problems[0];
    for (const model of this.#writing()) {
      model.state = "complete";
      if (model.feed.kind === "writer") await model.feed.writer.close();
      else {
        model.feed.source.close();
        await model.entry.done;
      }
    }
    // An entry whose close raced close() either committed or failed with
    // the CacheClosedError; either is right, and the model takes what it got.
    for (const model of this.entries.filter((e) => e.raced)) {
      await model.entry.done.catch(() => {});
      model.closing = false;
      model.state = model.entry.state;
      if (model.state === "failed") model.reason = CLOSED;
    }
    this.checkEntries();
    for (const reader of this.readers) {
      if (reader.cancelled) continue;
      // Each read delivers at least one byte or ends the stream.
      for (let guard = 0; reader.endings.length === 0; guard++) {
        assert.ok(guard <= reader.of.bytes.length + 1, "reader never ends");
        await this.read(reader);
      }
    }
    const failures = new Map<EntryModel, unknown>();
    for (const model of this.entries) {
      if (model.state === "complete") {
        assert.equal(await model.entry.done, model.bytes.length, "done size");
        continue;
      }
      const failure = await model.entry.done.then(
        () => assert.fail("entry.done of a failed entry must reject"),
        (error: unknown) => error,
      );
      if (model.reason === CLOSED) {
        assert.ok(
          failure instanceof CacheClosedError,
          `close() fails a written entry with a CacheClosedError, got ${
            describeError(failure)
          }`,
        );
      } else if (model.reason === undefined) {
        assert.equal((failure as { name?: unknown }).name, "AbortError");
      } else {
        assert.equal(failure, model.reason, "entry.done rejects with reason");
      }
      failures.set(model, failure);
    }
    this.readers.forEach((reader, i) =>
      checkReader(
        reader,
        failures.get(reader.of),
        `reader #${i}`,
        this.closed,
      )
    );
    if (this.closed) return; // the store is closed: it holds nothing
    // Rule 10: with every reader and writer gone, only the entries still
    // linked to a key hold storage; deleted and failed ones released theirs.
    const linked = this.entries.filter((e) =>
      e.state === "complete" && !e.detached
    );
    assert.equal(this.store.held.size, linked.length, "storage held");
  }
}

/** Checks one drained reader against the model of its entry. */
function checkReader(
  r: ReaderModel,
  failure: unknown,
  name: string,
  closed: boolean,
): void {
  const label =
    `${name} of ${r.of.key}[${r.start}, ${r.end}) by ${r.chunkSize}`;
  const size = r.of.bytes.length;
  const expected = r.of.bytes.slice(r.start, Math.min(r.end, size));
  for (const chunkSize of r.chunkSizes) {
    assert.ok(chunkSize >= 1 && chunkSize <= r.chunkSize, `${label}: chunk`);
  }
  // Every byte received is the entry's, in order, from `start` (rules 3, 7, 10).
  assert.deepEqual(
    r.received,
    expected.slice(0, r.received.length),
    `${label}: bytes received`,
  );
  if (r.cancelled) return;
  const [first, ...later] = r.endings;
  assert.ok(first, `${label}: drained`);
  for (const ending of later) {
    assert.equal(ending.kind, first.kind, `${label}: ends once`);
    assert.equal(ending.error, first.error, `${label}: ends once`);
  }
  const reachedEnd = r.received.length === r.end - r.start;
  if (first.kind === "error" && first.error instanceof CacheClosedError) {
    // Rule 12: close() ended it, after the bytes checked above.
    assert.ok(closed, `${label}: a CacheClosedError, yet the cache is open`);
    return;
  }
  if (r.start >= r.end) {
    // An empty range ends at once, whatever the writer does.
    assert.equal(first.kind, "done", `${label}: empty range closes`);
    return;
  }
  // Opened after close(): it may not end cleanly short of its bytes (the
  // checks below), and may fail. (With what: see the rule 12 tests.)
  if (r.afterClose && first.kind === "error") return;
  if (r.of.state === "complete") {
    if (r.start > size) {
      // Rule 8: the entry completed shorter than `start`.
      assert.equal(first.kind, "error", `${label}: start beyond the end`);
      assert.ok(
        first.error instanceof RangeError,
        `${label}: expected a RangeError, got ${describeError(first.error)}`,
      );
      assert.equal(first.entryState, "complete", `${label}: errored early`);
      return;
    }
    // Rule 4: it closes only once the writer has closed, or at its `end`.
    assert.equal(
      first.kind,
      "done",
      `${label}: errored with ${describeError(first.error)}`,
    );
    assert.deepEqual(r.received, expected, `${label}: every byte`);
    assert.ok(
      reachedEnd || first.entryState === "complete",
      `${label}: closed before the writer did`,
    );
    return;
  }
  // Rule 5: a failed entry errors its readers with the reason, unless the
  // reader had already read up to its `end`.
  if (reachedEnd) {
    assert.equal(first.kind, "done", `${label}: had reached its end`);
  } else {
    assert.equal(first.kind, "error", `${label}: ended cleanly on a failure`);
    assert.equal(first.error, failure, `${label}: errors with the reason`);
  }
}

const key = fc.constantFrom<Key>("a", "b");
const index = fc.nat({ max: 7 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant("open"), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("produce"),
      key,
      fails: fc.nat({ max: 3 }).map((n) => n === 0), // one in four throws
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("concurrent"),
      key,
      calls: fc.array(fc.constantFrom<Call>("open", "produce"), {
        minLength: 2,
        maxLength: 4,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("get"), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("delete"),
      key,
      wait: fc.boolean(),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("write"),
      writer: index,
      size: fc.nat({ max: 17 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("close"),
      writer: index,
      wait: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("abort"),
      writer: index,
      reason: fc.constantFrom<ReasonKind>("error", "object", "none"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("late"),
      writer: index,
      call: fc.constantFrom(
        "write" as const,
        "close" as const,
        "abort" as const,
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("reader"),
      entry: index,
      start: fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 40 })),
      length: fc.option(fc.nat({ max: 30 }), { nil: undefined }),
      chunkSize: fc.integer({ min: 1, max: 9 }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({ op: fc.constant("read"), reader: index }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("cancel"), reader: index }),
  },
);

/**
 * Whether a write to a closed `WritableStream` rejects, as the Streams
 * standard says. Node 20's throws an internal assertion error instead
 * (nodejs/node#57272): a runtime bug, not the cache's, so the property skips
 * that one call there.
 */
async function writeAfterCloseRejects(): Promise<boolean> {
  const writer = new WritableStream<Uint8Array>().getWriter();
  await writer.close();
  try {
    await writer.write(new Uint8Array(1)).catch(() => {});
    return true;
  } catch {
    return false;
  }
}

/** Runs one scenario; the cache is closed whatever happens. */
async function runScenario(
  blockSize: number,
  commands: readonly Command[],
  closeAt: number | undefined,
  writeAfterClose: boolean,
): Promise<void> {
  const world = new World(blockSize, writeAfterClose);
  try {
    for (const [i, step] of commands.entries()) {
      if (i === closeAt) await world.closeCache();
      await world.run(step);
      world.checkEntries();
    }
    await world.finish();
  } finally {
    await world.cache.close();
  }
}

/** An integer from the environment, or `undefined` if unset. */
function fromEnv(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be an integer: received ${text}`);
  }
  return value;
}

describe("StreamCache against a model", () => {
  it(
    "rules 1, 3-12: random interleavings of opens, producers, concurrent calls, writes, step-by-step reads, cancels, deletes, closes, aborts and close() match the model",
    { timeout: HEAVY_TIMEOUT_MS },
    async () => {
      const writeAfterClose = await writeAfterCloseRejects();
      const seed = fromEnv("FC_SEED") ?? (Math.random() * 2 ** 31) | 0;
      const path = process.env.FC_PATH || undefined;
      const details = await fc.check(
        fc.asyncProperty(
          // A MemoryStore block size of 1 to 9 bytes: chunks of up to 17
          // bytes and reads of up to 9 cross block boundaries all the time.
          fc.integer({ min: 1, max: 9 }),
          fc.array(command, { maxLength: 100, size: "medium" }),
          // Half the scenarios close the cache before one of their steps.
          fc.option(fc.nat({ max: 99 }), { nil: undefined, freq: 2 }),
          (blockSize, commands, closeAt) =>
            runScenario(blockSize, commands, closeAt, writeAfterClose),
        ),
        {
          seed,
          numRuns: fromEnv("FC_RUNS") ?? 500,
          ...(path === undefined ? {} : { path, endOnFailure: true }),
        },
      );
      if (details.failed) {
        const replay = `FC_SEED=${details.seed} FC_PATH=${
          details.counterexamplePath ?? ""
        }`;
        throw new Error(
          `Replay this failure with ${replay} before the test command.\n` +
            fc.defaultReportMessage(details),
          { cause: details.errorInstance },
        );
      }
    },
  );
});
