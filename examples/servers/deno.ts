/**
 * `cached()` on `Deno.serve`: each report is made once, however many clients
 * ask, and streamed to each of them while it is made; Range and HEAD are
 * answered from the cache.
 *
 *     PORT=8000 deno run --allow-net=127.0.0.1 --allow-env=PORT examples/servers/deno.ts
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

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
export function serve(
  handler: Handler,
  cache: StreamCache,
  port: number,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    cached(handler, { cache }),
  );
}

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const server = serve(report, new StreamCache(), port);
  console.log(`listening on http://127.0.0.1:${server.addr.port}/`);
}
