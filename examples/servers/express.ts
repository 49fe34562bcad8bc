/**
 * `cached()` in Express 5, through the fetch adapter of `@hono/node-server`
 * (`getRequestListener`): `GET /reports/<name>` is made once, however many
 * clients ask, and streamed to each of them while it is made; Range and HEAD
 * are answered from the cache.
 *
 *     PORT=8000 node examples/servers/express.ts     # Node 22.18+; or bun
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

import { getRequestListener } from "@hono/node-server";
import express from "express";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { StreamCache } from "../../mod.ts";
import { cached, type Handler } from "../../src/http/mod.ts";
import { report } from "./report.ts";

/**
 * An Express app that serves `/reports/<name>` from `cache`.
 *
 * @param handler Makes a response; runs once per URL.
 * @param cache Where responses are kept.
 * @returns The app.
 */
export function createApp(handler: Handler, cache: StreamCache) {
  const listener = getRequestListener(cached(handler, { cache }), {
    // Keep the global Request and Response: the adapter's lighter ones
    // would replace them for the whole process.
    overrideGlobalObjects: false,
  });
  const app = express();
  // app.get() answers HEAD too; the cache answers Range and conditionals.
  app.get("/reports/:name", listener);
  return app;
}

if (import.meta.main) {
  const app = createApp(report, new StreamCache());
  const server = app.listen(
    Number(process.env.PORT ?? 8000),
    "127.0.0.1",
    () => {
      const { port } = server.address() as AddressInfo;
      console.log(`listening on http://127.0.0.1:${port}/`);
    },
  );
}
