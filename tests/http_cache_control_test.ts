// Cache-Control and invalidation on the HTTP wrapper (RFC 9111 §4.4, §5.2;
// issue 13 points 6 and 7): no-cache and no-store responses, qualified
// no-cache, unsafe methods, and only-if-cached.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { cached } from "../src/http/mod.ts";
import type { Handler } from "../src/http/mod.ts";
import { encode, withCache } from "./_helpers.ts";
import { generating, get, URL_A } from "./_http_helpers.ts";

const text = async (response: Promise<Response>) =>
  await (await response).text();

/** A handler that numbers its GET responses ("v1", "v2", …) and answers other methods with `status`. */
function versioned(
  init: ResponseInit = {},
  unsafe: (request: Request) => Response = () => new Response("done"),
) {
  let runs = 0;
  const handler: Handler = (request) =>
    request.method === "GET"
      ? new Response(`v${++runs}`, init)
      : unsafe(request);
  return {
    handler,
    get runs() {
      return runs;
    },
  };
}

describe("cached(): response Cache-Control (RFC 9111 §5.2.2)", () => {
  it("never reuses a no-cache response without revalidation: each request runs the handler, whatever shouldCache says (RFC 9111 §5.2.2.4)", () =>
    withCache(async (cache) => {
      for (const control of ["no-cache", "max-age=3600, No-CaChE"]) {
        const url = `http://example.test/${encodeURIComponent(control)}`;
        const origin = versioned({ headers: { "cache-control": control } });
        const serve = cached(origin.handler, {
          cache,
          shouldCache: () => true,
        });
        assert.equal(await text(serve(get(url))), "v1");
        assert.equal(await text(serve(get(url))), "v2");
        assert.equal(await cache.has(url), false, control);
      }
    }));

  it('stores a response with no-cache="field" without that field, which only its own requester gets (RFC 9111 §5.2.2.4)', () =>
    withCache(async (cache) => {
      const origin = versioned({
        headers: {
          "cache-control": 'max-age=60, no-cache="set-cookie, x-user"',
          "set-cookie": "session=alice",
          "x-user": "alice",
          "x-kept": "1",
        },
      });
      const serve = cached(origin.handler, { cache });
      const miss = await serve(get());
      assert.equal(miss.headers.get("set-cookie"), "session=alice");
      assert.equal(miss.headers.get("x-user"), "alice");
      await miss.text();
      const hit = await serve(get());
      assert.equal(hit.headers.get("set-cookie"), null);
      assert.equal(hit.headers.get("x-user"), null);
      assert.equal(hit.headers.get("x-kept"), "1");
      assert.equal(await hit.text(), "v1");
    }));

  it("never stores a no-store response, whatever shouldCache says (RFC 9111 §5.2.2.5)", () =>
    withCache(async (cache) => {
      const origin = versioned({ headers: { "cache-control": "no-store" } });
      const serve = cached(origin.handler, { cache, shouldCache: () => true });
      assert.equal(await text(serve(get())), "v1");
      assert.equal(await text(serve(get())), "v2");
    }));

  it("reads Cache-Control directives by name, ignoring case and what a quoted string holds (RFC 9111 §5.2)", () =>
    withCache(async (cache) => {
      const cases: [string, boolean][] = [
        ['public, x-note="no-store, private"', true],
        ["max-age=60, NO-STORE", false],
        ['private="x-user", max-age=60', true],
        ["no-storex", true],
      ];
      for (const [control, stored] of cases) {
        const url = `http://example.test/${encodeURIComponent(control)}`;
        const origin = versioned({ headers: { "cache-control": control } });
        const serve = cached(origin.handler, { cache });
        await text(serve(get(url)));
        assert.equal(await cache.has(url), stored, control);
      }
    }));
});

describe("cached(): invalidation by unsafe methods (RFC 9111 §4.4)", () => {
  it("invalidates the URL's entry after a non-error response to POST, PUT, PATCH, DELETE or an unknown method (RFC 9111 §4.4)", () =>
    withCache(async (cache) => {
      const origin = versioned();
      const serve = cached(origin.handler, { cache });
      let expected = 1;
      assert.equal(await text(serve(get())), "v1");
      for (const method of ["POST", "PUT", "PATCH", "DELETE", "M-SEARCH"]) {
        const body = method === "DELETE" ? null : "x";
        assert.equal(
          await text(serve(new Request(URL_A, { method, body }))),
          "done",
        );
        assert.equal(await cache.has(URL_A), false, method);
        assert.equal(await text(serve(get())), `v${++expected}`);
      }
    }));

  it("keeps the entry after an error response to an unsafe method, and after a safe one (RFC 9111 §4.4)", () =>
    withCache(async (cache) => {
      const origin = versioned({}, (request) =>
        new Response("no", {
          status: request.method === "POST" ? 500 : 200,
        }));
      const serve = cached(origin.handler, { cache });
      await text(serve(get()));
      await text(serve(new Request(URL_A, { method: "POST", body: "x" })));
      await text(serve(new Request(URL_A, { method: "OPTIONS" })));
      assert.equal(await text(serve(get())), "v1");
    }));

  it("invalidates the Location and Content-Location it names on the same origin, never another origin's (RFC 9111 §4.4)", () =>
    withCache(async (cache) => {
      const urls = [
        "http://example.test/items/1",
        "http://example.test/items/2",
        "http://elsewhere.test/items/3",
      ];
      const serve = cached(
        (request) =>
          request.method === "GET"
            ? new Response(new URL(request.url).pathname)
            : new Response("created", {
              status: 201,
              headers: {
                location: "/items/1",
                "content-location": "http://example.test/items/2",
                link: "<http://elsewhere.test/items/3>",
              },
            }),
        { cache },
      );
      for (const url of urls) await text(serve(get(url)));
      await text(serve(
        new Request("http://elsewhere.test/items/", {
          method: "POST",
          body: "x",
        }),
      ));
      assert.deepEqual(
        await Promise.all(urls.map((url) => cache.has(url))),
        [true, true, true],
        "another origin's Location invalidates nothing here",
      );
      await text(serve(
        new Request("http://example.test/items/", {
          method: "POST",
          body: "x",
        }),
      ));
      assert.deepEqual(
        await Promise.all(urls.map((url) => cache.has(url))),
        [false, false, true],
      );
    }));

  it("lets readers of an invalidated entry finish it (RFC 9111 §4.4; rule 10)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(
        (request) =>
          request.method === "GET" ? handler(request) : new Response(null),
        { cache },
      );
      const reading = await serve(get());
      source.push(encode("old "));
      await serve(new Request(URL_A, { method: "DELETE" }));
      source.push(encode("bytes"));
      source.close();
      assert.equal(await reading.text(), "old bytes");
    }));
});

describe("cached(): only-if-cached (RFC 9111 §5.2.1.7)", () => {
  const onlyIfCached = { "cache-control": "only-if-cached" };

  it("answers 504 without running the handler unless a complete entry exists, which it serves (RFC 9111 §5.2.1.7)", () =>
    withCache(async (cache) => {
      const origin = generating();
      const { source } = origin;
      const serve = cached(origin.handler, { cache });
      const cold = await serve(get(URL_A, onlyIfCached));
      assert.equal(cold.status, 504);
      assert.equal(await cold.text(), "");
      assert.equal(await cache.has(URL_A), false, "nothing was started");
      const first = await serve(get());
      source.push(encode("ready"));
      const writing = await serve(get(URL_A, onlyIfCached));
      assert.equal(writing.status, 504, "not complete yet");
      await writing.text();
      source.close();
      assert.equal(await first.text(), "ready");
      const hit = await serve(get(URL_A, onlyIfCached));
      assert.equal(hit.status, 200);
      assert.equal(await hit.text(), "ready");
      assert.equal(origin.calls, 1);
    }));

  it("answers only-if-cached with credentials with 504 when the stored response may not be shared (RFC 9111 §3.5, §5.2.1.7; rule 20)", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response("for anyone"), { cache });
      await text(serve(get()));
      const response = await serve(
        get(URL_A, { ...onlyIfCached, authorization: "Bearer alice" }),
      );
      assert.equal(response.status, 504);
      await response.text();
    }));
});
