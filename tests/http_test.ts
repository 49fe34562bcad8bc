// The HTTP wrapper, driven with Request objects on every runtime: what is
// stored, what passes through, failures, unusable bodies and disconnects.
// Range, conditional requests, HEAD, sharing and Cache-Control have files
// of their own (tests/http_*_test.ts).

import { describe, it } from "./_testing.ts";
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
import { counting, generating, get, URL_A } from "./_http_helpers.ts";

describe("cached(): storing responses", () => {
  it("stores status, status text and end-to-end headers, without hop-by-hop ones or those Connection names (RFC 9111 §3.1, RFC 9110 §7.6.1)", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "id,total\n1,2\n", {
        statusText: "Fine",
        headers: {
          "content-type": "text/csv",
          "x-report": "q3",
          connection: "close, x-hop",
          "keep-alive": "timeout=5",
          "x-hop": "1",
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
      for (const name of ["connection", "keep-alive", "x-hop"]) {
        assert.equal(second.headers.get(name), null, `${name} is not stored`);
      }
      assert.equal(second.headers.get("content-length"), "13");
      assert.equal(second.headers.get("accept-ranges"), "bytes");
      assert.match(second.headers.get("etag") ?? "", /^"[^"]+"$/);
      assert.equal(await second.text(), "id,total\n1,2\n");
      assert.equal(calls.length, 1);
    }));

  it("runs the handler once for 20 concurrent requests, which all get the same bytes (rule 1; RFC 9111 §4)", () =>
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

  it("passes through untouched, and never stores, what is not cacheable (RFC 9111 §3, §5.2.2)", () =>
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
        [
          "no-cache",
          { headers: { "cache-control": "max-age=60, No-Cache" } },
          "/no-cache",
        ],
        ["cookie", { headers: { "set-cookie": "a=b" } }, "/cookie"],
        // Vary: Accept-Encoding alone is cached per variant (tests/http_freshness_test.ts).
        ["vary", { headers: { vary: "accept-encoding, user-agent" } }, "/vary"],
        ["vary *", { headers: { vary: "*" } }, "/vary-star"],
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

  it("passes other methods straight to the handler (RFC 9111 §2, §4.4)", () =>
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

  it("lets key() bypass the cache and shouldCache() widen it (RFC 9111 §2, §3)", () =>
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

describe("cached(): bodies the handler makes", () => {
  it("fails clearly when the handler's body was already read or is locked, and the next request for the URL is served (rule 18; RFC 9111 §3.3)", () =>
    withCache(async (cache) => {
      let runs = 0;
      const serve = cached(async () => {
        runs++;
        if (runs === 1) {
          const used = new Response("used");
          await used.text();
          return used;
        }
        if (runs === 2) {
          const locked = new Response("locked");
          locked.body!.getReader();
          return locked;
        }
        return new Response("fine");
      }, { cache });
      await assert.rejects(serve(get()), {
        name: "TypeError",
        message: /^Cannot cache response: its body is already read or locked/,
      });
      await assert.rejects(serve(get()), {
        name: "TypeError",
        message: /^Cannot cache response: its body is already read or locked/,
      });
      assert.equal(await cache.has(URL_A), false);
      assert.equal(await (await serve(get())).text(), "fine");
      assert.equal(runs, 3);
    }));

  it("fails, and does not cache, a body that ends short of its Content-Length (rule 5; RFC 9110 §8.6, RFC 9111 §3.3)", () =>
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
  it("rejects every waiting request when the handler throws, caches nothing, and runs afresh next time (rule 5; RFC 9111 §3)", () =>
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

  it("breaks every client's body when the handler's body errors, and caches nothing (rule 5; RFC 9111 §3.3)", () =>
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

  it("lets a client disconnect without stopping the handler; the entry is cached (rule 6; RFC 9111 §3.3)", () =>
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

  it("gives the handler a signal of its own, not the first client's (rule 20)", () =>
    withCache(async (cache) => {
      const { handler, calls } = counting(() => "x");
      const serve = cached(handler, { cache });
      const client = new AbortController();
      await (await serve(new Request(URL_A, { signal: client.signal }))).text();
      client.abort();
      assert.equal(calls[0]?.signal.aborted, false);
    }));

  it("with abortWhenUnread, stops the handler's body once every client has gone, and stores nothing (rule 5; RFC 9111 §3.3)", () =>
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

  it("with abortWhenUnread, counts a Range client waiting for its first byte and one waiting for the total (RFC 9110 §14.4; issue 13.9)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache, abortWhenUnread: true });
      const reader = await serve(get());
      source.push(encode("0123"));
      const ranged = serve(get(URL_A, { range: "bytes=6-7" }));
      const suffix = serve(get(URL_A, { range: "bytes=-2" }));
      await isSettled(ranged);
      const entry = (await cache.get(URL_A))!;
      await reader.body!.cancel();
      assert.equal(entry.state, "writing", "two clients still wait");
      source.push(encode("4567"));
      assert.equal(await (await ranged).text(), "67");
      assert.equal(entry.state, "writing", "one client still waits");
      source.push(encode("89"));
      source.close();
      assert.equal(await (await suffix).text(), "89");
      assert.equal(await entry.done, 10);
    }));

  it("with abortWhenUnread, stops the generation when the last client waiting for a range disconnects (RFC 9110 §14.4; issue 13.9)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache, abortWhenUnread: true });
      const reader = await serve(get());
      source.push(encode("01"));
      const client = new AbortController();
      const ranged = serve(
        new Request(URL_A, {
          headers: { range: "bytes=5-9" },
          signal: client.signal,
        }),
      );
      await isSettled(ranged);
      const entry = (await cache.get(URL_A))!;
      await reader.body!.cancel();
      assert.equal(entry.state, "writing", "the range client still waits");
      client.abort();
      await assert.rejects(ranged, { name: "AbortError" });
      await assert.rejects(entry.done, { name: "AbortError" });
      assert.equal(await cache.has(URL_A), false);
    }));

  it("reports each request's outcome: miss, join, hit, uncacheable, bypass (RFC 9211 §2.1, §2.2)", () =>
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

  it("refuses, clearly, to serve an entry that other code put under the same key (rule 18; RFC 9111 §3)", () =>
    withCache(async (cache) => {
      await (await cache.getOrCreate(URL_A, () => encode("raw bytes"))).done;
      const serve = cached(() => new Response("never"), { cache });
      await assert.rejects(serve(get()), {
        name: "TypeError",
        message:
          `Cannot serve entry "${URL_A}": its metadata was not written by cached()`,
      });
    }));

  it("serves an entry stored by an earlier version, whose metadata has no creation time, without an Age (RFC 9111 §4.2.3, §5.1)", () =>
    withCache(async (cache) => {
      const meta = { status: 200, statusText: "", headers: [["x-old", "1"]] };
      await (await cache.getOrCreate(URL_A, () => ({
        body: encode("stored before"),
        meta,
      }))).done;
      const serve = cached(() => new Response("never"), { cache });
      const response = await serve(get(URL_A, { range: "bytes=7-" }));
      assert.equal(response.status, 206);
      assert.equal(response.headers.get("x-old"), "1");
      assert.equal(response.headers.get("age"), null, "its age is unknown");
      assert.match(response.headers.get("etag") ?? "", /^"/);
      assert.equal(await response.text(), "before");
    }));

  it("rejects a wrapper without a cache or a handler, clearly (rule 18)", () => {
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
