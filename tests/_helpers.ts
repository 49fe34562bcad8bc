// Small tools shared by the test files: deterministic bytes, draining a
// stream, stores that count or fail on purpose, and two probes of the
// runtime: what gets scheduled while a test waits, and how much memory is in
// use.

import process from "node:process";
import v8 from "node:v8";
import vm from "node:vm";
import { createHash } from "node:crypto";
import { StreamCache } from "../mod.ts";
import type { Store, StoreReader, StoreWriter } from "../mod.ts";

/** Runs `test` with a fresh in-memory cache, and closes it. */
export async function withCache(
  test: (cache: StreamCache) => Promise<void>,
): Promise<void> {
  const cache = new StreamCache();
  try {
    await test(cache);
  } finally {
    await cache.close();
  }
}

/** `length` deterministic bytes; different `seed`s give different bytes. */
export function pattern(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  }
  return out;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Reads a stream to its end and returns every byte. */
export function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return readRest(stream.getReader());
}

/** Reads the rest of a stream from its reader, after reads made by hand. */
export async function readRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks);
    chunks.push(value);
  }
}

/** Resolves with the reason a stream errors with; fails if it ends cleanly. */
export async function readError(
  stream: ReadableStream<Uint8Array>,
): Promise<unknown> {
  try {
    await readAll(stream);
  } catch (error) {
    return error;
  }
  throw new Error("expected the stream to error, but it ended cleanly");
}

export const encode = (text: string): Uint8Array =>
  new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string =>
  new TextDecoder().decode(bytes);

/** Lets every queued promise job and one macrotask run. Never used to wait for an event. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tells whether `promise` has settled, without waiting for it. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol("pending");
  const winner = await Promise.race([
    promise.then(() => true, () => true),
    turn().then(() => marker),
  ]);
  return winner !== marker;
}

/** A stream the test feeds by hand. */
export function manualSource(): {
  stream: ReadableStream<Uint8Array>;
  push(chunk: Uint8Array): void;
  close(): void;
  error(reason: unknown): void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    stream,
    push: (chunk) => controller.enqueue(chunk),
    close: () => controller.close(),
    error: (reason) => controller.error(reason),
  };
}

/** What an {@linkcode instrument}ed store has been asked to do. */
export interface StoreCalls {
  creates: number;
  reads: number;
  readersOpen: number;
  releases: string[];
}

/**
 * Wraps a store to count its calls and, for keys that `fail` matches, to
 * throw from the named operation.
 */
export function instrument(
  store: Store,
  fail: {
    write?: (key: string) => unknown;
    lookup?: (key: string) => unknown;
  } = {},
): { store: Store; calls: StoreCalls } {
  const calls: StoreCalls = {
    creates: 0,
    reads: 0,
    readersOpen: 0,
    releases: [],
  };
  const wrapped: Store = {
    async create(key, meta, options): Promise<StoreWriter> {
      calls.creates++;
      const writer = await store.create(key, meta, options);
      return {
        id: writer.id,
        write(chunk) {
          const error = fail.write?.(key);
          return error === undefined
            ? writer.write(chunk)
            : Promise.reject(error);
        },
        commit: () => writer.commit(),
      };
    },
    lookup(key) {
      const error = fail.lookup?.(key);
      return error === undefined ? store.lookup(key) : Promise.reject(error);
    },
    async openReader(id): Promise<StoreReader> {
      const reader = await store.openReader(id);
      calls.readersOpen++;
      return {
        read(offset, length) {
          calls.reads++;
          return reader.read(offset, length);
        },
        close() {
          calls.readersOpen--;
          return reader.close();
        },
      };
    },
    remove: (key, id) => store.remove(key, id),
    release(id) {
      calls.releases.push(id);
      return store.release(id);
    },
    keys: () => store.keys(),
    close: () => store.close(),
    // The optional capabilities, only where the store has them.
    ...(store.touch ? { touch: store.touch.bind(store) } : {}),
    ...(store.records ? { records: store.records.bind(store) } : {}),
  };
  return { store: wrapped, calls };
}

/** The scheduling functions {@linkcode watchScheduling} replaces while it watches. */
const SCHEDULERS = [
  "setTimeout",
  "setInterval",
  "setImmediate",
  "queueMicrotask",
  "requestAnimationFrame",
  "requestIdleCallback",
] as const;

/** A stack frame in a file (`file:///…:1:2`, `/…:1:2`), not in the runtime's own code. */
const CODE_FRAME = /(?:\(|\bat )(?:file:\/\/|\/)[^)]*:\d+:\d+\)?\s*$/;

/**
 * Records every callback scheduled through the runtime's global scheduling
 * functions (timers, immediates, microtasks, animation frames,
 * `process.nextTick`, `MessagePort.postMessage`) until `stop()`, by code
 * other than the runtime's own: what code that polls would call to come
 * back later. `turn()` lets one macrotask run through the original
 * `setTimeout`, which is not recorded.
 */
export function watchScheduling(): {
  readonly calls: string[];
  turn(): Promise<void>;
  stop(): void;
} {
  const calls: string[] = [];
  const restore: (() => void)[] = [];
  const watch = (owner: object | undefined, name: string, label: string) => {
    const target = owner as Record<string, unknown> | undefined;
    const original = target?.[name];
    if (typeof original !== "function") return;
    target![name] = function (this: unknown, ...args: unknown[]) {
      // The frames below "Error" and this function's own: the runtime's
      // (Node's streams call process.nextTick on their own) or code's.
      const frames = new Error().stack?.split("\n").slice(2) ?? [];
      const code = frames.find((frame) => CODE_FRAME.test(frame));
      if (code) calls.push(`${label} ${code.trim()}`);
      return original.apply(this, args);
    };
    restore.push(() => target![name] = original);
  };
  const setTimeout = globalThis.setTimeout;
  for (const name of SCHEDULERS) watch(globalThis, name, name);
  watch(process, "nextTick", "process.nextTick");
  watch(globalThis.MessagePort?.prototype, "postMessage", "postMessage");
  return {
    calls,
    turn: () => new Promise((resolve) => setTimeout(resolve, 0)),
    stop: () => restore.forEach((undo) => undo()),
  };
}

let gc: (() => void) | undefined;
/** A full garbage collection, on Bun, Deno and Node alike. */
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  if (!gc) {
    // Node and Deno: V8's gc(), exposed after start-up.
    gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc") as () => void;
    }
  }
  gc();
}

/**
 * Bytes of memory held by live JavaScript objects, ArrayBuffers included,
 * after full garbage collections: what a test compares before and after a
 * step to see what the step keeps alive. (Bun counts ArrayBuffers in its
 * heap; V8 counts them apart, as `external`.)
 */
export async function usedMemory(): Promise<number> {
  // V8 frees ArrayBuffers' memory on a later turn: collect twice.
  for (let i = 0; i < 2; i++) {
    collectGarbage();
    await turn();
  }
  const { heapUsed, external } = process.memoryUsage();
  return "Bun" in globalThis ? heapUsed : heapUsed + external;
}

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The name of a key's file under an FsStore's entries/: SHA-256 hex of the
 * key's JSON form (so lone surrogates stay distinct). Written here, not taken
 * from the store, so the tests pin the layout and run against the package.
 */
export const entryName = (key: string): string =>
  sha256Hex(JSON.stringify(key));
