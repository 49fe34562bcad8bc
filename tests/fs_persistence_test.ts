// FsStore beyond the conformance suite: restarts, hostile keys on a real
// directory, deletion under open readers, a full disk, corrupted and foreign
// files at start-up, and two stores sharing one directory (SEMANTICS 10,
// 13-15, 18). Each test has its own temporary directory and removes it.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamCache } from "../mod.ts";
import type { Entry, EntryMeta } from "../mod.ts";
import { denoFileSystem, FsStore, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileHandle, FileSystem } from "../src/fs/mod.ts";
import {
  concat,
  decode,
  encode,
  entryName,
  pattern,
  readAll,
} from "./_helpers.ts";

/** The adapter FsStore picks by default on this runtime, for wrapping. */
const BASE_FS: FileSystem = "Deno" in globalThis
  ? denoFileSystem
  : nodeFileSystem;

/** Runs `test` with a fresh temporary directory, and removes it after. */
async function withDir(test: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "streamcache-fsp-"));
  try {
    await test(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Runs `test` with a cache over a new FsStore on `dir`, and closes it after. */
async function withCache(
  dir: string,
  test: (cache: StreamCache) => Promise<void>,
  options: { fs?: FileSystem; verify?: "size" | "checksum" } = {},
): Promise<void> {
  const store = new FsStore({ dir, ...options });
  const cache = new StreamCache({ store });
  try {
    // The start-up scan runs in the background; the tests here count files
    // and fault-injected operations, so they start once it is done.
    await store.scanned;
    await test(cache);
  } finally {
    await cache.close();
  }
}

/** Writes `chunks` as a new entry for `key` and waits until it is committed. */
async function put(
  cache: StreamCache,
  key: string,
  chunks: readonly Uint8Array[],
  meta?: EntryMeta,
): Promise<Entry> {
  const { entry, writable } = await cache.open(key, meta ? { meta } : {});
  assert.ok(writable, `expected to create ${JSON.stringify(key)}`);
  const writer = writable.getWriter();
  for (const chunk of chunks) await writer.write(chunk);
  await writer.close();
  await entry.done;
  return entry;
}

/** Splits `bytes` into chunks of `size`, so a write takes several calls. */
function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) {
    out.push(bytes.slice(at, at + size));
  }
  return out;
}

/** Reads the complete entry for `key`, failing if there is none. */
async function readKey(cache: StreamCache, key: string): Promise<Uint8Array> {
  const entry = await cache.get(key);
  assert.ok(entry, `expected an entry for ${JSON.stringify(key).slice(0, 40)}`);
  assert.equal(entry.complete, true);
  return await readAll(entry.readable());
}

async function listKeys(cache: StreamCache): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of cache.keys()) keys.push(key);
  return keys.sort();
}

/** Every path under `root`, relative, sorted; directories end with "/". */
async function tree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (
    const item of await readdir(join(root, prefix), { withFileTypes: true })
  ) {
    const path = prefix ? `${prefix}/${item.name}` : item.name;
    if (item.isDirectory()) out.push(`${path}/`, ...(await tree(root, path)));
    else out.push(path);
  }
  return out.sort();
}

/** The files (not directories) under `<dir>/tmp/`, as `<owner>/<name>`. */
async function tmpFiles(dir: string): Promise<string[]> {
  return (await tree(join(dir, "tmp"))).filter((path) => !path.endsWith("/"));
}

/** Rejects with a clear message if `promise` has not settled within `ms`: a guard against hanging, not a wait. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves when `predicate` matches a path the store has removed. */
function watchRemovals(base: FileSystem): {
  fs: FileSystem;
  removed(predicate: (path: string) => boolean): Promise<string>;
} {
  const seen: string[] = [];
  const waiters: {
    predicate: (path: string) => boolean;
    resolve(path: string): void;
  }[] = [];
  const fs: FileSystem = {
    ...base,
    async remove(path) {
      await base.remove(path);
      seen.push(path);
      for (const waiter of waiters.splice(0)) {
        if (waiter.predicate(path)) waiter.resolve(path);
        else waiters.push(waiter);
      }
    },
  };
  return {
    fs,
    removed: (predicate) =>
      new Promise((resolve) => {
        const path = seen.find(predicate);
        if (path !== undefined) resolve(path);
        else waiters.push({ predicate, resolve });
      }),
  };
}

describe("FsStore persistence", () => {
  it("rule 13: after a restart an entry is a hit with identical size, bytes and meta; a delete survives the next restart", () =>
    withDir(async (dir) => {
      const meta = { type: "text/plain", headers: { "x-n": ["1", "2"] } };
      await withCache(dir, async (cache) => {
        const entry = await put(
          cache,
          "hello",
          [encode("hello world\n")],
          meta,
        );
        assert.equal(await entry.done, 12);
      });
      await withCache(dir, async (cache) => {
        const { entry, writable } = await cache.open("hello");
        assert.equal(writable, undefined, "a hit gives no writer");
        assert.equal(entry.size, 12);
        assert.equal(entry.complete, true);
        assert.equal(entry.state, "complete");
        assert.equal(await entry.done, 12);
        assert.deepEqual(entry.meta, meta);
        assert.equal(decode(await readAll(entry.readable())), "hello world\n");
        assert.deepEqual(await listKeys(cache), ["hello"]);

        assert.equal(await cache.delete("hello"), true);
        assert.equal(await cache.has("hello"), false);
        assert.equal(await cache.get("hello"), undefined);
      });
      assert.deepEqual(await readdir(join(dir, "entries")), []);
      await withCache(dir, async (cache) => {
        assert.equal(await cache.has("hello"), false);
        assert.deepEqual(await listKeys(cache), []);
      });
    }));

  it("rule 15: hostile keys create nothing outside the directory and round-trip through keys() after a restart", () =>
    withDir(async (root) => {
      const keys = [
        "",
        "../../x",
        "../../../../../../../../tmp/x",
        "/abs",
        "/",
        "./x",
        ".",
        "..",
        "a/b/c",
        "a\\b",
        "..\\..\\x",
        "\\",
        "a\u0000b",
        "\u0000",
        "CON",
        "NUL",
        "con.txt",
        "line\nbreak",
        "🦀🎉",
        "k".repeat(100_000),
        "🎉".repeat(25_000), // 100 KB of UTF-8
      ];
      // The cache sits three levels down, so a key escaping it would land in root.
      const dir = join(root, "p", "q", "cache");
      await mkdir(join(root, "p", "q"), { recursive: true });
      const before = await tree(root);
      const absBefore = existsSync("/abs");
      const bodyOf = (i: number) =>
        concat([encode(`${i}:`), pattern(i * 97, i)]);

      await withCache(dir, async (cache) => {
        for (const [i, key] of keys.entries()) {
          await put(cache, key, [bodyOf(i)], { i });
        }
        assert.deepEqual(await listKeys(cache), [...keys].sort());
      });
      await withCache(dir, async (cache) => {
        assert.deepEqual(await listKeys(cache), [...keys].sort());
        for (const [i, key] of keys.entries()) {
          assert.deepEqual(await readKey(cache, key), bodyOf(i));
          assert.deepEqual((await cache.get(key))?.meta, { i });
        }
      });

      const after = await tree(root);
      const inside = (path: string) => path.startsWith("p/q/cache/");
      assert.deepEqual(after.filter((path) => !inside(path)), before);
      // Inside: one file per key under entries/, the (empty) tmp/, and the
      // record index.
      assert.deepEqual(
        after.filter(inside),
        [
          "p/q/cache/",
          "p/q/cache/entries/",
          "p/q/cache/index.json",
          "p/q/cache/tmp/",
          ...keys.map((key) => `p/q/cache/entries/${entryName(key)}`),
        ].sort(),
      );
      assert.equal(existsSync("/abs"), absBefore, "/abs was created");
    }));

  it("rule 10: a key deleted under open readers and rewritten gives each reader its own complete bytes; the removed file goes when they are done", () =>
    withDir(async (dir) => {
      const watch = watchRemovals(BASE_FS);
      const oldBytes = pattern(1_000_003, 1);
      const newBytes = pattern(1_500_007, 2);
      await withCache(dir, async (cache) => {
        const old = await put(cache, "k", chunked(oldBytes, 100_000));
        // One reader has its file open already; one has not read yet.
        const early = old.readable({ chunkSize: 65_536 }).getReader();
        const first = await early.read();
        assert.equal(first.done, false);
        const lazy = old.readable({ chunkSize: 65_536 });

        assert.equal(await cache.delete("k"), true);
        assert.equal(await cache.has("k"), false);
        assert.deepEqual(await readdir(join(dir, "entries")), []);
        const removedFiles = (await tmpFiles(dir)).filter((path) =>
          path.endsWith(".removed")
        );
        assert.equal(removedFiles.length, 1, `tmp/: ${await tmpFiles(dir)}`);

        const { entry, writable } = await cache.open("k");
        assert.ok(writable, "the key is a miss after delete");
        assert.notEqual(entry, old);
        const newer = readAll(entry.readable({ chunkSize: 65_536 }));
        const writer = writable.getWriter();
        for (const chunk of chunked(newBytes, 150_000)) {
          await writer.write(chunk);
        }
        await writer.close();
        assert.deepEqual(await newer, newBytes);
        assert.deepEqual(await readdir(join(dir, "entries")), [entryName("k")]);

        // The old bytes are still on disk for the old readers.
        const removedPath = join(dir, "tmp", removedFiles[0]!);
        assert.ok(existsSync(removedPath));
        const parts = [first.value!];
        for (
          let next = await early.read();
          !next.done;
          next = await early.read()
        ) {
          parts.push(next.value);
        }
        assert.deepEqual(concat(parts), oldBytes);
        assert.ok(existsSync(removedPath), "released while a reader was open");
        assert.deepEqual(await readAll(lazy), oldBytes);

        await within(
          watch.removed((path) => path.endsWith(".removed")),
          5_000,
          "the removed file's release",
        );
        assert.equal(existsSync(removedPath), false);
        assert.deepEqual(await tmpFiles(dir), []);
        assert.deepEqual(await readKey(cache, "k"), newBytes);
      }, { fs: watch.fs });
      await withCache(dir, async (cache) => {
        assert.deepEqual(await readKey(cache, "k"), newBytes);
      });
    }));

  it("rule 18: ENOSPC on one key's file fails its readers with that error, leaves no file, harms no other entry; the next attempt succeeds", () =>
    withDir(async (dir) => {
      const full = Object.assign(
        new Error("ENOSPC: no space left on device, write"),
        { code: "ENOSPC", errno: -28, syscall: "write" },
      );
      // The next file created gets `room` bytes, then every write fails with
      // `full` (the write that crosses the limit stores its first part).
      let armed: number | undefined;
      let faultyPath: string | undefined;
      const watch = watchRemovals({
        ...BASE_FS,
        async open(path, mode) {
          const file = await BASE_FS.open(path, mode);
          if (mode !== "create" || armed === undefined) return file;
          const room = armed;
          armed = undefined;
          faultyPath = path;
          let written = 0;
          const faulty: FileHandle = {
            read: (buffer, position) => file.read(buffer, position),
            async write(data) {
              const fits = Math.max(0, room - written);
              if (fits > 0) {
                await file.write(data.subarray(0, fits));
                written += Math.min(fits, data.byteLength);
              }
              if (data.byteLength > fits) throw full;
            },
            sync: () => file.sync(),
            size: () => file.size(),
            stat: () => file.stat(),
            close: () => file.close(),
          };
          return faulty;
        },
      });
      const goodBytes = pattern(400_000, 3);
      const badBytes = pattern(300_000, 4);
      await withCache(dir, async (cache) => {
        await put(cache, "good-before", chunked(goodBytes, 100_000));
        // Another entry is being written while the disk fills up.
        const during = await cache.open("good-during");
        assert.ok(during.writable);
        const duringWriter = during.writable.getWriter();
        await duringWriter.write(goodBytes.slice(0, 100_000));

        armed = 150_000;
        const { entry, writable } = await cache.open("full");
        assert.ok(writable);
        const writer = writable.getWriter();
        const readers = [entry.readable()];
        await writer.write(badBytes.slice(0, 100_000));
        readers.push(entry.readable(), entry.readable({ start: 50_000 }));
        const errors = readers.map((reader) =>
          readAll(reader).then(
            () => assert.fail("a reader of the failed entry ended cleanly"),
            (error: unknown) => error,
          )
        );
        await assert.rejects(
          writer.write(badBytes.slice(100_000, 200_000)),
          (error) => error === full,
        );
        for (const error of await Promise.all(errors)) {
          assert.equal(error, full);
        }
        await assert.rejects(entry.done, (error) => error === full);
        assert.equal(entry.state, "failed");
        assert.ok(faultyPath);
        await within(
          watch.removed((path) => path === faultyPath),
          5_000,
          "the failed entry's file to be removed",
        );
        assert.equal(existsSync(faultyPath), false, "the partial file is left");
        // What is left in tmp/ is the other entry's file in progress, only.
        assert.equal((await tmpFiles(dir)).length, 1, `${await tmpFiles(dir)}`);
        assert.equal(
          existsSync(join(dir, "entries", entryName("full"))),
          false,
        );
        assert.equal(await cache.has("full"), false);

        // The other entries are unharmed.
        assert.deepEqual(await readKey(cache, "good-before"), goodBytes);
        for (const chunk of chunked(goodBytes.slice(100_000), 100_000)) {
          await duringWriter.write(chunk);
        }
        await duringWriter.close();
        assert.deepEqual(await readKey(cache, "good-during"), goodBytes);
        assert.deepEqual(
          (await readdir(join(dir, "entries"))).sort(),
          [entryName("good-before"), entryName("good-during")].sort(),
        );

        // With room again, the next attempt for the key succeeds.
        await put(cache, "full", chunked(badBytes, 100_000));
        assert.deepEqual(await readKey(cache, "full"), badBytes);
      }, { fs: watch.fs });
      await withCache(dir, async (cache) => {
        assert.deepEqual(await listKeys(cache), [
          "full",
          "good-before",
          "good-during",
        ]);
        assert.deepEqual(await readKey(cache, "full"), badBytes);
        assert.deepEqual(await readKey(cache, "good-during"), goodBytes);
      });
    }));

  for (const verify of ["size", "checksum"] as const) {
    it(`rule 13: start-up (verify: ${verify}) removes corrupted entries and never serves them, keeps good ones, leaves foreign files alone`, () =>
      withDir(async (dir) => {
        const good = pattern(200_000, 5);
        const corrupt = ["truncated", "appended", "moved"];
        if (verify === "checksum") corrupt.push("flipped");
        await withCache(dir, async (cache) => {
          await put(cache, "good", chunked(good, 64_000), { ok: true });
          await put(cache, "empty", [], { ok: true });
          for (const key of corrupt) {
            await put(cache, key, chunked(pattern(100_000, 6), 30_000));
          }
        });
        const entries = join(dir, "entries");
        const pathOf = (key: string) => join(entries, entryName(key));
        const { size } = await stat(pathOf("truncated"));
        await truncate(pathOf("truncated"), size - 3);
        await appendFile(pathOf("appended"), "garbage");
        // A whole entry under a name that is not its key's hash.
        await rename(pathOf("moved"), join(entries, "0".repeat(64)));
        if (verify === "checksum") {
          const bytes = await readFile(pathOf("flipped"));
          bytes[12_345] = bytes[12_345]! ^ 0x01;
          await writeFile(pathOf("flipped"), bytes);
        }
        // Files with a store's name that are not entries.
        await writeFile(join(entries, "1".repeat(64)), "not an entry at all");
        await writeFile(join(entries, "2".repeat(64)), "");
        await symlink(join(dir, "nowhere"), join(entries, "3".repeat(64)));
        // Files the store does not own.
        const foreign: Record<string, string> = {
          "README.txt": "the cache lives here\n",
          "entries/notes.txt": "notes\n",
          [`entries/${"A".repeat(64)}`]: "upper-case hex is not a store name\n",
          "tmp/not-an-owner/x": "x\n",
          "tmp/0-00000000/y": "pid 0 is nobody\n",
        };
        await mkdir(join(dir, "tmp", "not-an-owner"));
        await mkdir(join(dir, "tmp", "0-00000000"));
        for (const [path, text] of Object.entries(foreign)) {
          await writeFile(join(dir, path), text);
        }

        await withCache(dir, async (cache) => {
          assert.equal(await cache.has("good"), true); // start-up is done
          for (const key of corrupt) {
            assert.equal(existsSync(pathOf(key)), false, `${key} was kept`);
          }
          for (const name of ["0", "1", "2"]) {
            assert.equal(existsSync(join(entries, name.repeat(64))), false);
          }
          for (const [path, text] of Object.entries(foreign)) {
            assert.equal(await readFile(join(dir, path), "utf8"), text, path);
          }
          assert.deepEqual(await listKeys(cache), ["empty", "good"]);
          assert.deepEqual(await readKey(cache, "good"), good);
          assert.deepEqual((await cache.get("good"))?.meta, { ok: true });
          assert.deepEqual(await readKey(cache, "empty"), new Uint8Array());
          for (const key of corrupt) {
            assert.equal(await cache.get(key), undefined, `${key} was served`);
          }
          // The key is free again: a new entry replaces the corrupt one.
          await put(cache, "truncated", [encode("fresh")]);
          assert.equal(decode(await readKey(cache, "truncated")), "fresh");
        }, { verify });
        // The dangling link cannot be opened: whatever the store makes of it,
        // it stops neither the reload above nor this one.
        await withCache(dir, async (cache) => {
          assert.deepEqual(await listKeys(cache), [
            "empty",
            "good",
            "truncated",
          ]);
        }, { verify });
      }));
  }

  it('rule 13: a flipped byte is detected by verify: "checksum" only; verify: "size" keeps serving it', () =>
    withDir(async (dir) => {
      const bytes = pattern(50_000, 7);
      await withCache(dir, async (cache) => {
        await put(cache, "k", [bytes]);
      });
      const path = join(dir, "entries", entryName("k"));
      const file = await readFile(path);
      file[100] = file[100]! ^ 0x80;
      await writeFile(path, file);
      await withCache(dir, async (cache) => {
        assert.equal((await readKey(cache, "k"))[100], bytes[100]! ^ 0x80);
      }, { verify: "size" });
      await withCache(dir, async (cache) => {
        assert.equal(await cache.get("k"), undefined);
      }, { verify: "checksum" });
      assert.equal(existsSync(path), false);
    }));
});

describe("FsStore: two caches on one directory", () => {
  it("rules 3, 14: two stores producing one key at once give every reader one complete body; a fresh cache serves the committed one", () =>
    withDir(async (dir) => {
      const bodies = [pattern(700_001, 8), pattern(900_007, 9)];
      const caches = [0, 1].map(() =>
        new StreamCache({ store: new FsStore({ dir }) })
      );
      try {
        const opened = await Promise.all(
          caches.map((cache) => cache.open("k")),
        );
        const writers = opened.map(({ writable }) => {
          assert.ok(writable, "each cache creates its own entry");
          return writable.getWriter();
        });
        // Readers from the start, and one more per cache joining mid-write.
        const reads = opened.map(({ entry }) => [readAll(entry.readable())]);
        const parts = bodies.map((body) => chunked(body, 100_000));
        for (let i = 0; i < Math.max(...parts.map((p) => p.length)); i++) {
          for (const [n, writer] of writers.entries()) {
            const chunk = parts[n]![i];
            if (chunk) await writer.write(chunk);
          }
          if (i === 3) {
            for (const [n, { entry }] of opened.entries()) {
              reads[n]!.push(readAll(entry.readable()));
            }
          }
        }
        await Promise.all(writers.map((writer) => writer.close()));
        for (const [n, list] of reads.entries()) {
          for (const body of await Promise.all(list)) {
            assert.deepEqual(body, bodies[n]);
          }
        }
      } finally {
        await Promise.all(caches.map((cache) => cache.close()));
      }
      await withCache(dir, async (cache) => {
        const served = await readKey(cache, "k");
        const winner = bodies.find((body) =>
          body.byteLength === served.byteLength
        );
        assert.ok(winner, `served ${served.byteLength} bytes`);
        assert.deepEqual(served, winner);
        assert.deepEqual(await readdir(join(dir, "entries")), [entryName("k")]);
        assert.deepEqual(await tmpFiles(dir), []);
      });
    }));

  it("rule 13: a second store's start-up sweeps none of the first's files in progress; the first write then commits", () =>
    withDir(async (dir) => {
      const bytes = pattern(600_000, 10);
      const first = new StreamCache({ store: new FsStore({ dir }) });
      let second: StreamCache | undefined;
      try {
        const { entry, writable } = await first.open("k", {
          meta: { by: "first" },
        });
        assert.ok(writable);
        const writer = writable.getWriter();
        await writer.write(bytes.slice(0, 200_000));
        const inProgress = await tmpFiles(dir);
        assert.equal(inProgress.length, 1, `tmp/: ${inProgress}`);

        second = new StreamCache({ store: new FsStore({ dir }) });
        assert.equal(await second.has("k"), false); // its start-up is done
        assert.ok(
          existsSync(join(dir, "tmp", inProgress[0]!)),
          "the second store swept the first one's file in progress",
        );

        await writer.write(bytes.slice(200_000));
        await writer.close();
        assert.equal(await entry.done, bytes.byteLength);
        assert.deepEqual(await readAll(entry.readable()), bytes);
        assert.deepEqual(await readKey(second, "k"), bytes);
        assert.deepEqual((await second.get("k"))?.meta, { by: "first" });
      } finally {
        await first.close();
        await second?.close();
      }
      await withCache(dir, async (cache) => {
        assert.deepEqual(await readKey(cache, "k"), bytes);
      });
    }));
});

// Each of these once failed: they pin the fixes.
describe("FsStore: edge cases found by these tests", () => {
  it(
    "rule 15: keys that differ only in lone surrogates ('\\ud800', '\\ufffd') are two keys, and both survive a restart",
    () =>
      withDir(async (dir) => {
        await withCache(dir, async (cache) => {
          await put(cache, "\ud800", [encode("lone")]);
          await put(cache, "\ufffd", [encode("replacement")]);
          assert.equal(decode(await readKey(cache, "\ud800")), "lone");
          assert.equal(decode(await readKey(cache, "\ufffd")), "replacement");
        });
        await withCache(dir, async (cache) => {
          assert.deepEqual(await listKeys(cache), ["\ud800", "\ufffd"].sort());
        });
      }),
  );

  it(
    "rule 18: one unreadable file in entries/ (a directory with an entry's name) does not break keys()",
    () =>
      withDir(async (dir) => {
        await withCache(dir, async (cache) => {
          await put(cache, "good", [encode("x")]);
        });
        await mkdir(join(dir, "entries", "f".repeat(64)));
        await withCache(dir, async (cache) => {
          assert.equal(decode(await readKey(cache, "good")), "x"); // the reload survived
          assert.deepEqual(await listKeys(cache), ["good"]);
        });
      }),
  );

  it("rules 3, 18: after another cache on the directory commits the same key, a stale entry fails clearly once and the next request serves the committed one", () =>
    withDir(async (dir) => {
      const a = new StreamCache({ store: new FsStore({ dir }) });
      const b = new StreamCache({ store: new FsStore({ dir }) });
      try {
        const [fromA, fromB] = await Promise.all([a.open("k"), b.open("k")]);
        assert.ok(fromA.writable && fromB.writable);
        await new Blob(["from a"]).stream().pipeTo(fromA.writable);
        await new Blob(["from b"]).stream().pipeTo(fromB.writable);
        // B's commit replaced A's file: a new reader of A's entry cannot open it...
        await assert.rejects(
          readKey(a, "k"),
          /Cannot open reader: entry .* is not in/,
        );
        // ...and A forgot the entry, so the next request gets the committed body.
        assert.equal(decode(await readKey(a, "k")), "from b");
        assert.equal(decode(await readKey(b, "k")), "from b");
      } finally {
        await a.close();
        await b.close();
      }
    }));
});
