/**
 * `cached()` in Hono, on Node through Hono's own adapter
 * (`@hono/node-server`): `GET /reports/<name>` is made once, however many
 * clients ask, and streamed to each of them while it is made; Range and HEAD
 * are answered from the cache. The app itself runs anywhere: on Deno,
 * `Deno.serve(app.fetch)`; on Bun, `Bun.serve({ fetch: app.fetch,
 * idleTimeout: 0 })` (see bun.ts for why 0).
 *
 *     PORT=8000 node examples/servers/hono.ts     # Node 22.18+; or bun, deno run -A
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

import { serve } from "@hono/node-server";
import { Hono } from "hono";
import process from "node:process";
import { StreamCache } from "../../mod.ts";
import { cached, type Handler } from "../../src/http/mod.ts";
import { report } from "./report.ts";

/**
 * A Hono app that serves `/reports/<name>` from `cache`.
 *
 * @param handler Makes a response; runs once per URL.
 * @param cache Where responses are kept.
 * @returns The app.
 */
export function createApp(handler: Handler, cache: StreamCache): Hono {
  const app = new Hono();
  const serveCached = cached(handler, { cache });
  // app.get() answers HEAD too; the cache answers Range and conditionals.
  app.get("/reports/:name", (c) => serveCached(c.req.raw));
  return app;
}

if (import.meta.main) {
  const app = createApp(report, new StreamCache());
  const server = {
    fetch: app.fetch,
    hostname: "127.0.0.1",
    port: Number(process.env.PORT ?? 8000),
    // Keep the global Request and Response: the adapter's lighter ones
    // would replace them for the whole process.
    overrideGlobalObjects: false,
  };
  serve(server, (info) => {
    console.log(`listening on http://127.0.0.1:${info.port}/`);
  });
}
