/**
 * `open()`: the caller that creates an entry gets its writer (fscache's
 * `Get`); every other caller gets the entry only, and reads it while it is
 * written.
 *
 *     deno run examples/open.ts    # or: bun, node (22.18+)
 *
 * @module
 */

import { StreamCache } from "../mod.ts";

const cache = new StreamCache();
const first = await cache.open("report.csv", { meta: { type: "text/csv" } });
const second = await cache.open("report.csv");
console.log(first.writable !== undefined, second.writable); // true undefined

// Read before a byte is written: the reader waits for the writer.
const reading = new Response(second.entry.readable()).text();
if (first.writable) {
  // This caller is the single writer.
  const writer = first.writable.getWriter();
  await writer.write(new TextEncoder().encode("id,amount\n"));
  await writer.write(new TextEncoder().encode("1,19.99\n"));
  await writer.close();
}
console.log(JSON.stringify(await reading)); // "id,amount\n1,19.99\n"
await cache.close();
