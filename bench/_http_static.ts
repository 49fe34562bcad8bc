/**
 * The yardstick of bench/http.ts: a static file server, npm `sirv` (v3) on
 * `node:http`, serving a directory on 127.0.0.1. Prints
 * `listening on <url>` first, like the download server; stops on SIGTERM.
 *
 *     node bench/_http_static.ts <dir>
 *
 * @module
 */

import { createServer } from "node:http";
import process from "node:process";
import sirv from "sirv";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/_http_static.ts <dir>");
  process.exit(2);
}
// etag: as the download server sends one; dev: false caches the stat, as in
// production.
const serveFiles = sirv(dir, { etag: true, dev: false });
const server = createServer((request, response) =>
  serveFiles(request, response, () => {
    response.statusCode = 404;
    response.end("not found\n");
  })
);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  console.log(`listening on http://127.0.0.1:${port}/`);
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});
