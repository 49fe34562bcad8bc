// A tiny static file server on 127.0.0.1 for the browser tests and the
// browser demo: files from one directory, a content type by extension, and
// routes of the caller's own before the files. Plain JS ESM (Node 20).
import * as fs from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
};

/**
 * Serves `dir` on 127.0.0.1 (port 0: any free one, unless given).
 *
 * @param {string} dir
 * @param {{ port?: number, index?: string, routes?: { prefix: string, route: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void }[] }} [options]
 *   `routes`: handlers of the paths that start with their prefix, tried
 *   before the files; `index`: the file that `/` serves.
 * @returns {Promise<{ origin: string, close(): Promise<void> }>}
 */
export function serve(dir, { port = 0, routes = [], index } = {}) {
  const server = createServer((req, res) => {
    let { pathname } = new URL(req.url ?? "/", "http://127.0.0.1");
    if (pathname === "/" && index) pathname = `/${index}`;
    const route = routes.find(({ prefix }) => pathname.startsWith(prefix));
    if (route) return route.route(req, res);
    const file = normalize(join(dir, decodeURIComponent(pathname)));
    if (
      !file.startsWith(dir) || !fs.existsSync(file) ||
      fs.statSync(file).isDirectory()
    ) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port } =
        /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
