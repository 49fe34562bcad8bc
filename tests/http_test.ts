// The HTTP wrapper, driven with Request objects on every runtime: what is
// stored, what passes through, Range, conditional requests, HEAD, failures
// and disconnects.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { StreamCache } from "../mod.ts";
import { cached } from "../src/http/mod.ts";
import type { Handler } from "../src/http/mod.ts";
import {
  encode,
  isSettled,
  manualSource,
  pattern,
  withCache,
} from "./_helpers.ts";

const URL_A = "http://example.test/reports/a.csv";

/** A handler that counts its runs and answers with `body` and `init`. */
function counting(
  body: () => string | ReadableStream<Uint8Array> | null,
  init: ResponseInit = {},
) {
  const calls: Request[] = [];
  const handler: Handler = (request) => {
    calls.push(request);
    return new Response(body(), init);
  };
  return { handler, calls };
}

const get = (url = URL_A, headers: Record<string, string> = {}) =>
  new Request(url, { headers });

describe("cached(): storing responses", () => {
  it("stores status, status text and end-to-end headers, and serves them from the cache", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "id,total\n1,2\n", {
        statusText: "Fine",
        headers: {
          "content-type": "text/csv",
          "x-report": "q3",
          connection: "close",
        },
      });
      const serve = cached(handler, { cache });
      const first = await serve(get());
      assert.equal(await first.text(), "id,total\n1,2\n");
      const second = await serve(get());
      assert.equal(second.status, 200);
      assert.equal(second.statusText, "Fine");
      assert.equal(second.headers.get("content-type"), "text/csv");
      assert.equal(second.headers.get("x-report"), "q3");
      assert.equal(
        second.headers.get("connection"),
        null,
        "hop-by-hop headers are not stored",
      );
      assert.equal(second.headers.get("content-length"), "13");
      assert.equal(second.headers.get("accept-ranges"), "bytes");
      assert.match(second.headers.get("etag") ?? "", /^"[^"]+"$/);
      assert.equal(await second.text(), "id,total\n1,2\n");
      assert.equal(calls.length, 1);
    }));

  it("runs the handler once for 20 concurrent requests, which all get the same bytes (rule 1)", () =>
    withCache(async (cache) => {
      const data = pattern(200_000, 2);
      const { handler, calls } = counting(() =>
        new Blob([data as Uint8Array<ArrayBuffer>]).stream()
      );
      const serve = cached(handler, { cache });
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => serve(get())),
      );
      const bodies = await Promise.all(responses.map((r) => r.arrayBuffer()));
      assert.equal(calls.length, 1);
      for (const body of bodies) assert.deepEqual(new Uint8Array(body), data);
    }));

  it("keys GET and HEAD alike: a HEAD miss produces the entry a GET then hits", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "body");
      const serve = cached(handler, { cache });
      const head = await serve(new Request(URL_A, { method: "HEAD" }));
      assert.equal(head.status, 200);
      assert.equal(head.body, null);
      assert.equal(
        calls[0]?.method,
        "GET",
        "the handler produces the GET representation",
      );
      assert.equal(await (await serve(get())).text(), "body");
      assert.equal(calls.length, 1);
    }));

  it("passes through untouched, and never stores, what is not cacheable", () =>
    withCache(async (cache) => {
      const cases: [string, ResponseInit, string][] = [
        ["500", { status: 500 }, "/500"],
        ["404", { status: 404 }, "/404"],
        [
          "no-store",
          { headers: { "cache-control": "public, no-store" } },
          "/no-store",
        ],
        [
          "private",
          { headers: { "cache-control": "private, max-age=60" } },
          "/private",
        ],
        ["cookie", { headers: { "set-cookie": "a=b" } }, "/cookie"],
        ["vary", { headers: { vary: "accept-encoding" } }, "/vary"],
      ];
      for (const [name, init, path] of cases) {
        let runs = 0;
        const serve = cached(() => (runs++, new Response(name, init)), {
          cache,
        });
        const url = `http://example.test${path}`;
        const first = await serve(get(url));
        assert.equal(first.status, init.status ?? 200);
        assert.equal(await first.text(), name);
        assert.equal(first.headers.get("etag"), null);
        await (await serve(get(url))).text();
        assert.equal(runs, 2, `${name} is not cached`);
        assert.equal(await cache.has(url), false);
      }
    }));

  it("passes other methods straight to the handler", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "posted");
      const serve = cached(handler, { cache });
      const response = await serve(
        new Request(URL_A, { method: "POST", body: "x" }),
      );
      assert.equal(await response.text(), "posted");
      assert.equal(calls[0]?.method, "POST");
      assert.equal(await cache.has(URL_A), false);
    }));

  it("lets key() bypass the cache and shouldCache() widen it", () =>
    withCache(async (cache) => {
      let runs = 0;
      const serve = cached(
        () => (runs++, new Response("gone", { status: 404 })),
        {
          cache,
          key: (request) =>
            new URL(request.url).searchParams.has("nocache")
              ? undefined
              : request.url,
          shouldCache: (response) => response.status === 404,
        },
      );
      await (await serve(get(`${URL_A}?nocache`))).text();
      await (await serve(get(`${URL_A}?nocache`))).text();
      const cachedMiss = await serve(get());
      assert.equal(cachedMiss.status, 404);
      await cachedMiss.text();
      const hit = await serve(get());
      assert.equal(hit.status, 404);
      assert.equal(await hit.text(), "gone");
      assert.equal(runs, 3);
    }));
});

describe("cached(): Range and conditional requests", () => {
  const body = "0123456789abcdefghij"; // 20 bytes

  it("answers single ranges with 206 and Content-Range, suffix and open ranges included", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response(body), { cache });
      await (await serve(get())).text();
      for (
        const [range, expected, contentRange] of [
          ["bytes=2-5", "2345", "bytes 2-5/20"],
          ["bytes=15-", "fghij", "bytes 15-19/20"],
          ["bytes=-3", "hij", "bytes 17-19/20"],
          ["bytes=18-100", "ij", "bytes 18-19/20"],
        ]
      ) {
        const response = await serve(get(URL_A, { range: range! }));
        assert.equal(response.status, 206, range);
        assert.equal(response.headers.get("content-range"), contentRange);
        assert.equal(
          response.headers.get("content-length"),
          String(expected!.length),
        );
        assert.equal(await response.text(), expected);
      }
    }));

  it("answers an unsatisfiable range with 416 and the complete length", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response(body), { cache });
      await (await serve(get())).text();
      const response = await serve(get(URL_A, { range: "bytes=20-" }));
      assert.equal(response.status, 416);
      assert.equal(response.headers.get("content-range"), "bytes */20");
      assert.equal(await response.text(), "");
    }));

  it("serves the whole body for several ranges or a malformed Range", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response(body), { cache });
      for (
        const range of ["bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=x-"]
      ) {
        const response = await serve(get(URL_A, { range }));
        assert.equal(response.status, 200, range);
        assert.equal(await response.text(), body);
      }
    }));

  it("answers If-None-Match with 304, and If-Range with the range only when the ETag matches", () =>
    withCache(async (cache) => {
      const serve = cached(
        () =>
          new Response(body, { headers: { "cache-control": "max-age=60" } }),
        {
          cache,
        },
      );
      const first = await serve(get());
      await first.text();
      const etag = (await serve(get())).headers.get("etag")!;
      const notModified = await serve(
        get(URL_A, { "if-none-match": `"other", ${etag}` }),
      );
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("etag"), etag);
      assert.equal(notModified.headers.get("cache-control"), "max-age=60");
      assert.equal(await notModified.text(), "");
      assert.equal(
        (await serve(get(URL_A, { "if-none-match": '"stale"' }))).status,
        200,
      );
      const matching = await serve(
        get(URL_A, { range: "bytes=0-1", "if-range": etag }),
      );
      assert.equal(matching.status, 206);
      assert.equal(await matching.text(), "01");
      const stale = await serve(
        get(URL_A, { range: "bytes=0-1", "if-range": '"stale"' }),
      );
      assert.equal(stale.status, 200);
      assert.equal(await stale.text(), body);
    }));

  it("gives a new ETag when the key is produced again", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response(body), { cache });
      await (await serve(get())).text();
      const before = (await serve(get())).headers.get("etag");
      await cache.delete(URL_A);
      await (await serve(get())).text();
      const after = (await serve(get())).headers.get("etag");
      assert.notEqual(before, after);
    }));

  it("answers HEAD with the headers of GET and no body", () =>
    withCache(async (cache) => {
      const serve = cached(
        () => new Response(body, { headers: { "content-type": "text/plain" } }),
        {
          cache,
        },
      );
      await (await serve(get())).text();
      const head = await serve(new Request(URL_A, { method: "HEAD" }));
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-type"), "text/plain");
      assert.equal(head.headers.get("content-length"), "20");
      assert.equal(head.body, null);
      const ranged = await serve(
        new Request(URL_A, { method: "HEAD", headers: { range: "bytes=1-2" } }),
      );
      assert.equal(ranged.status, 206);
      assert.equal(ranged.headers.get("content-range"), "bytes 1-2/20");
    }));
});

describe("cached(): entries still being generated", () => {
  it("streams a Range of an entry still written as its bytes arrive", () =>
    withCache(async (cache) => {
      const source = manualSource();
      const serve = cached(() => new Response(source.stream), { cache });
      const whole = await serve(get());
      source.push(encode("01234"));
      const ranged = serve(get(URL_A, { range: "bytes=3-7" }));
      source.push(encode("56"));
      const partial = await ranged;
      assert.equal(partial.status, 206);
      assert.equal(partial.headers.get("content-range"), "bytes 3-7/*");
      assert.equal(partial.headers.get("content-length"), "5");
      assert.equal(
        partial.headers.get("etag"),
        null,
        "no validator before the entry is complete",
      );
      const text = partial.text();
      assert.equal(await isSettled(text), false, "waits for byte 7");
      source.push(encode("789"));
      assert.equal(await text, "34567");
      source.close();
      assert.equal(await whole.text(), "0123456789");
    }));

  it("uses a declared Content-Length for an entry still written, and for open ranges", () =>
    withCache(async (cache) => {
      const source = manualSource();
      const serve = cached(
        () =>
          new Response(source.stream, { headers: { "content-length": "10" } }),
        { cache },
      );
      const whole = await serve(get());
      assert.equal(whole.headers.get("content-length"), "10");
      const tail = await serve(get(URL_A, { range: "bytes=6-" }));
      assert.equal(tail.status, 206);
      assert.equal(tail.headers.get("content-range"), "bytes 6-9/10");
      source.push(encode("0123456789"));
      source.close();
      assert.equal(await tail.text(), "6789");
      assert.equal(await whole.text(), "0123456789");
    }));

  it("fails, and does not cache, a body that ends short of its Content-Length (rule 5)", () =>
    withCache(async (cache) => {
      const serve = cached(
        () => new Response("short", { headers: { "content-length": "100" } }),
        { cache },
      );
      const response = await serve(get());
      await assert.rejects(
        response.text(),
        /short of its Content-Length of 100/,
      );
      assert.equal(await cache.has(URL_A), false);
    }));
});

describe("cached(): failures and disconnects", () => {
  it("rejects every waiting request when the handler throws, caches nothing, and runs afresh next time", () =>
    withCache(async (cache) => {
      let runs = 0;
      const boom = new Error("handler failed");
      const serve = cached(() => {
        if (runs++ === 0) throw boom;
        return new Response("ok");
      }, { cache });
      const results = await Promise.allSettled([serve(get()), serve(get())]);
      assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
      assert.equal(await (await serve(get())).text(), "ok");
      assert.equal(runs, 2);
    }));

  it("breaks every client's body when the handler's body errors, and caches nothing (rule 5)", () =>
    withCache(async (cache) => {
      const source = manualSource();
      let runs = 0;
      const serve = cached(() => (runs++, new Response(source.stream)), {
        cache,
      });
      const responses = await Promise.all([serve(get()), serve(get())]);
      const texts = responses.map((r) => r.text());
      source.push(encode("partial"));
      source.error(new Error("generator crashed"));
      for (const text of texts) await assert.rejects(text, /generator crashed/);
      assert.equal(await cache.has(URL_A), false);
    }));

  it("lets a client disconnect without stopping the handler; the entry is cached", () =>
    withCache(async (cache) => {
      const source = manualSource();
      const { handler, calls } = counting(() => source.stream);
      const serve = cached(handler, { cache });
      const leaving = await serve(get());
      const staying = await serve(get());
      source.push(encode("abc"));
      await leaving.body!.cancel(new Error("client went away"));
      source.push(encode("def"));
      source.close();
      assert.equal(await staying.text(), "abcdef");
      assert.equal(await (await serve(get())).text(), "abcdef");
      assert.equal(calls.length, 1);
    }));

  it("gives the handler a signal of its own, not the first client's", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "x");
      const serve = cached(handler, { cache });
      const client = new AbortController();
      await (await serve(new Request(URL_A, { signal: client.signal }))).text();
      client.abort();
      assert.equal(calls[0]?.signal.aborted, false);
    }));

  it("with abortWhenUnread, stops the handler's body once every client has gone", () =>
    withCache(async (cache) => {
      let cancelled: unknown;
      const body = () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encode("first"));
          },
          cancel(reason) {
            cancelled = reason;
          },
        });
      let runs = 0;
      const serve = cached(() => (runs++, new Response(body())), {
        cache,
        abortWhenUnread: true,
      });
      const a = await serve(get());
      const b = await serve(get());
      const entry = (await cache.get(URL_A))!;
      await a.body!.cancel();
      assert.equal(entry.state, "writing", "one client is still reading");
      await b.body!.cancel();
      await assert.rejects(entry.done, { name: "AbortError" });
      assert.equal((cancelled as Error | undefined)?.name, "AbortError");
      assert.equal(await cache.has(URL_A), false);
      await (await serve(get())).body?.cancel();
      assert.equal(runs, 2);
    }));

  it("reports each request's outcome: miss, join, hit, uncacheable, bypass", () =>
    withCache(async (cache) => {
      const source = manualSource();
      const seen: string[] = [];
      const serve = cached(
        (request) =>
          request.method === "DELETE"
            ? new Response("deleted")
            : new URL(request.url).pathname === "/secret"
            ? new Response("s", { headers: { "cache-control": "no-store" } })
            : new Response(source.stream),
        {
          cache,
          onServe: ({ outcome, key, entry }) =>
            seen.push(
              `${outcome} ${key ? new URL(key).pathname : "-"} ${
                entry?.state ?? "-"
              }`,
            ),
        },
      );
      const first = await serve(get());
      const joined = await serve(get());
      source.push(encode("x"));
      source.close();
      await first.text();
      await joined.text();
      await (await serve(get())).text();
      await (await serve(get("http://example.test/secret"))).text();
      await (await serve(new Request(URL_A, { method: "DELETE" }))).body
        ?.cancel();
      assert.deepEqual(seen, [
        "miss /reports/a.csv writing",
        "join /reports/a.csv writing",
        "hit /reports/a.csv complete",
        "uncacheable /secret -",
        "bypass - -",
      ]);
    }));

  it("refuses, clearly, to serve an entry that other code put under the same key (rule 18)", () =>
    withCache(async (cache) => {
      await (await cache.getOrCreate(URL_A, () => encode("raw bytes"))).done;
      const serve = cached(() => new Response("never"), { cache });
      await assert.rejects(serve(get()), {
        name: "TypeError",
        message:
          `Cannot serve entry "${URL_A}": its metadata was not written by cached()`,
      });
    }));

  it("rejects a wrapper without a cache or a handler, clearly", () => {
    assert.throws(
      () => cached("x" as unknown as Handler, { cache: new StreamCache() }),
      {
        name: "TypeError",
        message:
          "Cannot wrap handler: handler must be a function: received string",
      },
    );
    assert.throws(
      () => cached(() => new Response(), { cache: {} as StreamCache }),
      /cache must be a StreamCache: received Object/,
    );
  });
});
