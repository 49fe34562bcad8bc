// A shared response never crosses users, and the handler makes the whole
// representation (SEMANTICS rule 20; RFC 9111 §3.5; issue 13 points 1 and 2).

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { cached } from "../src/http/mod.ts";
import type { Handler } from "../src/http/mod.ts";
import { encode, isSettled, manualSource, withCache } from "./_helpers.ts";
import { counting, get, head, URL_A } from "./_http_helpers.ts";

/** A handler that answers "for <user>" from the Authorization or Cookie it gets. */
function personal(cacheControl?: string) {
  const calls: Request[] = [];
  const handler: Handler = (request) => {
    calls.push(request);
    const user = request.headers.get("authorization") ??
      request.headers.get("cookie") ?? "anyone";
    return new Response(
      `for ${user}`,
      cacheControl ? { headers: { "cache-control": cacheControl } } : {},
    );
  };
  return { handler, calls };
}

const text = async (response: Promise<Response>) =>
  await (await response).text();
const alice = { authorization: "Bearer alice" };
const bob = { authorization: "Bearer bob" };

describe("cached(): responses never cross users (rule 20, RFC 9111 §3.5)", () => {
  it("neither stores a response to a request with Authorization nor serves it to another user or to none (RFC 9111 §3.5, rule 20)", () =>
    withCache(async (cache) => {
      const { handler, calls } = personal("max-age=3600");
      const serve = cached(handler, { cache });
      assert.equal(await text(serve(get(URL_A, alice))), "for Bearer alice");
      assert.equal(await cache.has(URL_A), false, "not stored");
      assert.equal(await text(serve(get(URL_A, bob))), "for Bearer bob");
      assert.equal(await text(serve(get())), "for anyone");
      assert.equal(
        await text(serve(get())),
        "for anyone",
        "this one is stored",
      );
      assert.equal(await text(serve(get(URL_A, alice))), "for Bearer alice");
      assert.equal(calls.length, 4);
    }));

  it("does not serve an anonymous stored response to a request with credentials unless it says it may be shared (RFC 9111 §3.5, rule 20)", () =>
    withCache(async (cache) => {
      const { handler, calls } = personal();
      const serve = cached(handler, { cache });
      assert.equal(await text(serve(get())), "for anyone");
      assert.equal(await text(serve(get(URL_A, alice))), "for Bearer alice");
      await (await serve(head(URL_A, alice))).body?.cancel();
      assert.equal(calls.length, 3);
      assert.equal(
        calls[2]?.method,
        "HEAD",
        "a bypass gets the request itself",
      );
    }));

  it("stores, and serves to everyone, a response to a request with Authorization marked public, s-maxage or must-revalidate (RFC 9111 §3.5)", () =>
    withCache(async (cache) => {
      for (
        const control of [
          "public",
          "s-maxage=60",
          "max-age=60, must-revalidate",
        ]
      ) {
        const url = `http://example.test/${encodeURIComponent(control)}`;
        const { handler, calls } = personal(control);
        const serve = cached(handler, { cache });
        assert.equal(await text(serve(get(url, alice))), "for Bearer alice");
        assert.equal(await text(serve(get(url, bob))), "for Bearer alice");
        assert.equal(await text(serve(get(url))), "for Bearer alice");
        assert.equal(calls.length, 1, control);
      }
    }));

  it("gives a request with credentials that joins another user's generation its own response (rule 20; RFC 9111 §3.5)", () =>
    withCache(async (cache) => {
      const source = manualSource();
      const calls: Request[] = [];
      const serve = cached((request) => {
        calls.push(request);
        return calls.length === 1
          ? new Response(source.stream)
          : new Response("for Bearer alice");
      }, { cache });
      const anonymous = await serve(get());
      const joining = serve(get(URL_A, alice));
      assert.equal(await text(joining), "for Bearer alice");
      source.push(encode("for anyone"));
      source.close();
      assert.equal(await anonymous.text(), "for anyone");
      assert.equal(calls.length, 2);
    }));

  it("makes waiting anonymous requests ask for their own response when a request with credentials produced one that may not be shared (rule 20; RFC 9111 §3.5)", () =>
    withCache(async (cache) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => release = resolve);
      const calls: Request[] = [];
      const serve = cached(async (request) => {
        calls.push(request);
        await gate;
        const user = request.headers.get("authorization") ?? "anyone";
        return new Response(`for ${user}`);
      }, { cache });
      const first = serve(get(URL_A, alice));
      const second = serve(get());
      await isSettled(second);
      release();
      assert.equal(await text(first), "for Bearer alice");
      assert.equal(await text(second), "for anyone");
      assert.equal(calls.length, 2);
    }));

  it("treats Cookie as a credential: a request with a cookie gets its own response unless the stored one is public (rule 20; RFC 9111 §3.5)", () =>
    withCache(async (cache) => {
      const { handler, calls } = personal();
      const serve = cached(handler, { cache });
      const session = { cookie: "session=alice" };
      assert.equal(await text(serve(get(URL_A, session))), "for session=alice");
      assert.equal(await text(serve(get())), "for anyone");
      assert.equal(await text(serve(get(URL_A, session))), "for session=alice");
      assert.equal(calls.length, 3);
      const shared = personal("public");
      const url = "http://example.test/public";
      const servePublic = cached(shared.handler, { cache });
      assert.equal(await text(servePublic(get(url))), "for anyone");
      assert.equal(await text(servePublic(get(url, session))), "for anyone");
      assert.equal(shared.calls.length, 1);
    }));

  it("never stores a private response in a shared cache, whatever shouldCache says; shared: false lifts both rules (RFC 9111 §3.5, §5.2.2.7)", () =>
    withCache(async (cache) => {
      const { handler, calls } = personal("private");
      const serve = cached(handler, { cache, shouldCache: () => true });
      await text(serve(get()));
      await text(serve(get()));
      assert.equal(calls.length, 2);
      const own = personal("private");
      const perUser = cached(own.handler, {
        cache,
        shared: false,
        shouldCache: () => true,
        key: (request) =>
          `${request.url} ${request.headers.get("authorization")}`,
      });
      assert.equal(await text(perUser(get(URL_A, alice))), "for Bearer alice");
      assert.equal(await text(perUser(get(URL_A, alice))), "for Bearer alice");
      assert.equal(await text(perUser(get(URL_A, bob))), "for Bearer bob");
      assert.equal(own.calls.length, 2);
    }));
});

describe("cached(): the handler makes the whole representation (rule 20)", () => {
  it("gives the handler a GET without the client's Range and conditional headers, and keeps the others (rule 20, RFC 9110 §13.2.1, §14.2)", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "0123456789");
      const serve = cached(handler, { cache });
      const response = await serve(
        head(URL_A, {
          range: "bytes=2-3",
          "if-range": '"x"',
          "if-match": "*",
          "if-none-match": '"y"',
          "if-modified-since": new Date(0).toUTCString(),
          "if-unmodified-since": new Date().toUTCString(),
          accept: "text/csv",
          "x-trace": "7",
        }),
      );
      await response.body?.cancel();
      const [request] = calls;
      assert.equal(request?.method, "GET");
      assert.deepEqual([...request!.headers.keys()].sort(), [
        "accept",
        "x-trace",
      ]);
      assert.equal(await (await serve(get())).text(), "0123456789");
      assert.equal(calls.length, 1, "the whole representation was stored");
    }));

  it("stores a whole entry, in one generation, when a handler that honours Range is asked for ranges first (rule 20, RFC 9110 §14.2)", () =>
    withCache(async (cache) => {
      const body = "0123456789";
      const calls: Request[] = [];
      const serve = cached((request) => {
        calls.push(request);
        const range = /bytes=(\d+)-(\d+)/.exec(
          request.headers.get("range") ?? "",
        );
        if (!range) return new Response(body);
        const [from, to] = [Number(range[1]), Number(range[2])];
        return new Response(body.slice(from, to + 1), {
          status: 206,
          headers: { "content-range": `bytes ${from}-${to}/${body.length}` },
        });
      }, { cache });
      const segments = await Promise.all(
        ["bytes=0-2", "bytes=3-5", "bytes=6-9"].map((range) =>
          serve(get(URL_A, { range }))
        ),
      );
      const parts = await Promise.all(segments.map((r) => r.text()));
      assert.deepEqual(segments.map((r) => r.status), [206, 206, 206]);
      assert.equal(parts.join(""), body);
      assert.equal(calls.length, 1, "one generation for every segment");
      assert.equal(await (await serve(get())).text(), body);
    }));

  it("never stores a 206 or 304 a handler returns anyway, whatever shouldCache says (RFC 9111 §3.3, §4.3.4)", () =>
    withCache(async (cache) => {
      for (const status of [206, 304]) {
        const url = `http://example.test/${status}`;
        let runs = 0;
        const serve = cached(
          () => (runs++, new Response(status === 304 ? null : "x", { status })),
          { cache, shouldCache: () => true },
        );
        assert.equal((await serve(get(url))).status, status);
        assert.equal((await serve(get(url))).status, status);
        assert.equal(runs, 2);
        assert.equal(await cache.has(url), false);
      }
    }));
});
