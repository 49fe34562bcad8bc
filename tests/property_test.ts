// Model-based property test: random interleavings of appends, step-by-step
// reads at random offsets, cancels, deletes, successor entries, writer closes
// and aborts, over two keys of one cache, checked against a plain model of
// what each reader must get (SEMANTICS 1, 3–11).
//
// Reads are never awaited inline: a read that has caught up with its writer
// resolves only when a later command appends, closes or aborts. Each read's
// outcome is recorded by a handler attached at once (so nothing is ever an
// unhandled rejection) and checked against the model at the end, after every
// remaining writer is closed and every reader drained.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStore, StreamCache } from "../mod.ts";
import type { Entry, EntryMeta, StoreWriter } from "../mod.ts";

type Key = "a" | "b";
type ReasonKind = "error" | "object" | "none";

/** One step of a scenario. Indices pick among the eligible entries or readers, modulo their count. */
type Command =
  | { op: "open"; key: Key }
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

/** What the model knows of one entry ever created. */
interface EntryModel {
  readonly key: Key;
  readonly entry: Entry;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
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
}

const MAX_PENDING_READS = 2;

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
        return await this.#open(command.key);
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

  /** Awaits `operation`, or lets it run on while later commands interleave with it. */
  async #settle(operation: Promise<void>, wait: boolean): Promise<void> {
    if (wait) return await operation;
    this.inFlight.push(operation.catch((error) => {
      this.problems.push(error);
    }));
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
    assert.ok(
      this.entries.every((known) => known.entry !== entry),
      `open(${key}) after delete or failure makes a new entry (rule 10)`,
    );
    assert.equal(entry.key, key);
    const writer = writable.getWriter();
    writer.closed.catch(() => {});
    const model: EntryModel = {
      key,
      entry,
      writer,
      bytes: [],
      state: "writing",
      reason: undefined,
      detached: false,
      closing: false,
    };
    this.entries.push(model);
    this.current.set(key, model);
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

  // Rule 7: the writer reuses its buffer once write() resolves.
  async #write(index: number, size: number): Promise<void> {
    const model = pick(this.#writing(), index);
    if (!model) return;
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      chunk[i] = this.#nextByte;
      this.#nextByte = (this.#nextByte + 1) % 251;
    }
    model.bytes.push(...chunk);
    await model.writer.write(chunk);
    chunk.fill(0xff);
  }

  async #close(index: number): Promise<void> {
    const model = pick(this.#writing(), index);
    if (!model) return;
    model.state = "complete";
    model.closing = true;
    await model.writer.close();
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
    await model.writer.abort(reason);
  }

  // Rule 11: calls on a writer that has already closed or aborted.
  async #late(index: number, call: "write" | "close" | "abort"): Promise<void> {
    // No write while a close is in flight: Node's WritableStream throws an
    // internal assertion error there (whatwg/streams#1218), whatever the sink;
    // Node 20's does after the close too.
    const ended = this.entries.filter((e) =>
      e.state === "failed" ||
      (e.state === "complete" &&
        !(call === "write" && (e.closing || !this.#writeAfterClose)))
    );
    const model = pick(ended, index);
    if (!model) return;
    const { writer } = model;
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

  // Rules 3, 8: a reader may join at any time, at any offset.
  #openReader(
    command: Extract<Command, { op: "reader" }>,
  ): void {
    // Entries whose storage is surely alive: still written (the writer holds
    // it), committed and not deleted, or failed (the reader never reads it).
    const openable = this.entries.filter((e) =>
      e.state !== "complete" || !e.detached
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
      if (model.closing && entry.state === "writing") continue; // committing
      assert.equal(entry.state, model.state, `state of ${entry.key}`);
      assert.equal(entry.complete, model.state === "complete");
    }
  }

  /** Closes every writer still writing, drains every reader, and checks them all. */
  async finish(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.problems.length > 0) throw this.problems[0];
    for (const model of this.#writing()) {
      model.state = "complete";
      await model.writer.close();
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
      if (model.reason === undefined) {
        assert.equal((failure as { name?: unknown }).name, "AbortError");
      } else {
        assert.equal(failure, model.reason, "entry.done rejects with reason");
      }
      failures.set(model, failure);
    }
    this.readers.forEach((reader, i) =>
      checkReader(reader, failures.get(reader.of), `reader #${i}`)
    );
    // Rule 10: with every reader and writer gone, only the entries still
    // linked to a key hold storage; deleted and failed ones released theirs.
    const linked = this.entries.filter((e) =>
      e.state === "complete" && !e.detached
    );
    assert.equal(this.store.held.size, linked.length, "storage held");
  }
}

/** Checks one drained reader against the model of its entry. */
function checkReader(r: ReaderModel, failure: unknown, name: string): void {
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
  if (r.start >= r.end) {
    // An empty range ends at once, whatever the writer does.
    assert.equal(first.kind, "done", `${label}: empty range closes`);
    return;
  }
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
  writeAfterClose: boolean,
): Promise<void> {
  const world = new World(blockSize, writeAfterClose);
  try {
    for (const step of commands) {
      await world.run(step);
      world.checkEntries();
    }
    await world.finish();
  } finally {
    await world.cache.close();
  }
}

describe("StreamCache against a model", () => {
  it("rules 1, 3-11: random interleavings of writes, step-by-step reads, cancels, deletes, closes and aborts match the model", async () => {
    const writeAfterClose = await writeAfterCloseRejects();
    await fc.assert(
      fc.asyncProperty(
        // A MemoryStore block size of 1 to 9 bytes: chunks of up to 17 bytes
        // and reads of up to 9 cross block boundaries all the time.
        fc.integer({ min: 1, max: 9 }),
        fc.array(command, { maxLength: 100, size: "medium" }),
        (blockSize, commands) =>
          runScenario(blockSize, commands, writeAfterClose),
      ),
      { numRuns: 500 },
    );
  });
});
