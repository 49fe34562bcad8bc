/**
 * A disk-backed store for {@linkcode StreamCache}: entries survive restarts,
 * partial entries are never served, and any string is a safe key. Reachable
 * only by this subpath, so browsers never load `node:fs`.
 *
 * @example Caching generated downloads on disk
 * ```ts
 * import { StreamCache } from "@streamcache/streamcache";
 * import { FsStore } from "@streamcache/streamcache/fs";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = new StreamCache({ store: new FsStore({ dir }) });
 *   const entry = await cache.getOrCreate("report.csv", () => new TextEncoder().encode("a,b\n1,2\n"));
 *   assert.equal(await entry.done, 8);
 * }
 * {
 *   // After a restart, the entry is served from disk: the producer does not run.
 *   await using cache = new StreamCache({ store: new FsStore({ dir }) });
 *   const entry = await cache.getOrCreate("report.csv", () => {
 *     throw new Error("not called");
 *   });
 *   assert.equal(await new Response(entry.readable()).text(), "a,b\n1,2\n");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { FsStore } from "./fs_store.ts";
export type { FsStoreOptions } from "./fs_store.ts";
export type {
  FileHandle,
  FileInfo,
  FileSystem,
  Hasher,
} from "./file_system.ts";
export { denoFileSystem } from "./deno_file_system.ts";
export { nodeFileSystem } from "./node_file_system.ts";
