/**
 * streamcache demo: generate once, stream to everyone.
 *
 * One slow, "expensive" producer streams a generated CSV report (~320 KB over
 * ~2 s). Three requests for it arrive at different moments (at once, at ~30 %
 * and at ~70 % of the production); a fourth arrives after it completed. The
 * producer runs once; every request gets the whole report from byte 0, and
 * the late ones catch up at once with what is already written, then follow
 * the producer live. Exits 0 if the invariants hold, 1 otherwise.
 *
 * Run it with any of (no permissions needed):
 *
 *     npm start
 *     deno run examples/demo.ts
 *     bun examples/demo.ts
 *     node examples/demo.ts          # Node 22.18+ / 24 (strips the types)
 *
 * @module
 */

import process from "node:process";
import { type Entry, StreamCache } from "../mod.ts";

const KEY = "report.csv";
const CHUNKS = 40; // the producer yields 40 pieces ...
const CHUNK_BYTES = 8 * 1024; // ... of ~8 KB ...
const DELAY_MS = 50; // ... one every 50 ms: ~320 KB over ~2 s

const started = performance.now();
const now = () => performance.now() - started;
const stamp = () => `${now().toFixed(0).padStart(5)} ms`;
const ms = (t: number) => `${t.toFixed(t < 10 ? 1 : 0)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0).padStart(3)} KB`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const log = (line: string) => console.log(`${stamp()}  ${line}`);

// ---- the expensive producer ---------------------------------------------
let producerRuns = 0;
const produced: Uint8Array[] = []; // what it yielded, to check the readers
const producedBytes = () => produced.reduce((n, c) => n + c.byteLength, 0);

/** Streams a made-up sales report, slowly: the work we want done once. */
async function* generateReport(): AsyncGenerator<Uint8Array> {
  producerRuns++;
  const encoder = new TextEncoder();
  const regions = ["north", "south", "east", "west"];
  let seed = 42;
  let row = 0;
  for (let i = 0; i < CHUNKS; i++) {
    await sleep(DELAY_MS); // stands in for queries, rendering, compression...
    let text = i === 0 ? "id,region,units,amount\n" : "";
    while (text.length < CHUNK_BYTES) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const units = seed % 97;
      text += `${++row},${regions[seed % 4]},${units},${units * 19.99}\n`;
    }
    const chunk = encoder.encode(text);
    produced.push(chunk);
    yield chunk;
  }
}

// ---- a request: get the entry (running the producer on a miss), read it ---
const received: Record<string, number> = {};

async function request(
  cache: StreamCache,
  name: string,
): Promise<{ name: string; bytes: Uint8Array<ArrayBuffer>; entry: Entry }> {
  const runsBefore = producerRuns;
  const entry = await cache.getOrCreate(KEY, generateReport);
  const sizeAtJoin = entry.size;
  const how = producerRuns > runsBefore
    ? "miss, starts the producer"
    : entry.state === "writing"
    ? `hit while it is written (${kb(sizeAtJoin).trim()} so far)`
    : `hit, complete (${kb(sizeAtJoin).trim()})`;
  log(`${name} requests ${KEY}: ${how}`);

  const asked = now();
  let caughtUp = sizeAtJoin === 0 ? asked : undefined;
  const chunks: Uint8Array[] = [];
  received[name] = 0;
  const reader = entry.readable().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received[name] += value.byteLength;
    if (caughtUp === undefined && received[name] >= sizeAtJoin) {
      caughtUp = now();
    }
  }
  const took = ms(now() - asked);
  // A late reader gets what is already written at once, then follows live.
  const late = caughtUp !== undefined && sizeAtJoin > 0 &&
    sizeAtJoin < received[name];
  const first = late
    ? ` (the ${kb(sizeAtJoin).trim()} already written in ${
      ms(caughtUp! - asked)
    })`
    : "";
  log(`${name} done: ${kb(received[name])} in ${took}${first}`);
  return { name, bytes: concat(chunks), entry };
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- the scenario ---------------------------------------------------------
console.log(
  `streamcache demo: one slow producer (~${
    kb(CHUNKS * CHUNK_BYTES).trim()
  } over ~${(CHUNKS * DELAY_MS) / 1000} s), four requests\n`,
);
const cache = new StreamCache();
const problems: string[] = [];
let ticker: ReturnType<typeof setInterval> | undefined;
try {
  const live = [request(cache, "A")];
  ticker = setInterval(() => {
    const readers = ["A", "B", "C"]
      .map((n) => `${n} ${n in received ? kb(received[n]!) : "   -  "}`)
      .join(" | ");
    log(`  produced ${kb(producedBytes())} | read: ${readers}`.trimEnd());
  }, 500);
  await sleep(0.3 * CHUNKS * DELAY_MS);
  live.push(request(cache, "B"));
  await sleep(0.4 * CHUNKS * DELAY_MS);
  live.push(request(cache, "C"));
  const results = await Promise.all(live);
  clearInterval(ticker);
  ticker = undefined;
  results.push(await request(cache, "D")); // after completion: a plain hit

  // ---- the invariants -----------------------------------------------------
  const expected = await sha256(concat(produced));
  console.log(`\nproducer runs: ${producerRuns}`);
  for (const { name, bytes } of results) {
    const hash = await sha256(bytes);
    const mark = hash === expected ? "" : "   <- differs from the producer's";
    console.log(`${name}  ${bytes.byteLength} bytes  sha256 ${hash}${mark}`);
    if (hash !== expected) problems.push(`${name} got different bytes`);
  }
  if (producerRuns !== 1) {
    problems.push(`the producer ran ${producerRuns} times`);
  }
  if (results.some((r) => r.entry !== results[0]!.entry)) {
    problems.push("the requests got different entries");
  }
  if (results[0]!.entry.state !== "complete") {
    problems.push(`the entry is ${results[0]!.entry.state}, not complete`);
  }
} finally {
  clearInterval(ticker);
  await cache.close();
}

if (problems.length === 0) {
  console.log("OK: the producer ran once; all four got its exact bytes");
} else {
  console.log(`FAILED: ${problems.join("; ")}`);
  process.exitCode = 1;
}
