// Following an FsStore entry that another store (in this process or another)
// writes under its claim. The follower watches the producer's directory,
// tmp/<owner>/ (fs.watch, Deno.watchFs), and looks again when it changes:
// the producer's appends, its commit and its failure note all change it.
// It never polls for bytes; a timer of half the producer's lease (unref'd)
// only asks whether the producer still lives, which is how a producer that
// died or stopped is learnt of (src/fs/_claims.ts).
//
// What a look finds, given how a claimed entry is committed (rename to
// <id>.commit, append the record, fsync, rename to entries/<hash>, release
// the claim):
//
// - tmp/<owner>/<id> is there: every byte of the file is the entry's. Its
//   size is read first, then the name is looked for: if the name is there,
//   the record was not being appended when the size was read.
// - <id>.commit is there: the entry is being committed; wait.
// - the file is entries/<hash> (same inode): committed; its record says
//   how many bytes are the entry's.
// - <id>.failed is there: the producer failed, and says why.
// - none, or the claim is no longer live: the producer is lost.

import { StreamCacheError } from "../errors.ts";
import { ProducerLostError, type StoreProgress } from "../shared_store.ts";
import type { StoreRecord } from "../store.ts";
import { checkMs, type Claims, type ClaimTarget } from "./_claims.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";
import type { Layout } from "./_layout.ts";
import { readTrailer, readTrailerId, type Trailer } from "./_trailer.ts";
import { Changes, type WatchHub } from "./_watch_hub.ts";

/** What a follower needs from its store. */
export interface FollowInit {
  readonly fs: FileSystem;
  readonly layout: Layout;
  readonly hub: WatchHub;
  readonly claims: Claims;
  readonly target: ClaimTarget;
  readonly signal: AbortSignal;
  /** The entry grew to `size` bytes. */
  grown(size: number): void;
  /** The entry was committed as `path`: its record, as the store gives it. */
  committed(trailer: Trailer, info: FileInfo, path: string): StoreRecord;
}

/** The paths a claimed entry may be found at. */
export function claimedPaths(
  layout: Layout,
  owner: string,
  id: string,
): { data: string; committing: string; note: string } {
  const data = `${layout.tmp}/${owner}/${id}`;
  return { data, committing: `${data}.commit`, note: `${data}.failed` };
}

/** Reports the entry's growth, then its record; throws if it fails or its producer is lost. */
export async function* followClaimed(
  init: FollowInit,
): AsyncGenerator<StoreProgress> {
  const { fs, target, signal } = init;
  const { id } = target;
  const paths = claimedPaths(init.layout, target.owner, id);
  const entry = init.layout.entryPath(target.hash);
  const interval = checkMs(target.leaseMs);
  // Watch before the first look, so that no change goes unseen.
  const changes = new Changes(init.hub, `${init.layout.tmp}/${target.owner}`);
  let file: FileHandle | undefined;
  let size = 0;
  let checked = Date.now();
  try {
    for (;;) {
      if (signal.aborted) return;
      file ??= await openFirst(fs, [paths.data, paths.committing]);
      const length = file && (await file.stat()).size;
      // Whether to ask the claim if its producer lives: every half lease.
      let ask = Date.now() - checked >= interval;
      if (await exists(fs, paths.data)) {
        if (length !== undefined && length > size) {
          size = length;
          init.grown(size);
          yield { size };
        }
      } else if (!(await exists(fs, paths.committing))) {
        file ??= await openEntry(fs, entry, id);
        const done = file && await committedAs(init, file, entry);
        if (done) {
          yield done;
          return;
        }
        await failure(fs, paths.note, id);
        ask = true; // gone without a word: perhaps lost
      }
      if (ask) {
        checked = Date.now();
        await settle(init, file, entry, paths.note);
      }
      await changes.wait(interval, signal);
    }
  } finally {
    changes.close();
    await file?.close().catch(() => {});
  }
}

/**
 * Throws if the producer's claim is no longer live (after a last look for
 * a commit or a failure note, which a producer makes before releasing it).
 */
async function settle(
  init: FollowInit,
  file: FileHandle | undefined,
  entry: string,
  note: string,
): Promise<void> {
  const { target } = init;
  const state = await init.claims.liveness(target.path, target.id);
  if (state === "live") return;
  if (file && await committedAs(init, file, entry)) return; // the next look reports it
  await failure(init.fs, note, target.id);
  const why = {
    released: "released its claim without committing it",
    stale: "let its lease run out (it died or is stopped)",
    dead: "died",
    gone: "lost its claim to another process",
  }[state];
  throw new ProducerLostError(
    `Cannot read entry ${target.id}: its producer (in another process) ${why}`,
  );
}

/** The progress that says `file` is committed as `entry`, or `undefined`. */
async function committedAs(
  init: FollowInit,
  file: FileHandle,
  entry: string,
): Promise<StoreProgress | undefined> {
  let there: FileInfo;
  try {
    there = await init.fs.stat(entry);
  } catch (error) {
    if (init.fs.isNotFound(error)) return undefined;
    throw error;
  }
  const info = await file.stat();
  if (
    there.ino !== undefined && info.ino !== undefined && there.ino !== info.ino
  ) {
    return undefined;
  }
  const trailer = await readTrailer(file, info);
  if (trailer?.id !== init.target.id) return undefined;
  return {
    size: trailer.size,
    record: init.committed(trailer, info, entry),
  };
}

/** Throws the failure the producer noted, if it noted one. */
async function failure(fs: FileSystem, note: string, id: string) {
  let file: FileHandle;
  try {
    file = await fs.open(note, "read");
  } catch (error) {
    if (fs.isNotFound(error)) return;
    throw error;
  }
  let said: { reason?: unknown; lost?: unknown } = {};
  try {
    const bytes = new Uint8Array(64 * 1024);
    const count = await file.read(bytes, 0);
    said = JSON.parse(new TextDecoder().decode(bytes.subarray(0, count)));
  } catch {
    // Unreadable: it failed all the same.
  } finally {
    await file.close();
  }
  const reason = typeof said.reason === "string"
    ? said.reason
    : "no reason given";
  throw said.lost === true
    ? new ProducerLostError(`Cannot read entry ${id}: ${reason}`)
    : new StreamCacheError(
      `Cannot read entry ${id}: its producer (in another process) failed: ${reason}`,
    );
}

async function exists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (error) {
    if (fs.isNotFound(error)) return false;
    throw error;
  }
}

async function openFirst(
  fs: FileSystem,
  paths: readonly string[],
): Promise<FileHandle | undefined> {
  for (const path of paths) {
    try {
      return await fs.open(path, "read");
    } catch (error) {
      if (!fs.isNotFound(error)) throw error;
    }
  }
  return undefined;
}

/** Opens the committed file of the key if it holds entry `id`. */
async function openEntry(
  fs: FileSystem,
  path: string,
  id: string,
): Promise<FileHandle | undefined> {
  const file = await openFirst(fs, [path]);
  if (file && (await readTrailerId(file)) === id) return file;
  await file?.close();
  return undefined;
}
