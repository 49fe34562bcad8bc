/**
 * `cached()` in Fastify 5: `GET /reports/<name>` is made once, however many
 * clients ask, and streamed to each of them while it is made; Range and HEAD
 * are answered from the cache. srvx's `NodeRequest` makes the fetch
 * `Request`; `reply.send()` sends the `Response`.
 *
 *     PORT=8000 node examples/servers/fastify.ts     # Node 22.18+; or bun
 *     curl -r 0-99 http://127.0.0.1:8000/reports/q3.csv
 *
 * @module
 */

import Fastify from "fastify";
import process from "node:process";
import { NodeRequest } from "srvx/node";
import { StreamCache } from "../../mod.ts";
import { cached, type Handler } from "../../src/http/mod.ts";
import { report } from "./report.ts";

/**
 * A Fastify app that serves `/reports/<name>` from `cache`.
 *
 * @param handler Makes a response; runs once per URL.
 * @param cache Where responses are kept.
 * @returns The app, not yet listening.
 */
export function createApp(handler: Handler, cache: StreamCache) {
  const app = Fastify();
  const serve = cached(handler, { cache });
  app.route({
    // HEAD is declared, not left to Fastify's automatic HEAD route: that
    // route's onSend hook (fastify/lib/head-route.js) measures a payload it
    // does not know with Buffer.byteLength(), which throws for a Response,
    // and so answers 500. Declared, HEAD takes the path GET takes, which
    // keeps the Response's status and Content-Length and sends no body.
    method: ["GET", "HEAD"],
    url: "/reports/:name",
    handler: async (request, reply) => {
      const fetchRequest = new NodeRequest({
        req: request.raw,
        res: reply.raw,
      });
      return reply.send(await serve(fetchRequest));
    },
  });
  return app;
}

if (import.meta.main) {
  const app = createApp(report, new StreamCache());
  const port = Number(process.env.PORT ?? 8000);
  const url = await app.listen({ host: "127.0.0.1", port });
  console.log(`listening on ${url}/`);
}
