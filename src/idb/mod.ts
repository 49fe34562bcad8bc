/**
 * An IndexedDB store for {@linkcode StreamCache} in browsers and service
 * workers, built on `idb-keyval` (this subpath's only dependency): entries
 * survive reloads and browser restarts as fixed-size chunks, an entry whose
 * writer died is never served, a Range read touches only its chunks, and the
 * tabs and workers of an origin produce each key once between them.
 *
 * @example Caching a generated download in a page or service worker
 * ```ts
 * import "fake-indexeddb/auto"; // Deno has no IndexedDB; a browser needs no such line
 * import { StreamCache } from "@streamcache/streamcache";
 * import { IndexedDbStore } from "@streamcache/streamcache/idb";
 * import assert from "node:assert/strict";
 *
 * await using cache = new StreamCache({ store: new IndexedDbStore({ name: "mod-example" }) });
 * const entry = await cache.getOrCreate("report.csv", () => new TextEncoder().encode("a,b\n1,2\n"));
 * assert.equal(await new Response(entry.readable()).text(), "a,b\n1,2\n");
 * ```
 *
 * @module
 */

export { IndexedDbStore } from "./idb_store.ts";
export type { IndexedDbStoreOptions } from "./idb_store.ts";
export type { IndexedDbSharing } from "./idb_sharing.ts";
