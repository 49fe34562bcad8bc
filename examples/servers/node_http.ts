/**
 * `cached()` on Node's `node:http`, through the fetch adapter of
 * `@hono/node-server` (`getRequestListener`): each report is made once,
 * however many clients ask, and streamed to each of them while it is made;
 * Range and HEAD are answered from the cache.
 *
 *     PORT=8000 node examples/servers/node_http.ts     # Node 22.18+; or bun
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

import { getRequestListener } from "@hono/node-server";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { StreamCache } from "../../mod.ts";
import { cached, type Handler } from "../../src/http/mod.ts";
import { report } from "./report.ts";

/**
 * A `node:http` server whose every response comes from `cache`.
 *
 * @param handler Makes a response; runs once per URL.
 * @param cache Where responses are kept.
 * @returns The server, not yet listening.
 */
export function createCachedServer(
  handler: Handler,
  cache: StreamCache,
): Server {
  const listener = getRequestListener(cached(handler, { cache }), {
    // Keep the global Request and Response: the adapter's lighter ones
    // would replace them for the whole process.
    overrideGlobalObjects: false,
  });
  return createServer(listener);
}

if (import.meta.main) {
  const server = createCachedServer(report, new StreamCache());
  server.listen(Number(process.env.PORT ?? 8000), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    console.log(`listening on http://127.0.0.1:${port}/`);
  });
}
