// Processes that tests/fs_hardening_test.ts starts, each on the runtime that
// runs the test, to try FsStore where one process is not enough: under a small
// file-descriptor limit, and as two stores in two PID namespaces. Each prints
// one line per event on stdout and reads commands, a line each, on stdin.
//
//   <runtime> _fs_child.ts --streamcache-fs-child fd-pressure <dir>
//     prints "one <finished> <failed> <wrong>" for 300 slow readers of one
//     512 KiB entry, then "many <finished> <emfile> <other> <wrong>" for one
//     reader of each of 200 small entries at once.
//   <runtime> _fs_child.ts --streamcache-fs-child writer <dir>
//     starts an entry, writes half of it, prints "ready"; on "commit" writes
//     the rest and prints "committed" or "failed <message>".
//   <runtime> _fs_child.ts --streamcache-fs-child starter <dir>
//     opens a store on <dir> (its start-up sweeps tmp/), prints "started".
//
// Without the flag on the command line the module does nothing.

import process from "node:process";
import { createInterface } from "node:readline";
import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { pattern, readAll } from "./_helpers.ts";

/** Marks a command line as this child's. */
export const FS_CHILD_FLAG = "--streamcache-fs-child";

/** The entry the writer child writes, and the key it writes it under. */
export const WRITER_KEY = "written by the child";
export const WRITER_BYTES: Uint8Array = pattern(256 * 1024, 21);

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Lines from stdin, one at a time. */
function commands(): AsyncIterator<string> {
  return createInterface({ input: process.stdin })[Symbol.asyncIterator]();
}

/** A reader that reads one chunk per macrotask: slow, and interleaved with every other. */
async function readSlowly(stream: ReadableStream<Uint8Array>) {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

const same = (chunks: Uint8Array[], expected: Uint8Array) => {
  const total = chunks.reduce((n, chunk) => n + chunk.byteLength, 0);
  if (total !== expected.byteLength) return false;
  let at = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.byteLength; i++) {
      if (chunk[i] !== expected[at++]) return false;
    }
  }
  return true;
};

/** Runs `task` with a cache over a new FsStore on `dir`, and closes it. */
async function withCache(
  dir: string,
  task: (cache: StreamCache) => Promise<void>,
): Promise<void> {
  const cache = new StreamCache({ store: new FsStore({ dir }) });
  try {
    await task(cache);
  } finally {
    await cache.close();
  }
}

const fdPressure = (dir: string) =>
  withCache(dir, async (cache) => {
    // 300 readers open at once, each reading 8 chunks: far more readers than
    // descriptors, with few reads.
    const big = pattern(512 * 1024, 5);
    await (await cache.getOrCreate("big", () => big)).done;
    const entry = (await cache.get("big"))!;
    const one = await Promise.allSettled(
      Array.from(
        { length: 300 },
        () => readSlowly(entry.readable({ chunkSize: 64 * 1024 })),
      ),
    );
    const finished = one.filter((r) => r.status === "fulfilled");
    const wrong = finished.filter((r) => !same(r.value, big)).length;
    say(`one ${finished.length} ${one.length - finished.length} ${wrong}`);

    const small = (i: number) => pattern(10_000, i);
    for (let i = 0; i < 200; i++) {
      await (await cache.getOrCreate(`small ${i}`, () => small(i))).done;
    }
    const entries = await Promise.all(
      Array.from({ length: 200 }, (_, i) => cache.get(`small ${i}`)),
    );
    const many = await Promise.allSettled(
      entries.map((entry) => readSlowly(entry!.readable({ chunkSize: 2500 }))),
    );
    let [ok, emfile, other, bad] = [0, 0, 0, 0];
    for (const [i, result] of many.entries()) {
      if (result.status === "fulfilled") {
        ok++;
        if (!same(result.value, small(i))) bad++;
      } else if ((result.reason as { code?: string })?.code === "EMFILE") {
        emfile++;
      } else {
        other++;
        process.stderr.write(`${result.reason?.stack ?? result.reason}\n`);
      }
    }
    // Every entry is still whole for a reader that comes later.
    for (const [i, entry] of entries.entries()) {
      if (!same([await readAll(entry!.readable())], small(i))) bad++;
    }
    say(`many ${ok} ${emfile} ${other} ${bad}`);
  });

const writer = (dir: string) =>
  withCache(dir, async (cache) => {
    const { entry, writable } = await cache.open(WRITER_KEY);
    const out = writable!.getWriter();
    const half = WRITER_BYTES.byteLength / 2;
    await out.write(WRITER_BYTES.slice(0, half));
    say("ready");
    const input = commands();
    for (;;) {
      const { done, value } = await input.next();
      if (done) throw new Error('stdin closed before "commit"');
      if (value === "commit") break;
    }
    try {
      await out.write(WRITER_BYTES.slice(half));
      await out.close();
      await entry.done;
      say("committed");
    } catch (error) {
      say(`failed ${(error as Error)?.message ?? error}`);
    }
  });

const starter = (dir: string) =>
  withCache(dir, async (cache) => {
    await cache.has("anything"); // waits for the store's start-up and sweep
    say("started");
  });

const at = process.argv.indexOf(FS_CHILD_FLAG);
if (at >= 0) {
  const [role, dir = ""] = process.argv.slice(at + 1);
  const roles: Record<string, (dir: string) => Promise<void>> = {
    "fd-pressure": fdPressure,
    writer,
    starter,
  };
  const run = roles[role ?? ""];
  (run ? run(dir) : Promise.reject(new TypeError(`unknown role ${role}`)))
    .then(() => process.exit(0), (error) => {
      process.stderr.write(`${error?.stack ?? error}\n`);
      process.exit(1);
    });
}
