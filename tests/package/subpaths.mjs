// What each subpath of the npm package may reach: one place, read by
// npm-build.ts (which fails the build on a violation) and scripts/smoke.mjs
// (which bundles every browser-safe subpath for the browser). Every subpath
// of deno.json's exports map must be named in exactly one of BROWSER_SAFE and
// SERVER_ONLY; a name that deno.json does not export (yet) is ignored.

/**
 * Subpaths a browser may load: nothing they reach imports a `node:` module,
 * they type-check against ES + DOM without `@types/node`, and they bundle
 * with `esbuild --platform=browser`.
 */
export const BROWSER_SAFE = [".", "./http", "./idb"];

/** Subpaths for servers only: they import `node:` modules. */
export const SERVER_ONLY = ["./fs", "./redis"];

/**
 * Optional peer dependencies, by the one subpath allowed to import them: the
 * package has no runtime dependencies otherwise. Adding a client is one line,
 * e.g. `"./idb": { "idb-keyval": "^6.2.1" }`.
 *
 * @type {Record<string, Record<string, string>>}
 */
export const PEERS = {
  "./idb": { "idb-keyval": "^6.2.0" },
  // RedisStore takes the caller's client and imports none; the peer says
  // which node-redis versions it is tested with.
  "./redis": { redis: "^5.0.0 || ^6.0.0" },
};
