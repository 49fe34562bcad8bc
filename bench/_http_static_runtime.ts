/**
 * The runtime's own static file response, a yardstick of bench/http.ts on
 * Deno and Bun: `Deno.serve` answering with the file's `Deno.FsFile`
 * readable, or `Bun.serve` answering with `Bun.file()` (which Bun sends
 * with sendfile). Serves `<dir>/<name>` for any path, with its size as
 * `Content-Length`; prints `listening on <url>` first; stops on SIGTERM.
 *
 *     deno run --allow-net=127.0.0.1 --allow-read bench/_http_static_runtime.ts <dir>
 *     bun bench/_http_static_runtime.ts <dir>
 *
 * @module
 */

import process from "node:process";

interface DenoServe {
  serve(
    options: {
      port: number;
      hostname: string;
      onListen(addr: { port: number }): void;
    },
    handler: (request: Request) => Promise<Response>,
  ): { shutdown(): Promise<void> };
  open(
    path: string,
  ): Promise<
    { readable: ReadableStream<Uint8Array>; stat(): Promise<{ size: number }> }
  >;
}
interface BunServe {
  serve(
    options: {
      port: number;
      hostname: string;
      fetch(request: Request): Response;
    },
  ): {
    port: number;
    stop(): void;
  };
  file(path: string): Blob;
}

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bench/_http_static_runtime.ts <dir>");
  process.exit(2);
}
const runtimes = globalThis as { Deno?: DenoServe; Bun?: BunServe };
const pathOf = (request: Request) =>
  `${dir}/${
    decodeURIComponent(new URL(request.url).pathname.split("/").pop()!)
  }`;

if (runtimes.Deno) {
  const deno = runtimes.Deno;
  const server = deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: ({ port }) =>
      console.log(`listening on http://127.0.0.1:${port}/`),
  }, async (request) => {
    try {
      const file = await deno.open(pathOf(request));
      const { size } = await file.stat();
      return new Response(file.readable, {
        headers: { "content-length": String(size) },
      });
    } catch {
      return new Response("not found\n", { status: 404 });
    }
  });
  process.on("SIGTERM", () => void server.shutdown());
} else if (runtimes.Bun) {
  const bun = runtimes.Bun;
  const server = bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request) => new Response(bun.file(pathOf(request))),
  });
  console.log(`listening on http://127.0.0.1:${server.port}/`);
  process.on("SIGTERM", () => server.stop());
} else {
  console.error(
    "bench/_http_static_runtime.ts runs on Deno or Bun (Node: bench/_http_static.ts)",
  );
  process.exit(2);
}
