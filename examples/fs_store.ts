/**
 * `FsStore`: entries on disk survive the process. The second cache over the
 * same directory, as after a restart, finds the entry: its producer does not
 * run.
 *
 *     deno run --allow-read=.cache --allow-write=.cache examples/fs_store.ts
 *     bun examples/fs_store.ts    # or: node (22.18+)
 *
 * @module
 */

import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";

const zip = () => new TextEncoder().encode("PK... (a zip made slowly)");
for (const run of ["first run", "after a restart"]) {
  const cache = new StreamCache({
    store: new FsStore({ dir: ".cache/fs_store" }),
  });
  let made = false;
  const entry = await cache.getOrCreate("big.zip", () => {
    made = true;
    return zip();
  });
  console.log(`${run}: ${made ? "made" : "from disk"}, ${await entry.done} B`);
  await cache.close();
}
