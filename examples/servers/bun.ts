/**
 * `cached()` on `Bun.serve`: each report is made once, however many clients
 * ask, and streamed to each of them while it is made; Range and HEAD are
 * answered from the cache.
 *
 *     PORT=8000 bun examples/servers/bun.ts
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

import process from "node:process";
import { StreamCache } from "../../mod.ts";
import { cached, type Handler } from "../../src/http/mod.ts";
import { report } from "./report.ts";

/**
 * Serves `handler`'s responses through `cache` on 127.0.0.1:`port`.
 *
 * @param handler Makes a response; runs once per URL.
 * @param cache Where responses are kept.
 * @param port The port; 0 picks a free one.
 * @returns The running server.
 */
export function serve(handler: Handler, cache: StreamCache, port: number) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    // Bun closes a connection on which nothing was sent or received for
    // idleTimeout seconds (default 10). A client that waits for bytes not
    // made yet (a Range ahead of the generation, a slow producer) sends and
    // receives nothing meanwhile: 0 turns the timeout off.
    idleTimeout: 0,
    fetch: cached(handler, { cache }),
  });
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 8000);
  const server = serve(report, new StreamCache(), port);
  console.log(`listening on ${server.url}`);
}
