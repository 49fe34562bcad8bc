// The process that tests/fs_crash_test.ts kills with SIGKILL: it writes
// entries into an FsStore, one chunk at a time in two lanes at once, and
// reports its progress on stdout, one line per event:
//
//   pid <pid>            once, before the first entry
//   start <key>          the entry was created (the key as JSON)
//   chunk <key> <n>      the n-th chunk of the entry was written (n from 1)
//   committing <key>     every byte is written; the commit starts
//   committed <key>      `entry.done` resolved: the entry is committed
//   paused <path>        (with a pause) the commit's rename to <path> is due
//
// Run as `<runtime> _fs_crash_child.ts --streamcache-crash-child <dir>
// <size|checksum> <prefix> [<pause>]`. With a pause N > 0, the N-th rename
// the store asks of its file system (the N-th commit: its record written and
// synced, the atomic rename not made) prints `paused` and never happens: the
// test kills the child there, in the middle of a commit. The test imports
// this module too, for `planFor` and `contentOf`, so both sides know every
// key's bytes and metadata; without CHILD_FLAG on the command line the module
// writes nothing.

import process from "node:process";
import { StreamCache } from "../mod.ts";
import { denoFileSystem, FsStore, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileSystem } from "../src/fs/mod.ts";

/** Marks a command line as the child's, so importing this module runs nothing. */
export const CHILD_FLAG = "--streamcache-crash-child";

/** Entry sizes: empty, tiny, around a read chunk, and several multi-MB ones. */
const SIZES = [
  0,
  1,
  777,
  65_536,
  300_001,
  1_200_007,
  2_500_003,
  3_145_728,
];
/** Write sizes: a multi-MB entry takes from 5 to 48 writes. */
const CHUNKS = [4_096, 65_536, 100_003, 262_144];

/** What the child writes for `key`: how many bytes, in what writes, with what metadata. */
export interface EntryPlan {
  readonly size: number;
  readonly chunk: number;
  readonly meta: { readonly key: string; readonly size: number };
}

/** FNV-1a of the key's UTF-16 code units: the seed of everything about it. */
function seedOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

export function planFor(key: string): EntryPlan {
  const seed = seedOf(key);
  const size = SIZES[seed % SIZES.length]!;
  const chunk = CHUNKS[(seed >>> 8) % CHUNKS.length]!;
  // Small writes only for small entries, or a 3 MB entry takes 768 of them.
  return {
    size,
    chunk: size > 1_000_000 && chunk < 65_536 ? 65_536 : chunk,
    meta: { key, size },
  };
}

/** The entry's bytes: a deterministic function of the key. */
export function contentOf(key: string): Uint8Array {
  const seed = seedOf(key);
  const { size } = planFor(key);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    out[i] = (seed + i * 31 + (i >>> 9) * 7 + (i >>> 17)) & 0xff;
  }
  return out;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function writeEntries(
  cache: StreamCache,
  prefix: string,
  lane: number,
): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    const key = `${prefix}/lane ${lane}/entry ${i} ✓`;
    const { size, chunk, meta } = planFor(key);
    const { entry, writable } = await cache.open(key, { meta });
    if (!writable) throw new Error(`expected to create ${key}`);
    const name = JSON.stringify(key);
    say(`start ${name}`);
    const bytes = contentOf(key);
    const writer = writable.getWriter();
    let n = 0;
    for (let at = 0; at < size; at += chunk) {
      await writer.write(bytes.slice(at, at + chunk));
      say(`chunk ${name} ${++n}`);
    }
    say(`committing ${name}`);
    await writer.close();
    await entry.done;
    say(`committed ${name}`);
  }
}

/** The runtime's file system, whose `pause`-th rename never happens. */
function pausing(pause: number): FileSystem {
  const fs = "Deno" in globalThis ? denoFileSystem : nodeFileSystem;
  let renames = 0;
  return {
    ...fs,
    rename(from, to) {
      if (++renames !== pause) return fs.rename(from, to);
      say(`paused ${to}`);
      return new Promise<void>(() => {}); // the test kills us here
    },
  };
}

async function main(args: readonly string[]): Promise<void> {
  const [dir, verify, prefix, pauseArg = "0"] = args;
  const pause = Number(pauseArg);
  if (
    !dir || (verify !== "size" && verify !== "checksum") || !prefix ||
    !Number.isInteger(pause) || pause < 0
  ) {
    throw new TypeError(
      `usage: _fs_crash_child.ts ${CHILD_FLAG} <dir> <size|checksum> <prefix> [<pause>]`,
    );
  }
  const fs = pause > 0 ? pausing(pause) : undefined;
  const store = new FsStore(fs ? { dir, verify, fs } : { dir, verify });
  const cache = new StreamCache({ store });
  say(`pid ${process.pid}`);
  await Promise.all([0, 1].map((lane) => writeEntries(cache, prefix, lane)));
  await cache.close();
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) {
  main(process.argv.slice(at + 1)).catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  });
}
