// FsStore's side of bounded caches: creation times, lifetimes and access
// times that survive a restart (rules 13, 16), access times written at most
// once per resolution and never taken from the OS, records() that reads no
// body, the record index (trusted only for files it still describes), and a
// start-up whose scan never delays serving but never lets a bad entry
// through either. Times are far apart and explicit: nothing here sleeps.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  copyFile,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoreRecord } from "../mod.ts";
import { denoFileSystem, FsStore, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileSystem } from "../src/fs/mod.ts";
import { decode, encode, entryName, pattern } from "./_helpers.ts";

/** The adapter FsStore picks by default on this runtime, for wrapping. */
const BASE_FS: FileSystem = "Deno" in globalThis
  ? denoFileSystem
  : nodeFileSystem;

const HOUR = 3_600_000;
const T = Date.UTC(2021, 5, 1); // a cache's clock, far from the OS's

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "streamcache-fsr-"));
  try {
    await test(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Runs `test` over a new FsStore on `dir` (its start-up scan done), then closes it. */
async function withStore(
  dir: string,
  test: (store: FsStore) => Promise<void>,
  options: Partial<ConstructorParameters<typeof FsStore>[0]> = {},
): Promise<void> {
  const store = new FsStore({ dir, ...options });
  try {
    await store.scanned;
    await test(store);
  } finally {
    await store.close();
  }
}

async function put(
  store: FsStore,
  key: string,
  body: Uint8Array,
  created = T,
): Promise<StoreRecord> {
  const writer = await store.create(key, { key }, { created });
  if (body.byteLength) await writer.write(body);
  return await writer.commit();
}

async function listRecords(store: FsStore): Promise<StoreRecord[]> {
  const records: StoreRecord[] = [];
  for await (const record of store.records()) records.push(record);
  return records.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A file system that counts entry-file touches and bytes read, and can hold touches. */
function instrumented(base: FileSystem = BASE_FS) {
  const counts = {
    touches: [] as [string, number][],
    bytesRead: 0,
    /** Files of entries/ looked at (stat or open). */
    looks: 0,
  };
  let held: Promise<void> | undefined;
  let release = () => {};
  const fs: FileSystem = {
    ...base,
    async touch(path, time) {
      if (path.includes("/entries/")) {
        counts.touches.push([path, time]);
        await held;
      }
      await base.touch(path, time);
    },
    stat(path) {
      if (path.includes("/entries/")) counts.looks++;
      return base.stat(path);
    },
    async open(path, mode) {
      if (path.includes("/entries/")) counts.looks++;
      const file = await base.open(path, mode);
      return {
        ...file,
        read: async (buffer, position) => {
          const count = await file.read(buffer, position);
          counts.bytesRead += count;
          return count;
        },
      };
    },
  };
  return {
    fs,
    counts,
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}

describe("FsStore: times, lifetimes and records (rules 13, 16)", () => {
  it("rules 13, 16: creation times, lifetimes (Infinity too) and access times survive a restart; records() after it gives ids that touch knows", () =>
    withDir(async (dir) => {
      const lifetime = { ttl: 60_000, maxAge: Infinity, staleIfError: 0 };
      let id = "";
      await withStore(dir, async (store) => {
        const writer = await store.create("k", { v: 1 }, {
          created: T,
          lifetime,
        });
        await writer.write(encode("hello"));
        id = (await writer.commit()).id;
        await put(store, "other", encode("x"), T + HOUR);
        await store.touch(id, T + 2 * HOUR);
      });
      await withStore(dir, async (store) => {
        const record = await store.lookup("k");
        assert.deepEqual(record, {
          key: "k",
          id,
          meta: { v: 1 },
          size: 5,
          created: T,
          accessed: T + 2 * HOUR,
          lifetime,
        });
        const listed = await listRecords(store);
        assert.deepEqual(listed[0], record);
        assert.equal(listed[1]?.accessed, T + HOUR);
      });
      // A store that only listed (as a cache rebuilding its LRU order does)
      // can touch what it listed.
      await withStore(dir, async (store) => {
        const [k] = await listRecords(store);
        await store.touch(k!.id, T + 7 * HOUR);
      });
      await withStore(dir, async (store) => {
        assert.equal((await store.lookup("k"))?.accessed, T + 7 * HOUR);
      });
    }));

  it("rule 16: access times are written at most once per resolution; the rest on close", () =>
    withDir(async (dir) => {
      const probe = instrumented();
      let id = "";
      const path = join(dir, "entries", entryName("k"));
      await withStore(dir, async (store) => {
        id = (await put(store, "k", encode("abc"))).id;
        assert.deepEqual(
          probe.counts.touches,
          [],
          "commit stamps its tmp file",
        );
        for (const time of [T + 1_000, T + 30_000, T + 59_999]) {
          await store.touch(id, time);
        }
        assert.equal(probe.counts.touches.length, 0, "within the resolution");
        assert.equal((await store.lookup("k"))?.accessed, T + 59_999);
        await store.touch(id, T + 60_000);
        assert.deepEqual(probe.counts.touches, [[path, T + 60_000]]);
        await store.touch(id, T + 60_001);
        await store.touch(id, T + 119_999);
        assert.equal(probe.counts.touches.length, 1);
        await store.touch(id, T + 120_000);
        assert.equal(probe.counts.touches.length, 2);
        await store.touch(id, T + 150_000); // kept in memory, written on close
        assert.equal(probe.counts.touches.length, 2);
      }, { fs: probe.fs, accessResolution: 60_000 });
      assert.deepEqual(probe.counts.touches.at(-1), [path, T + 150_000]);
      assert.equal(probe.counts.touches.length, 3);
      await withStore(dir, async (store) => {
        assert.equal((await store.lookup("k"))?.accessed, T + 150_000);
      });
    }));

  it("rule 16: the access time is the store's own, never the OS's atime (noatime, relatime)", () =>
    withDir(async (dir) => {
      await withStore(dir, async (store) => {
        const { id } = await put(store, "k", encode("abc"));
        await store.touch(id, T + HOUR);
      });
      const path = join(dir, "entries", entryName("k"));
      // Reading the file and moving its atime, as the OS may, changes nothing.
      await readFile(path);
      const { mtime } = await stat(path);
      await utimes(path, new Date(T + 900 * HOUR), mtime);
      await withStore(dir, async (store) => {
        assert.equal((await store.lookup("k"))?.accessed, T + HOUR);
        const [record] = await listRecords(store);
        assert.equal(record?.accessed, T + HOUR);
      });
    }));

  it("rules 2, 16: a lookup or read never waits for an access-time write", () =>
    withDir(async (dir) => {
      const probe = instrumented();
      await withStore(dir, async (store) => {
        const { id } = await put(store, "k", encode("still readable"));
        probe.hold(); // every entry-file touch now hangs until released
        const touched = store.touch(id, T + HOUR);
        assert.equal(probe.counts.touches.length, 1);
        const record = await store.lookup("k");
        assert.equal(record?.accessed, T + HOUR);
        const reader = await store.openReader(id);
        assert.equal(decode(await reader.read(0, 100)), "still readable");
        await reader.close();
        assert.equal((await listRecords(store))[0]?.accessed, T + HOUR);
        probe.release();
        await touched;
      }, { fs: probe.fs, accessResolution: 0 });
    }));

  it("records() reads no entry's body: only the last bytes of each file, and nothing for a file the index holds", () =>
    withDir(async (dir) => {
      const probe = instrumented();
      const keys = ["a", "b", "c"];
      await withStore(dir, async (store) => {
        for (const key of keys) await put(store, key, pattern(1 << 20, 1));
      });
      await rm(join(dir, "index.json")); // as a store that predates the index left it
      const body = 1 << 20;
      await withStore(dir, async (store) => {
        probe.counts.bytesRead = 0;
        const listed = await listRecords(store);
        assert.deepEqual(listed.map((r) => [r.key, r.size]), [
          ["a", body],
          ["b", body],
          ["c", body],
        ]);
        // The start-up scan has read each file's tail (and written the index).
        assert.equal(probe.counts.bytesRead, 0, "listed from the index");
      }, { fs: probe.fs });
      await rm(join(dir, "index.json"));
      const store = new FsStore({ dir, fs: probe.fs });
      try {
        probe.counts.bytesRead = 0;
        assert.equal((await listRecords(store)).length, 3);
        await store.scanned;
        // The listing and the scan read each file's last 4 KiB, and at most
        // twice where both reach a file at once: never a body.
        assert.ok(
          probe.counts.bytesRead <= 2 * 3 * 4096,
          `read ${probe.counts.bytesRead} bytes`,
        );
      } finally {
        await store.close();
      }
    }));

  it("rule 13: the record index is trusted only for files it still describes: a replaced or added file is read, a missing one is not listed, a garbled index is ignored", () =>
    withDir(async (root) => {
      const dir = join(root, "cache");
      const elsewhere = join(root, "elsewhere");
      await withStore(dir, async (store) => {
        for (const key of ["a", "b", "c"]) await put(store, key, encode(key));
      });
      // Behind the store's back: "b" replaced by a file of the same length
      // from another directory (another inode and id), "c" removed, "d"
      // added.
      let replacement: StoreRecord | undefined;
      await withStore(elsewhere, async (store) => {
        replacement = await put(store, "b", encode("B"), T + 1);
        await put(store, "d", encode("d"));
      });
      const nameB = entryName("b");
      assert.equal(
        (await stat(join(elsewhere, "entries", nameB))).size,
        (await stat(join(dir, "entries", nameB))).size,
      );
      for (const key of ["b", "d"]) {
        const name = entryName(key);
        await copyFile(join(elsewhere, "entries", name), join(dir, "copy"));
        await rename(join(dir, "copy"), join(dir, "entries", name));
      }
      await rm(join(dir, "entries", entryName("c")));
      const check = async (store: FsStore) => {
        const listed = await listRecords(store);
        assert.deepEqual(listed.map((r) => [r.key, r.size]), [
          ["a", 1],
          ["b", 1],
          ["d", 1],
        ]);
        // The copy's modification time is the copy's: taken as an access.
        const { accessed: _, ...b } = listed[1]!;
        const { accessed: __, ...expected } = replacement!;
        assert.deepEqual(b, expected);
        const keys: string[] = [];
        for await (const key of store.keys()) keys.push(key);
        assert.deepEqual(keys.sort(), ["a", "b", "d"]);
      };
      // Listed at once, before the scan has looked at anything.
      const early = new FsStore({ dir });
      try {
        await check(early);
      } finally {
        await early.close();
      }
      await writeFile(join(dir, "index.json"), 'garbage\n["x"]\n');
      await withStore(dir, check);
      await withStore(dir, check); // from the index the last one wrote
    }));

  it("rule 15: keys with quotes, backslashes, escapes and 700 KB come back exactly from the record index", () =>
    withDir(async (dir) => {
      const keys = [
        'a"b',
        "a\\b",
        "ends with \\",
        '\\"',
        '"',
        "\u0000\n\u2028",
        "é🎉",
        "",
        // Two keys of 700 KB: the index's lines cross the pieces it is read in.
        "x".repeat(700_000),
        "y\\".repeat(350_000),
      ];
      await withStore(dir, async (store) => {
        for (const key of keys) await put(store, key, encode(key));
      });
      assert.ok(existsSync(join(dir, "index.json")));
      const probe = instrumented();
      // Listed at once: the scan holds while a listing runs, so nothing but
      // the index can have told the keys.
      const store = new FsStore({ dir, fs: probe.fs });
      try {
        const listed: string[] = [];
        let looks = 0; // until the last key (the scan goes on after)
        for await (const key of store.keys()) {
          listed.push(key);
          looks = probe.counts.looks;
        }
        assert.deepEqual(listed.sort(), [...keys].sort());
        assert.equal(looks, 0, "listed from the index alone");
      } finally {
        await store.close();
      }
    }));

  it("a listing that shares the start-up listing of entries/ still lists what was committed meanwhile, and not what was removed", () =>
    withDir(async (dir) => {
      await withStore(dir, async (store) => {
        for (const key of ["a", "b"]) await put(store, key, encode(key));
      });
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const gated: FileSystem = {
        ...BASE_FS,
        async readDir(path) {
          const names = await BASE_FS.readDir(path);
          if (path.endsWith("/entries")) await gate; // as read before the commit below
          return names;
        },
      };
      const store = new FsStore({ dir, fs: gated });
      try {
        const b = await store.lookup("b");
        await put(store, "c", encode("c"));
        await store.remove("b", b!.id);
        const keys: string[] = [];
        const listing = (async () => {
          for await (const key of store.keys()) keys.push(key);
        })();
        const records = listRecords(store);
        release();
        await listing;
        assert.deepEqual(keys.sort(), ["a", "c"]);
        assert.deepEqual((await records).map((r) => r.key), ["a", "c"]);
      } finally {
        release();
        await store.close();
      }
    }));

  it("the record index is written while the store runs once 1,000 entries changed, so a crash costs the next start few reads", () =>
    withDir(async (dir) => {
      let written = () => {};
      const indexWritten = new Promise<void>((resolve) => (written = resolve));
      const fast: FileSystem = {
        ...BASE_FS,
        // No fsync: a thousand commits in a test's time. Durability is not
        // what this test is about.
        syncDir: () => Promise.resolve(),
        async open(path, mode) {
          const file = await BASE_FS.open(path, mode);
          return { ...file, sync: () => Promise.resolve() };
        },
        async rename(from, to) {
          await BASE_FS.rename(from, to);
          if (to.endsWith("/index.json")) written();
        },
      };
      const store = new FsStore({ dir, fs: fast });
      try {
        await store.scanned; // an empty directory: no index yet
        assert.equal(existsSync(join(dir, "index.json")), false);
        for (let i = 0; i < 1000; i++) {
          await put(store, `k${i}`, encode(String(i)));
        }
        // Without a close. (The deadline only guards against a hang.)
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          indexWritten,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error("the index was not written in 60 s")),
              60_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        const lines = (await readFile(join(dir, "index.json"), "utf8"))
          .trimEnd().split("\n");
        assert.equal(lines.length, 1 + 1000);
      } finally {
        await store.close();
      }
    }));

  it('rule 13: with verify: "size", serving never waits for the start-up scan', () =>
    withDir(async (dir) => {
      await withStore(dir, async (store) => {
        for (let i = 0; i < 20; i++) {
          await put(store, `k${i}`, encode(`value ${i}`));
        }
      });
      const served = entryName("k7");
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const gated: FileSystem = {
        ...BASE_FS,
        // Every look at another entry's file hangs until the test is done.
        async stat(path) {
          if (path.includes("/entries/") && !path.endsWith(served)) await gate;
          return await BASE_FS.stat(path);
        },
        async open(path, mode) {
          if (path.includes("/entries/") && !path.endsWith(served)) await gate;
          return await BASE_FS.open(path, mode);
        },
      };
      const store = new FsStore({ dir, fs: gated });
      try {
        const record = await store.lookup("k7");
        const reader = await store.openReader(record!.id);
        assert.equal(decode(await reader.read(0, 100)), "value 7");
        await reader.close();
      } finally {
        release();
        await store.close();
      }
    }));

  it('rule 13: with verify: "checksum", an entry looked up before the scan reaches it is verified first: a bad one is never served, a good one is', () =>
    withDir(async (dir) => {
      await withStore(dir, async (store) => {
        for (let i = 0; i < 20; i++) {
          await put(store, `k${i}`, pattern(100_000, i));
        }
      });
      const bad = join(dir, "entries", entryName("k13"));
      const bytes = await readFile(bad);
      bytes[50_000] = bytes[50_000]! ^ 0x01;
      await writeFile(bad, bytes);
      const good = entryName("k3");
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const gated: FileSystem = {
        ...BASE_FS,
        // The scan's look at other files hangs: only lookups move on.
        async open(path, mode) {
          if (
            path.includes("/entries/") && !path.endsWith(good) &&
            !path.endsWith(bad.slice(-64))
          ) {
            await gate;
          }
          return await BASE_FS.open(path, mode);
        },
      };
      const store = new FsStore({ dir, fs: gated, verify: "checksum" });
      try {
        assert.equal(await store.lookup("k13"), undefined);
        assert.equal(existsSync(bad), false, "the bad entry was removed");
        const record = await store.lookup("k3");
        const reader = await store.openReader(record!.id);
        const out = new Uint8Array(100_000);
        for (let at = 0; at < out.byteLength;) {
          const bytes = await reader.read(at, 65_536);
          out.set(bytes, at);
          at += bytes.byteLength;
        }
        await reader.close();
        assert.deepEqual(out, pattern(100_000, 3));
      } finally {
        release();
        await store.close();
      }
    }));
});
