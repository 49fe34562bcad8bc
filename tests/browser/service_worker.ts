// The service worker of the browser scenarios (scripts/_chromium_scenarios.mjs),
// bundled as a module service worker: `cached()` over an IndexedDbStore in
// front of the origin. A request for /cached/<path> is generated once, by a
// fetch of /origin/<path>, and served to every client from IndexedDB,
// Range requests included; the generation outlives the client that started
// it (`event.waitUntil` on the entry).

import { type CacheStatus, StreamCache } from "../../mod.ts";
import { cached } from "../../src/http/mod.ts";
import { IndexedDbStore } from "../../src/idb/mod.ts";

interface FetchEvent extends Event {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
  waitUntil(promise: Promise<unknown>): void;
}
interface Scope {
  addEventListener(type: string, listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: { origin: string };
}
const scope = globalThis as unknown as Scope;

const cache = new StreamCache({
  store: new IndexedDbStore({ name: "service-worker", chunkSize: 16 * 1024 }),
});
/** Each request's entry, once cached() knows how it is served. */
const entries = new WeakMap<Request, Promise<unknown>>();
const handler = cached(
  (request) => {
    const url = new URL(request.url);
    url.pathname = url.pathname.replace(/^\/cached\//, "/origin/");
    return fetch(url, { signal: request.signal });
  },
  {
    cache,
    onServe: ({ request, entry }) => {
      if (entry) entries.set(request, entry.done.catch(() => {}));
    },
  },
);

/**
 * `/direct/<name>?...` is the cache's own key `direct:<name>`, produced by a
 * fetch of `/origin/<name>?...`: what a tab's own cache over the same
 * database asks for too, so the two share one generation (Web Locks and a
 * BroadcastChannel between them). `x-outcome` says how it was served.
 */
async function direct(url: URL): Promise<Response> {
  const name = url.pathname.slice("/direct/".length);
  const status: CacheStatus = {};
  const entry = await cache.getOrCreate(
    `direct:${name}`,
    async () => (await fetch(`/origin/${name}${url.search}`)).body!,
    { status },
  );
  return new Response(entry.readable(), {
    headers: { "x-outcome": String(status.outcome) },
  });
}

scope.addEventListener("install", () => void scope.skipWaiting());
scope.addEventListener(
  "activate",
  (event) => event.waitUntil(scope.clients.claim()),
);
scope.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== scope.location.origin) return; // the network's
  if (url.pathname.startsWith("/direct/")) {
    const response = direct(url);
    event.respondWith(response);
    event.waitUntil(response.catch(() => {}));
    return;
  }
  if (!url.pathname.startsWith("/cached/")) return;
  const response = handler(request);
  event.respondWith(response);
  // Keep the worker alive until the entry is complete: its generation
  // outlives the client that started it.
  event.waitUntil(response.then(() => entries.get(request)));
});
