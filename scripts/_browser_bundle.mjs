// Bundles TypeScript entry points for the browser with esbuild, as the
// browser tests and the browser demo serve them: ES modules (a module
// service worker too: no dynamic import), with `node:` imports resolved to
// the given files or failing the build. Plain JS ESM (Node 20).
import { join } from "node:path";
import { build, stop } from "esbuild";
import { ROOT } from "./_exec.mjs";

/**
 * @param {Record<string, string>} entries  output name → entry (from the repository root)
 * @param {string} outdir
 * @param {{ shims?: Record<string, string>, fallback?: string }} [options]
 *   `shims`: a `node:` specifier → the file (from the root) it resolves to;
 *   `fallback`: the file for any other `node:` specifier (none: an error).
 */
export async function bundle(entries, outdir, { shims = {}, fallback } = {}) {
  try {
    await build({
      entryPoints: Object.fromEntries(
        Object.entries(entries).map((
          [name, entry],
        ) => [name, join(ROOT, entry)]),
      ),
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outdir,
      sourcemap: "inline",
      logLevel: "error",
      plugins: [{
        name: "node-builtins",
        setup(build) {
          build.onResolve({ filter: /^node:/ }, ({ path }) => {
            const file = shims[path] ?? fallback;
            if (file) return { path: join(ROOT, file) };
            return { errors: [{ text: `${path} cannot load in a browser` }] };
          });
        },
      }],
    });
  } finally {
    await stop(); // esbuild's service process
  }
}
