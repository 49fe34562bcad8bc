// HTTP freshness in the HTTP wrapper (issue 14, point 6): the freshness
// lifetime of RFC 9111 §4.2 as the entry's lifetime, the stale windows of
// RFC 5861 through the single producer (SEMANTICS rule 1), Vary:
// Accept-Encoding, and revalidation with the handler (RFC 9111 §4.3). Time
// is the cache's injected clock: nothing sleeps.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { type CacheEvent, StreamCache } from "../mod.ts";
import type { StreamCacheOptions } from "../mod.ts";
import { cached } from "../src/http/mod.ts";
import type { CachedOptions, Handler, ServeOutcome } from "../src/http/mod.ts";
import { encode, manualSource } from "./_helpers.ts";
import { get, URL_A } from "./_http_helpers.ts";

/** The test's clock: a fixed start, moved by hand. */
const START = Date.UTC(2026, 0, 1);
const HTTP_START = new Date(START).toUTCString();

/** Runs `test` with a cache on a clock it moves by hand. */
async function withClock(
  options: Omit<StreamCacheOptions, "clock">,
  test: (
    cache: StreamCache,
    time: { advance(seconds: number): void; now(): number },
  ) => Promise<void>,
): Promise<void> {
  let now = START;
  const cache = new StreamCache({ ...options, clock: () => now });
  try {
    await test(cache, {
      advance: (seconds) => void (now += seconds * 1000),
      now: () => now,
    });
  } finally {
    await cache.close();
  }
}

/**
 * A handler that numbers its responses ("v1", "v2", …) and gives each the
 * headers `headers(n, request)` says; `calls` keeps its requests.
 */
function versioned(
  headers: (n: number, request: Request) => Record<string, string> = () => ({}),
) {
  const calls: Request[] = [];
  const handler: Handler = (request) => {
    calls.push(request);
    const n = calls.length;
    return new Response(`v${n}`, { headers: headers(n, request) });
  };
  return { handler, calls };
}

/** A cached() wrapper that records each request's outcome. */
function serving(
  handler: Handler,
  options: Omit<CachedOptions, "onServe">,
) {
  const outcomes: ServeOutcome[] = [];
  const serve = cached(handler, {
    ...options,
    onServe: ({ outcome }) => outcomes.push(outcome),
  });
  return { serve, outcomes };
}

const text = async (response: Promise<Response>) =>
  await (await response).text();

/** Resolves with the next `type` event the cache dispatches. */
function next(cache: StreamCache, type: string): Promise<CacheEvent> {
  return new Promise((resolve) =>
    cache.addEventListener(type, (event) => resolve(event as CacheEvent), {
      once: true,
    })
  );
}

describe("cached(): freshness lifetime (RFC 9111 §4.2)", () => {
  it("s-maxage beats max-age in a shared cache; a private cache uses max-age (RFC 9111 §4.2.1, §5.2.2.10)", () =>
    withClock({}, async (cache, time) => {
      const control = { "cache-control": "max-age=10, s-maxage=100" };
      const shared = versioned(() => control);
      const own = versioned(() => control);
      const sharedServe = cached(shared.handler, { cache });
      const privateServe = cached(own.handler, {
        cache,
        shared: false,
        key: (request) => `private ${request.url}`,
      });
      assert.equal(await text(sharedServe(get())), "v1");
      assert.equal(await text(privateServe(get())), "v1");
      time.advance(50); // past max-age, within s-maxage
      assert.equal(await text(sharedServe(get())), "v1");
      assert.equal(await text(privateServe(get())), "v2");
      time.advance(51); // past s-maxage
      assert.equal(await text(sharedServe(get())), "v2");
      assert.equal(shared.calls.length, 2);
    }));

  it("Expires − Date is the lifetime without max-age; an invalid Expires is already stale (RFC 9111 §4.2.1, §5.3)", () =>
    withClock({}, async (cache, time) => {
      // Also in the wrong case, which is unambiguous.
      const expires = new Date(START + 60_000).toUTCString().toUpperCase();
      const dated = versioned(() => ({ date: HTTP_START, expires }));
      const serve = cached(dated.handler, { cache });
      assert.equal(await text(serve(get())), "v1");
      time.advance(59);
      assert.equal(await text(serve(get())), "v1");
      time.advance(2);
      assert.equal(await text(serve(get())), "v2");

      const invalid = versioned(() => ({ expires: "0" }));
      const serveInvalid = cached(invalid.handler, { cache });
      const url = "http://example.test/invalid-expires";
      assert.equal(await text(serveInvalid(get(url))), "v1");
      assert.equal(await text(serveInvalid(get(url))), "v2");
    }));

  it("subtracts the response's Age, and serves Age as that plus its time in the cache (RFC 9111 §4.2.3, §5.1)", () =>
    withClock({}, async (cache, time) => {
      const aged = versioned((n) =>
        n === 1 ? { "cache-control": "max-age=60", age: "50" } : {}
      );
      const { serve, outcomes } = serving(aged.handler, { cache });
      const first = await serve(get());
      assert.equal(first.headers.get("age"), "50");
      await first.text();
      time.advance(9);
      const hit = await serve(get());
      assert.equal(hit.headers.get("age"), "59");
      assert.equal(await hit.text(), "v1");
      time.advance(2); // 61 s old: stale
      assert.equal(await text(serve(get())), "v2");
      assert.deepEqual(outcomes, ["miss", "hit", "miss"]);

      // A Date 30 s in the past counts as age too (the apparent age).
      const past = new Date(time.now() - 30_000).toUTCString();
      const dated = versioned(() => ({
        date: past,
        "cache-control": "max-age=40",
      }));
      const serveDated = cached(dated.handler, { cache });
      const url = "http://example.test/dated";
      assert.equal(await text(serveDated(get(url))), "v1");
      time.advance(9);
      const old = await serveDated(get(url));
      assert.equal(old.headers.get("age"), "39");
      assert.equal(await old.text(), "v1");
      time.advance(2);
      assert.equal(await text(serveDated(get(url))), "v2");
    }));

  it("a response without freshness information is fresh for defaultTtl, else as long as the cache's own lifetime (RFC 9111 §4.2.2)", () =>
    withClock({ maxAge: 20_000 }, async (cache, time) => {
      const withDefault = versioned();
      const serveDefault = cached(withDefault.handler, {
        cache,
        defaultTtl: 5_000,
      });
      const plain = versioned();
      const servePlain = cached(plain.handler, { cache });
      const url = "http://example.test/plain";
      assert.equal(await text(serveDefault(get())), "v1");
      assert.equal(await text(servePlain(get(url))), "v1");
      time.advance(4);
      assert.equal(await text(serveDefault(get())), "v1");
      time.advance(2); // past defaultTtl, within the cache's maxAge
      assert.equal(await text(serveDefault(get())), "v2");
      assert.equal(await text(servePlain(get(url))), "v1");
      time.advance(15); // past the cache's maxAge
      assert.equal(await text(servePlain(get(url))), "v2");
      // An explicit max-age wins over both.
      const explicit = versioned(() => ({ "cache-control": "max-age=100" }));
      const serveExplicit = cached(explicit.handler, {
        cache,
        defaultTtl: 1_000,
      });
      const long = "http://example.test/explicit";
      assert.equal(await text(serveExplicit(get(long))), "v1");
      time.advance(50);
      assert.equal(await text(serveExplicit(get(long))), "v1");
    }));

  it("refuses a defaultTtl that is not a non-negative number (SEMANTICS rule 18)", async () => {
    const cache = new StreamCache();
    try {
      const handler = () => new Response("x");
      assert.throws(
        () => cached(handler, { cache, defaultTtl: -1 }),
        /^RangeError: Cannot wrap handler: defaultTtl must be a non-negative number of milliseconds: received -1$/,
      );
      assert.throws(
        () => cached(handler, { cache, defaultTtl: "1" as unknown as number }),
        TypeError,
      );
    } finally {
      await cache.close();
    }
  });
});

describe("cached(): targeted fields (RFC 9213)", () => {
  it("a targeted CDN-Cache-Control replaces Cache-Control and Expires for this cache; an invalid one is ignored", () =>
    withClock({}, async (cache, time) => {
      const cases: [string, Record<string, string>, string][] = [
        // [what, response headers, second response after 100 s]
        ["long CDN max-age", {
          "cdn-cache-control": "max-age=3600",
          "cache-control": "max-age=1",
          expires: "0",
        }, "v1"],
        ["CDN no-store", {
          "cdn-cache-control": "no-store",
          "cache-control": "max-age=3600",
        }, "v2"],
        ["invalid structured field", {
          "cdn-cache-control": 'max-age="3600"',
          "cache-control": "max-age=1",
        }, "v2"],
      ];
      for (const [what, headers, second] of cases) {
        const origin = versioned(() => headers);
        const serve = cached(origin.handler, {
          cache,
          targets: ["CDN-Cache-Control"],
        });
        const url = `http://example.test/${encodeURIComponent(what)}`;
        assert.equal(await text(serve(get(url))), "v1");
        time.advance(100);
        assert.equal(await text(serve(get(url))), second, what);
      }
      // Without targets, Cache-Control alone counts.
      const origin = versioned(() => ({
        "cdn-cache-control": "max-age=3600",
        "cache-control": "max-age=1",
      }));
      const serve = cached(origin.handler, { cache });
      assert.equal(await text(serve(get())), "v1");
      time.advance(100);
      assert.equal(await text(serve(get())), "v2");
    }));
});

describe("cached(): serving stale (RFC 5861, RFC 9111 §4.2.4)", () => {
  it("stale-while-revalidate: 100 concurrent stale requests are served at once, with one handler call to refresh (SEMANTICS rule 1)", () =>
    withClock({}, async (cache, time) => {
      const origin = versioned(() => ({
        "cache-control": "max-age=1, stale-while-revalidate=60",
      }));
      const { serve, outcomes } = serving(origin.handler, { cache });
      assert.equal(await text(serve(get())), "v1");
      time.advance(3);
      const committed = next(cache, "commit");
      const responses = await Promise.all(
        Array.from({ length: 100 }, () => serve(get())),
      );
      for (const response of responses) {
        assert.equal(response.headers.get("age"), "3");
        assert.equal(await response.text(), "v1");
      }
      await committed;
      assert.equal(origin.calls.length, 2, "one refresh");
      assert.equal(await text(serve(get())), "v2");
      assert.deepEqual(outcomes, [
        "miss",
        ...Array(100).fill("stale"),
        "hit",
      ]);
    }));

  it("stale-if-error: a refresh that throws or answers 5xx serves the stale response; past the window the error goes through", () =>
    withClock({}, async (cache, time) => {
      let failure: "throw" | "503" | undefined;
      let runs = 0;
      const handler: Handler = () => {
        runs++;
        if (failure === "throw") throw new Error("backend down");
        if (failure === "503") return new Response("busy", { status: 503 });
        return new Response(`v${runs}`, {
          headers: { "cache-control": "max-age=1, stale-if-error=60" },
        });
      };
      const { serve, outcomes } = serving(handler, { cache });
      assert.equal(await text(serve(get())), "v1");
      time.advance(2);
      failure = "throw";
      const stale = await serve(get());
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("age"), "2");
      assert.equal(await stale.text(), "v1");
      failure = "503";
      time.advance(1);
      assert.equal(await text(serve(get())), "v1");
      assert.deepEqual(outcomes, ["miss", "stale", "stale"]);
      time.advance(60); // past stale-if-error
      const gone = await serve(get());
      assert.equal(gone.status, 503);
      assert.equal(await gone.text(), "busy");
      failure = "throw";
      await assert.rejects(serve(get()), /backend down/);
    }));

  it("must-revalidate, proxy-revalidate and s-maxage (shared) forbid serving stale, whatever the directives and the cache's defaults say (RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10)", () =>
    withClock(
      { staleWhileRevalidate: 60_000, staleIfError: 60_000 },
      async (cache, time) => {
        const windows = "stale-while-revalidate=60, stale-if-error=60";
        for (
          const control of [
            `max-age=1, must-revalidate, ${windows}`,
            `max-age=1, proxy-revalidate, ${windows}`,
            `s-maxage=1, ${windows}`,
          ]
        ) {
          const url = `http://example.test/${encodeURIComponent(control)}`;
          let down = false;
          let runs = 0;
          const handler: Handler = () => {
            runs++;
            if (down) throw new Error("backend down");
            return new Response(`v${runs}`, {
              headers: { "cache-control": control },
            });
          };
          const serve = cached(handler, { cache });
          assert.equal(await text(serve(get(url))), "v1");
          time.advance(2);
          assert.equal(await text(serve(get(url))), "v2", control);
          time.advance(2);
          down = true;
          await assert.rejects(serve(get(url)), /backend down/, control);
        }
        // Without them, the cache's own windows apply.
        const plain = versioned(() => ({ "cache-control": "max-age=1" }));
        const { serve, outcomes } = serving(plain.handler, { cache });
        const url = "http://example.test/plain";
        assert.equal(await text(serve(get(url))), "v1");
        time.advance(2);
        assert.equal(await text(serve(get(url))), "v1");
        assert.deepEqual(outcomes, ["miss", "stale"]);
      },
    ));
});

describe("cached(): Vary (RFC 9111 §4.1)", () => {
  it("Vary: Accept-Encoding: two variants requested concurrently are produced once each, keyed by the normalised header", () =>
    withClock({}, async (cache) => {
      const sources = new Map<string, ReturnType<typeof manualSource>>();
      const calls: string[] = [];
      let bothCalled!: () => void;
      const called = new Promise<void>((resolve) => bothCalled = resolve);
      const handler: Handler = (request) => {
        const encoding = request.headers.get("accept-encoding") ?? "";
        calls.push(encoding);
        const source = manualSource();
        sources.set(encoding, source);
        if (sources.size === 2) bothCalled();
        return new Response(source.stream, {
          headers: {
            vary: "Accept-Encoding",
            "content-type": `text/plain; for=${encoding}`,
          },
        });
      };
      const { serve, outcomes } = serving(handler, { cache });
      const gzip = ["gzip, br", "br, GZIP", "gzip;q=1, br;q=0.5, zstd;q=0"];
      const requests = Array.from(
        { length: 20 },
        (_, i) =>
          i % 2 === 0
            ? get(URL_A, { "accept-encoding": gzip[(i / 2) % 3]! })
            : get(URL_A, i % 4 === 1 ? {} : { "accept-encoding": "identity" }),
      );
      const pending = requests.map((request) => serve(request));
      // Each variant's handler runs once, while the others wait or join.
      await called;
      for (const [encoding, source] of sources) {
        source.push(encode(`body for ${encoding || "none"}`));
        source.close();
      }
      const responses = await Promise.all(pending);
      assert.equal(calls.length, 2, `handler calls: ${calls.join(" | ")}`);
      for (const [i, response] of responses.entries()) {
        const type = response.headers.get("content-type")!;
        const body = await response.text();
        const forGzip = i % 2 === 0;
        assert.match(type, forGzip ? /for=(gzip|br)/ : /for=(identity)?$/);
        assert.equal(body, `body for ${/for=(.*)$/.exec(type)![1] || "none"}`);
        assert.equal(response.headers.get("vary"), "Accept-Encoding");
      }
      assert.equal(outcomes.filter((o) => o === "miss").length, 2);
      // Later requests are hits on their own variant.
      const later = await serve(get(URL_A, { "accept-encoding": "br,gzip" }));
      assert.match(later.headers.get("content-type")!, /for=(gzip|br)/);
      await later.text();
      assert.equal(outcomes.at(-1), "hit");
      assert.equal(calls.length, 2);
    }));

  it("a response that varies by another field, or by *, is not stored (SEMANTICS rule 20)", () =>
    withClock({}, async (cache) => {
      for (const vary of ["User-Agent", "accept-encoding, cookie", "*"]) {
        const origin = versioned(() => ({
          vary,
          "cache-control": "max-age=60",
        }));
        const url = `http://example.test/${encodeURIComponent(vary)}`;
        const serve = cached(origin.handler, { cache });
        assert.equal(await text(serve(get(url))), "v1");
        assert.equal(await text(serve(get(url))), "v2", vary);
        assert.equal(await cache.has(url), false);
      }
    }));
});

describe("cached(): revalidation (RFC 9111 §4.3)", () => {
  it("a 304 refreshes the stored response's lifetime and headers and serves its body, without a new one (RFC 9111 §4.3.4, §3.2)", () =>
    withClock({ keepStale: 86_400_000 }, async (cache, time) => {
      const calls: Request[] = [];
      const handler: Handler = (request) => {
        calls.push(request);
        if (request.headers.get("if-none-match") === '"one"') {
          return new Response(null, {
            status: 304,
            headers: {
              etag: '"one"',
              "cache-control": "max-age=100",
              "x-version": "2",
            },
          });
        }
        return new Response("the body", {
          headers: {
            etag: '"one"',
            "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT",
            "cache-control": "max-age=10",
            "x-version": "1",
            "content-type": "text/plain",
          },
        });
      };
      const { serve, outcomes } = serving(handler, { cache });
      assert.equal(await text(serve(get())), "the body");
      time.advance(11); // stale, no stale window: kept for revalidation
      const revalidated = await serve(get());
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.headers.get("x-version"), "2");
      assert.equal(revalidated.headers.get("cache-control"), "max-age=100");
      assert.equal(revalidated.headers.get("content-type"), "text/plain");
      assert.equal(revalidated.headers.get("etag"), '"one"');
      assert.equal(await revalidated.text(), "the body");
      assert.equal(calls.length, 2);
      assert.equal(calls[1]!.headers.get("if-none-match"), '"one"');
      assert.equal(
        calls[1]!.headers.get("if-modified-since"),
        "Thu, 01 Jan 2026 00:00:00 GMT",
      );
      time.advance(50); // within the new max-age
      const hit = await serve(get());
      assert.equal(hit.headers.get("x-version"), "2");
      assert.equal(hit.headers.get("age"), "50");
      assert.equal(await hit.text(), "the body");
      assert.equal(calls.length, 2);
      assert.deepEqual(outcomes, ["miss", "revalidated", "hit"]);
    }));

  it("concurrent requests for an expired entry wait for one conditional request (SEMANTICS rule 1)", () =>
    withClock({ keepStale: 86_400_000 }, async (cache, time) => {
      let answer!: (response: Response) => void;
      let revalidating!: () => void;
      const asked = new Promise<void>((resolve) => revalidating = resolve);
      const calls: Request[] = [];
      const handler: Handler = (request) => {
        calls.push(request);
        if (calls.length === 1) {
          return new Response("stored", {
            headers: {
              "last-modified": HTTP_START,
              "cache-control": "max-age=1",
            },
          });
        }
        revalidating();
        return new Promise<Response>((resolve) => answer = resolve);
      };
      const { serve, outcomes } = serving(handler, { cache });
      assert.equal(await text(serve(get())), "stored");
      time.advance(2);
      const pending = Array.from({ length: 10 }, () => serve(get()));
      await asked;
      assert.equal(calls[1]!.headers.get("if-modified-since"), HTTP_START);
      answer(
        new Response(null, {
          status: 304,
          headers: { "cache-control": "max-age=60" },
        }),
      );
      for (const response of await Promise.all(pending)) {
        assert.equal(await response.text(), "stored");
      }
      assert.equal(calls.length, 2);
      assert.deepEqual(
        outcomes.slice(1).sort(),
        [
          ...Array(9).fill("join"),
          "revalidated",
        ].sort(),
      );
    }));

  it("a 200 to the conditional request replaces the entry; readers of the old one finish it (RFC 9111 §4.3.3, SEMANTICS rule 10)", () =>
    withClock({ keepStale: 86_400_000 }, async (cache, time) => {
      const calls: Request[] = [];
      const handler: Handler = (request) => {
        calls.push(request);
        const n = calls.length;
        return new Response(`version ${n} `.repeat(1000), {
          headers: { etag: `"${n}"`, "cache-control": "max-age=10" },
        });
      };
      const { serve, outcomes } = serving(handler, { cache });
      await text(serve(get()));
      const old = await serve(get()); // a hit, read later
      time.advance(11);
      const replaced = await serve(get());
      assert.equal(calls[1]!.headers.get("if-none-match"), '"1"');
      assert.equal(replaced.headers.get("etag"), '"2"');
      assert.equal(await replaced.text(), "version 2 ".repeat(1000));
      assert.equal(await old.text(), "version 1 ".repeat(1000));
      assert.equal(await text(serve(get())), "version 2 ".repeat(1000));
      assert.deepEqual(outcomes, ["miss", "hit", "miss", "hit"]);
    }));

  it("a stale-while-revalidate refresh is conditional too: a 304 freshens the entry in the background (RFC 5861 §3, RFC 9111 §4.3.4)", () =>
    withClock({}, async (cache, time) => {
      const calls: Request[] = [];
      const handler: Handler = (request) => {
        calls.push(request);
        const headers = {
          etag: '"same"',
          "cache-control": "max-age=10, stale-while-revalidate=60",
        };
        return request.headers.get("if-none-match") === '"same"'
          ? new Response(null, { status: 304, headers })
          : new Response("stored body", { headers });
      };
      const { serve, outcomes } = serving(handler, { cache });
      await text(serve(get()));
      time.advance(11);
      const committed = next(cache, "commit");
      assert.equal(await text(serve(get())), "stored body");
      await committed;
      assert.equal(calls[1]!.headers.get("if-none-match"), '"same"');
      time.advance(9); // fresh again: counted from the 304
      const hit = await serve(get());
      assert.equal(hit.headers.get("age"), "9");
      assert.equal(await hit.text(), "stored body");
      assert.deepEqual(outcomes, ["miss", "stale", "hit"]);
      assert.equal(calls.length, 2);
    }));

  it("a 304 for another ETag gets an unconditional request; a refresh answered with a response that may not be stored deletes the entry (RFC 9111 §4.3.3, §4.3.4)", () =>
    withClock({ keepStale: 86_400_000 }, async (cache, time) => {
      const calls: Request[] = [];
      let mode: "other 304" | "404" | undefined;
      const handler: Handler = (request) => {
        calls.push(request);
        const conditional = request.headers.has("if-none-match");
        if (mode === "other 304" && conditional) {
          return new Response(null, {
            status: 304,
            headers: { etag: '"other"' },
          });
        }
        if (mode === "404") return new Response("gone", { status: 404 });
        return new Response(`v${calls.length}`, {
          headers: { etag: `"v${calls.length}"`, "cache-control": "max-age=1" },
        });
      };
      const { serve, outcomes } = serving(handler, { cache });
      assert.equal(await text(serve(get())), "v1");
      time.advance(2);
      mode = "other 304";
      assert.equal(await text(serve(get())), "v3");
      assert.equal(calls[1]!.headers.get("if-none-match"), '"v1"');
      assert.equal(calls[2]!.headers.get("if-none-match"), null);
      time.advance(2);
      mode = "404";
      const gone = await serve(get());
      assert.equal(gone.status, 404);
      assert.equal(await gone.text(), "gone");
      assert.equal(await cache.has(URL_A), false);
      assert.deepEqual(outcomes, ["miss", "miss", "uncacheable"]);
    }));

  it("without keepStale an expired entry is gone: the next request is a plain miss", () =>
    withClock({}, async (cache, time) => {
      const origin = versioned(() => ({
        etag: '"x"',
        "cache-control": "max-age=1",
      }));
      const serve = cached(origin.handler, { cache });
      await text(serve(get()));
      time.advance(2);
      assert.equal(await text(serve(get())), "v2");
      assert.equal(origin.calls[1]!.headers.get("if-none-match"), null);
    }));
});
