// HEAD tells the truth (RFC 9110 §9.3.2, §8.6; issue 13 points 3 and 4): in
// process, and on the wire through this runtime's own server (Deno.serve,
// Bun.serve, or @hono/node-server on Node), read with a raw socket so that
// nothing between the server and the test adds or drops a header.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { cached } from "../src/http/mod.ts";
import type { Handler } from "../src/http/mod.ts";
import { serve } from "../examples/download_server/serve.ts";
import { encode, isSettled, withCache } from "./_helpers.ts";
import { counting, generating, get, head, URL_A } from "./_http_helpers.ts";

/** A server test must never hang the suite. */
const WIRE = { timeout: 20_000 };

/** The status line and headers of one request sent raw, with `Connection: close`. */
function rawHead(
  url: string,
  request: string,
): Promise<{ status: number; headers: Map<string, string> }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    socket.setEncoding("latin1");
    socket.on("connect", () =>
      socket.write(
        `${request} ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`,
      ));
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.destroy();
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers.set(
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers });
    });
    socket.on("error", reject);
  });
}

/** Serves `handler` on this runtime's server for the length of `test`. */
async function onTheWire(
  handler: (request: Request) => Promise<Response>,
  test: (base: string) => Promise<void>,
): Promise<void> {
  const server = await serve(handler, { hostname: "127.0.0.1", port: 0 });
  try {
    await test(server.url);
  } finally {
    server.closeConnections();
    await server.stop();
  }
}

describe("cached(): HEAD in process (RFC 9110 §9.3.2)", () => {
  it("answers HEAD of a complete entry with the headers of GET, its Content-Length and no body (RFC 9110 §9.3.2)", () =>
    withCache(async (cache) => {
      const { handler } = counting(() => "0123456789", {
        headers: { "content-type": "text/plain" },
      });
      const serve = cached(handler, { cache });
      await (await serve(get())).text();
      const getResponse = await serve(get());
      await getResponse.text();
      const headResponse = await serve(head());
      assert.equal(headResponse.status, 200);
      for (
        const name of [
          "content-type",
          "content-length",
          "etag",
          "last-modified",
        ]
      ) {
        assert.equal(
          headResponse.headers.get(name),
          getResponse.headers.get(name),
          name,
        );
      }
      assert.equal(headResponse.headers.get("content-length"), "10");
      assert.equal(headResponse.body, null);
    }));

  it("starts a generation on HEAD of a cold URL, answered as soon as the handler's headers are known; a GET then joins it (RFC 9110 §9.3.2)", () =>
    withCache(async (cache) => {
      const origin = generating({ headers: { "content-type": "text/csv" } });
      const serve = cached(origin.handler, { cache });
      const headResponse = await serve(head());
      assert.equal(headResponse.status, 200);
      assert.equal(headResponse.headers.get("content-type"), "text/csv");
      await headResponse.body?.cancel();
      const entry = (await cache.get(URL_A))!;
      assert.equal(entry.state, "writing", "answered before the body ended");
      const joining = await serve(get());
      origin.source.push(encode("a,b\n"));
      origin.source.close();
      assert.equal(await joining.text(), "a,b\n");
      assert.equal(origin.calls, 1);
    }));

  it("never claims a length for HEAD of an entry still generated: its declared Content-Length, or none (RFC 9110 §8.6, §9.3.2)", () =>
    withCache(async (cache) => {
      const unknown = generating();
      const serveUnknown = cached(unknown.handler, { cache });
      const first = await serveUnknown(get());
      const headUnknown = await serveUnknown(head());
      assert.equal(headUnknown.headers.get("content-length"), null);
      await headUnknown.body?.cancel();
      unknown.source.push(encode("abc"));
      unknown.source.close();
      await first.text();
      assert.equal(
        (await serveUnknown(head())).headers.get("content-length"),
        "3",
      );
      const declared = generating({ headers: { "content-length": "10" } });
      const url = "http://example.test/declared";
      const serveDeclared = cached(declared.handler, { cache });
      const headDeclared = await serveDeclared(head(url));
      assert.equal(headDeclared.headers.get("content-length"), "10");
      declared.source.push(encode("0123456789"));
      declared.source.close();
      await (await serveDeclared(get(url))).text();
    }));
});

describe("cached(): HEAD and Range on the wire (RFC 9110 §8.6, §9.3.2, §14.4)", () => {
  it(
    "sends HEAD of an entry of unknown length without Content-Length, never 0, and with the exact one once complete (RFC 9110 §8.6, §9.3.2)",
    WIRE,
    async () => {
      await withCache(async (cache) => {
        const origin = generating();
        const wrapped = cached(origin.handler, { cache });
        await onTheWire(wrapped, async (base) => {
          const first = await wrapped(get(`${base}file`));
          origin.source.push(encode("partial "));
          const during = await rawHead(`${base}file`, "HEAD");
          assert.equal(during.status, 200);
          assert.equal(during.headers.get("content-length"), undefined);
          origin.source.push(encode("then whole"));
          origin.source.close();
          assert.equal(await first.text(), "partial then whole");
          const after = await rawHead(`${base}file`, "HEAD");
          assert.equal(after.headers.get("content-length"), "18");
        });
      });
    },
  );

  it(
    "sends exactly the bytes a 206 promises for a Range on an entry of unknown length (RFC 9110 §14.4, §8.6)",
    WIRE,
    async () => {
      await withCache(async (cache) => {
        const origin = generating();
        let joined!: () => void;
        const ranged = new Promise<void>((resolve) => joined = resolve);
        const wrapped = cached(origin.handler, {
          cache,
          onServe: ({ outcome, request }) => {
            if (outcome === "join" && request.headers.has("range")) joined();
          },
        });
        await onTheWire(wrapped, async (base) => {
          const first = await wrapped(get(`${base}file`));
          origin.source.push(encode("0123456789"));
          const pending = fetch(`${base}file`, {
            headers: { range: "bytes=5-99" },
          });
          await ranged; // it reached the entry while its length is unknown
          await isSettled(pending);
          origin.source.push(encode("abc"));
          origin.source.close();
          const response = await pending;
          const body = await response.text();
          assert.equal(response.status, 206);
          assert.equal(response.headers.get("content-range"), "bytes 5-12/13");
          assert.equal(body, "56789abc");
          // Bun.serve sends a streamed body chunked (oven-sh/bun#10507).
          const length = response.headers.get("content-length");
          if (length !== null) assert.equal(length, "8");
          await first.text();
        });
      });
    },
  );

  it(
    "passes a HEAD through to a handler whose response is not stored without claiming Content-Length: 0 (RFC 9110 §8.6)",
    WIRE,
    async () => {
      await withCache(async (cache) => {
        const handler: Handler = () =>
          new Response(
            new ReadableStream({
              start(c) {
                c.enqueue(encode("secret"));
                c.close();
              },
            }),
            { headers: { "cache-control": "no-store" } },
          );
        await onTheWire(cached(handler, { cache }), async (base) => {
          const response = await rawHead(`${base}x`, "HEAD");
          assert.equal(response.status, 200);
          assert.notEqual(response.headers.get("content-length"), "0");
        });
      });
    },
  );
});
