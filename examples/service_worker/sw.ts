/**
 * The service worker of the browser example: expensive downloads generated
 * in the worker itself (a CSV report, a WAV of tones), each generated once
 * and streamed to every tab that asks, kept in IndexedDB across reloads and
 * browser restarts, and served with Range for `<audio>` seeking.
 *
 * Bundled as a module service worker by `npm run demo:browser`
 * (scripts/demo_browser.mjs), which serves it on http://127.0.0.1:8787/.
 *
 * @module
 */

import { StreamCache } from "../../mod.ts";
import { cached } from "../../src/http/mod.ts";
import { IndexedDbStore } from "../../src/idb/mod.ts";

// The little of the service-worker API this file uses (it is type-checked
// without the DOM and WebWorker libraries).
interface FetchEvent extends Event {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
  waitUntil(promise: Promise<unknown>): void;
}
interface ServiceWorkerScope {
  addEventListener(type: string, listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: {
    claim(): Promise<void>;
    matchAll(): Promise<{ postMessage(message: unknown): void }[]>;
  };
  location: { origin: string };
}
const worker = globalThis as unknown as ServiceWorkerScope;

// One cache for every tab: the worker is shared by all the pages it controls.
const cache = new StreamCache({
  store: new IndexedDbStore({ name: "streamcache-example" }),
  maxBytes: 200 * 1024 * 1024, // evicts the least recently used beyond 200 MB
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A CSV report of `rows` rows, made slowly: 2,000 rows every 100 ms. */
function report(rows: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let row = 0;
  return new ReadableStream({
    async pull(controller) {
      if (row === 0) controller.enqueue(encoder.encode("id,region,amount\n"));
      const lines: string[] = [];
      for (const end = Math.min(rows, row + 2_000); row < end; row++) {
        lines.push(
          `${row},${["north", "south"][row % 2]},${(row * 7) % 1000}.00`,
        );
      }
      controller.enqueue(encoder.encode(lines.join("\n") + "\n"));
      if (row >= rows) controller.close();
      else await sleep(100);
    },
  });
}

/** A mono 8 kHz WAV of `seconds` of rising tones, made at 5× real time. */
function tones(seconds: number): ReadableStream<Uint8Array> {
  const rate = 8_000;
  const samples = seconds * rate;
  const header = new DataView(new ArrayBuffer(44));
  const text = (at: number, value: string) =>
    [...value].forEach((c, i) => header.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + samples * 2, true);
  text(8, "WAVEfmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, samples * 2, true);
  let second = 0;
  return new ReadableStream({
    async pull(controller) {
      if (second === 0) controller.enqueue(new Uint8Array(header.buffer));
      const pcm = new Int16Array(rate);
      const frequency = 220 * 2 ** (second / 12); // a semitone higher each second
      for (let i = 0; i < rate; i++) {
        pcm[i] = Math.round(
          8_000 * Math.sin((2 * Math.PI * frequency * i) / rate),
        );
      }
      controller.enqueue(new Uint8Array(pcm.buffer));
      if (++second >= seconds) controller.close();
      else await sleep(200);
    },
  });
}

/** Tells every tab how a request was served: miss, join or hit. */
async function tell(message: unknown): Promise<void> {
  for (const client of await worker.clients.matchAll()) {
    client.postMessage(message);
  }
}

/** The request each entry was served for, so the fetch event can wait for it. */
const generations = new WeakMap<Request, Promise<unknown>>();
const handler = cached((request) => {
  const url = new URL(request.url);
  const size = Number(url.searchParams.get("size") ?? 0);
  if (url.pathname === "/generated/report.csv") {
    return new Response(report(size || 200_000), {
      headers: { "content-type": "text/csv; charset=utf-8" },
    });
  }
  if (url.pathname === "/generated/tones.wav") {
    return new Response(tones(size || 30), {
      headers: { "content-type": "audio/wav" },
    });
  }
  return new Response("not found\n", { status: 404 });
}, {
  cache,
  onServe: ({ request, key, outcome, entry }) => {
    if (entry) generations.set(request, entry.done.catch(() => {}));
    void tell({ key, outcome, range: request.headers.get("range") });
  },
});

worker.addEventListener("install", () => void worker.skipWaiting());
worker.addEventListener(
  "activate",
  (event) => event.waitUntil(worker.clients.claim()),
);
worker.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  // Cross-origin requests go to the network untouched: their responses may
  // be opaque, and they are the other origin's to cache.
  if (url.origin !== worker.location.origin) return;
  // Navigations (the page itself) too: a reload sees a new deploy at once.
  if (request.mode === "navigate") return;
  if (!url.pathname.startsWith("/generated/")) return;
  const response = handler(request);
  event.respondWith(response);
  // The browser may stop an idle worker; this one stays until the entry is
  // complete, even when the tab that asked for it has gone.
  event.waitUntil(response.then(() => generations.get(request)));
});
