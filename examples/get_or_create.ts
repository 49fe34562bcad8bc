/**
 * `getOrCreate()`: three requests for one report at once run its producer
 * once, and each reads the whole report while it is made.
 *
 *     deno run examples/get_or_create.ts    # or: bun, node (22.18+)
 *
 * @module
 */

import { StreamCache } from "../mod.ts";

/** The expensive work: a CSV report, one row every 50 ms. */
async function* makeReport(name: string, signal: AbortSignal) {
  const encoder = new TextEncoder();
  yield encoder.encode(`${name}: id,region,amount\n`);
  for (let id = 1; id <= 20 && !signal.aborted; id++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    yield encoder.encode(`${id},north,${id * 19.99}\n`);
  }
}

const cache = new StreamCache();
let runs = 0;
const read = async (key: string) => {
  // The producer runs once per key, however many requests arrive meanwhile.
  const entry = await cache.getOrCreate(key, ({ key, signal }) => {
    runs++;
    // body: a ReadableStream, a Uint8Array or an AsyncIterable of them.
    return { body: makeReport(key, signal), meta: { type: "text/csv" } };
  });
  return await new Response(entry.readable()).text();
};
const reports = await Promise.all([read("q3"), read("q3"), read("q3")]);
console.log(`${reports.length} readers, ${runs} run of the producer`);
console.log(reports.every((report) => report === reports[0])); // true
await cache.close();
