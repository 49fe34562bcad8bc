// Validators and conditional requests on the HTTP wrapper (RFC 9110, sections
// 8.8 and 13; issue 13 point 5), and the Date and Age each response gets
// (RFC 9110 §6.6.1, RFC 9111 §4.2.3 and §5.1).

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import type { StreamCache } from "../mod.ts";
import { cached } from "../src/http/mod.ts";
import { encode, withCache } from "./_helpers.ts";
import { generating, get, head, summary, URL_A } from "./_http_helpers.ts";

const BODY = "0123456789";
const HOUR_AGO = new Date(Date.now() - 3_600_000).toUTCString();
const DAY_AGO = new Date(Date.now() - 86_400_000).toUTCString();
const NOW_ISH = () => new Date().toUTCString();

/** A wrapper whose entry (BODY, with `headers`) is complete; and its ETag. */
async function stored(
  cache: StreamCache,
  headers: Record<string, string> = {},
  options: { shouldCache?: (response: Response) => boolean; status?: number } =
    {},
) {
  const serve = cached(
    () => new Response(BODY, { status: options.status ?? 200, headers }),
    {
      cache,
      ...(options.shouldCache ? { shouldCache: options.shouldCache } : {}),
    },
  );
  const first = await serve(get());
  await first.text();
  return { serve, etag: first.headers.get("etag") };
}

/** The status and body of a GET with `headers`. */
async function status(
  serve: (request: Request) => Promise<Response>,
  headers: Record<string, string>,
) {
  const response = await serve(get(URL_A, headers));
  return `${response.status} ${await response.text()}`;
}

describe("cached(): validators (RFC 9110 §8.8)", () => {
  it("gives a strong ETag from the first byte, the same for every client of one generation and new for the next (RFC 9110 §8.8.3)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const miss = await serve(get());
      const join = await serve(get());
      const etag = miss.headers.get("etag");
      assert.match(etag ?? "", /^"[!#-~]+"$/, "strong and valid");
      assert.equal(join.headers.get("etag"), etag);
      source.push(encode(BODY));
      source.close();
      await miss.text();
      await join.text();
      const hit = await serve(get());
      assert.equal(hit.headers.get("etag"), etag);
      await hit.text();
      await cache.delete(URL_A);
      const { handler: second, source: again } = generating();
      const next = await cached(second, { cache })(get());
      assert.notEqual(next.headers.get("etag"), etag);
      again.close();
      await next.text();
    }));

  it("keeps the handler's own ETag and Last-Modified (RFC 9111 §3.1, RFC 9110 §8.8.2, §8.8.3)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache, {
        etag: 'W/"v1"',
        "last-modified": DAY_AGO,
      });
      const hit = await serve(get());
      assert.equal(hit.headers.get("etag"), 'W/"v1"');
      assert.equal(hit.headers.get("last-modified"), DAY_AGO);
      await hit.text();
    }));

  it("gives Last-Modified the handler's Date when it sends no Last-Modified (RFC 9111 §4.3.2)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache, { date: HOUR_AGO });
      const hit = await serve(get());
      assert.equal(hit.headers.get("last-modified"), HOUR_AGO);
      await hit.text();
    }));

  it("gives Last-Modified the creation time when the handler sends neither it nor a Date (RFC 9110 §8.8.2)", () =>
    withCache(async (cache) => {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const { serve } = await stored(cache);
      const after = Date.now();
      const hit = await serve(get());
      const lastModified = Date.parse(hit.headers.get("last-modified") ?? "");
      assert.ok(before <= lastModified && lastModified <= after);
      await hit.text();
    }));
});

describe("cached(): preconditions (RFC 9110 §13)", () => {
  it("answers a matching If-None-Match with 304 and the fields of §15.4.5, by weak comparison, in lists and for * (RFC 9110 §13.1.2, §15.4.5)", () =>
    withCache(async (cache) => {
      const { serve, etag } = await stored(cache, {
        "cache-control": "max-age=60",
        "content-type": "text/plain",
        expires: DAY_AGO,
        "content-location": "/a.csv",
      });
      const notModified = await serve(
        get(URL_A, { "if-none-match": `"other", W/${etag}` }),
      );
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("etag"), etag);
      assert.equal(notModified.headers.get("cache-control"), "max-age=60");
      assert.equal(notModified.headers.get("expires"), DAY_AGO);
      assert.equal(notModified.headers.get("content-location"), "/a.csv");
      assert.notEqual(notModified.headers.get("date"), null);
      assert.equal(notModified.headers.get("content-type"), null);
      assert.equal(await notModified.text(), "");
      assert.equal(await status(serve, { "if-none-match": "*" }), "304 ");
      assert.equal(
        await status(serve, { "if-none-match": '"stale", "older"' }),
        `200 ${BODY}`,
      );
    }));

  it("answers If-None-Match: * with 304 on an entry still generated, which is a current representation (RFC 9110 §13.1.2)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const first = await serve(get());
      const star = await serve(get(URL_A, { "if-none-match": "*" }));
      assert.equal(star.status, 304);
      const matching = await serve(
        get(URL_A, { "if-none-match": first.headers.get("etag")! }),
      );
      assert.equal(matching.status, 304);
      source.push(encode(BODY));
      source.close();
      assert.equal(await first.text(), BODY);
    }));

  it("answers If-Modified-Since with 304 unless modified since, and ignores it beside If-None-Match or with an invalid date (RFC 9110 §13.1.3, §13.2.2)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache, { "last-modified": HOUR_AGO });
      assert.equal(
        await status(serve, { "if-modified-since": HOUR_AGO }),
        "304 ",
      );
      assert.equal(
        await status(serve, { "if-modified-since": NOW_ISH() }),
        "304 ",
      );
      assert.equal(
        await status(serve, { "if-modified-since": DAY_AGO }),
        `200 ${BODY}`,
      );
      // The obsolete RFC 850 and asctime forms are dates too (§5.6.7).
      const then = new Date(Date.now() + 60_000);
      const rfc850 = then.toUTCString().replace(
        /^(\w+), (\d\d) (\w+) \d\d(\d\d)/,
        (_, day: string, dd: string, mon: string, yy: string) =>
          `${
            {
              Mon: "Monday",
              Tue: "Tuesday",
              Wed: "Wednesday",
              Thu: "Thursday",
              Fri: "Friday",
              Sat: "Saturday",
              Sun: "Sunday",
            }[day]
          }, ${dd}-${mon}-${yy}`,
      );
      assert.equal(
        await status(serve, { "if-modified-since": rfc850 }),
        "304 ",
      );
      assert.equal(
        await status(serve, {
          "if-modified-since": "yesterday-ish",
        }),
        `200 ${BODY}`,
      );
      assert.equal(
        await status(serve, {
          "if-modified-since": NOW_ISH(),
          "if-none-match": '"another"',
        }),
        `200 ${BODY}`,
        "If-None-Match takes precedence",
      );
    }));

  it("answers If-Match with 412 unless an ETag matches strongly or it is * (RFC 9110 §13.1.1)", () =>
    withCache(async (cache) => {
      const { serve, etag } = await stored(cache);
      assert.equal(await status(serve, { "if-match": etag! }), `200 ${BODY}`);
      assert.equal(await status(serve, { "if-match": "*" }), `200 ${BODY}`);
      assert.equal(
        await status(serve, { "if-match": '"x", ' + etag }),
        `200 ${BODY}`,
      );
      const failed = await serve(get(URL_A, { "if-match": '"x"' }));
      assert.equal(failed.status, 412);
      assert.equal(failed.headers.get("etag"), etag);
      assert.equal(await failed.text(), "");
      assert.equal(await status(serve, { "if-match": `W/${etag}` }), "412 ");
    }));

  it("answers If-Match against a weak ETag with 412: weak tags never match strongly (RFC 9110 §8.8.3.2, §13.1.1)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache, { etag: 'W/"v1"' });
      assert.equal(await status(serve, { "if-match": 'W/"v1"' }), "412 ");
      assert.equal(await status(serve, { "if-none-match": '"v1"' }), "304 ");
    }));

  it("answers If-Unmodified-Since with 412 when modified since, and ignores it beside If-Match (RFC 9110 §13.1.4, §13.2.2)", () =>
    withCache(async (cache) => {
      const { serve, etag } = await stored(cache, {
        "last-modified": HOUR_AGO,
      });
      assert.equal(
        await status(serve, { "if-unmodified-since": DAY_AGO }),
        "412 ",
      );
      assert.equal(
        await status(serve, { "if-unmodified-since": HOUR_AGO }),
        `200 ${BODY}`,
      );
      assert.equal(
        await status(serve, { "if-unmodified-since": "not a date" }),
        `200 ${BODY}`,
      );
      assert.equal(
        await status(serve, {
          "if-unmodified-since": DAY_AGO,
          "if-match": etag!,
        }),
        `200 ${BODY}`,
      );
    }));

  it("ignores preconditions and Range for a stored non-2xx response (RFC 9110 §13.2.1)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache, {}, {
        status: 404,
        shouldCache: (response) => response.status === 404,
      });
      for (
        const headers of [
          { "if-match": '"nope"' },
          { "if-none-match": "*" },
          { "if-unmodified-since": DAY_AGO },
          { range: "bytes=0-1" },
        ]
      ) {
        const response = await serve(get(URL_A, headers));
        assert.deepEqual(await summary(response, ["etag"]), {
          status: 404,
          etag: null,
          body: BODY,
        });
      }
    }));
});

describe("cached(): If-Range (RFC 9110 §13.1.5)", () => {
  it("serves the Range, mid-generation too, when If-Range matches the ETag strongly, and the whole body otherwise (RFC 9110 §13.1.5)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const first = await serve(get());
      const etag = first.headers.get("etag")!;
      source.push(encode("01234"));
      const resumed = await serve(
        get(URL_A, { range: "bytes=2-3", "if-range": etag }),
      );
      assert.equal(resumed.status, 206);
      assert.equal(await resumed.text(), "23");
      const other = serve(
        get(URL_A, { range: "bytes=2-3", "if-range": '"v0"' }),
      );
      source.push(encode("56789"));
      source.close();
      assert.deepEqual(await summary(await other), { status: 200, body: BODY });
      const weak = await serve(
        get(URL_A, { range: "bytes=2-3", "if-range": `W/${etag}` }),
      );
      assert.deepEqual(await summary(weak), { status: 200, body: BODY });
      await first.text();
    }));

  it("serves the Range for If-Range with a date only when it equals a strong Last-Modified (RFC 9110 §13.1.5, §8.8.2.2)", () =>
    withCache(async (cache) => {
      const old = await stored(cache, { "last-modified": HOUR_AGO });
      const ranged = (ifRange: string) =>
        status(old.serve, { range: "bytes=0-1", "if-range": ifRange });
      assert.equal(await ranged(HOUR_AGO), "206 01");
      assert.equal(await ranged(DAY_AGO), `200 ${BODY}`);
      assert.equal(await ranged("garbage"), `200 ${BODY}`);
      await cache.delete(URL_A);
      // The default Last-Modified is the creation time: a second-resolution
      // date cannot tell it from another generation made in that second.
      const fresh = await stored(cache);
      const lastModified = (await fresh.serve(head())).headers.get(
        "last-modified",
      )!;
      assert.equal(
        await status(fresh.serve, {
          range: "bytes=0-1",
          "if-range": lastModified,
        }),
        `200 ${BODY}`,
      );
    }));
});

describe("cached(): Date and Age (RFC 9110 §6.6.1, RFC 9111 §5.1)", () => {
  it("sends the time of each response as Date when the handler sends none, and keeps the handler's own (RFC 9110 §6.6.1, RFC 9111 §3.1)", () =>
    withCache(async (cache) => {
      const { serve } = await stored(cache);
      for (const response of [await serve(get()), await serve(head())]) {
        const date = Date.parse(response.headers.get("date") ?? "");
        assert.ok(Math.abs(Date.now() - date) < 5_000, "a current date");
        await response.text();
      }
      await cache.delete(URL_A);
      const proxied = await stored(cache, { date: DAY_AGO });
      for (
        const response of [
          await proxied.serve(get()),
          await proxied.serve(get(URL_A, { "if-none-match": "*" })),
        ]
      ) {
        assert.equal(response.headers.get("date"), DAY_AGO);
        await response.text();
      }
    }));

  it("sends Age on responses not made for the request: the stored age plus the time in the cache (RFC 9111 §4.2.3, §5.1)", () =>
    withCache(async (cache) => {
      const started = Date.now();
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const miss = await serve(get());
      const join = await serve(get());
      assert.equal(miss.headers.get("age"), null, "made for this request");
      assert.match(join.headers.get("age") ?? "", /^\d+$/);
      source.push(encode(BODY));
      source.close();
      await miss.text();
      await join.text();
      const hit = await serve(get());
      // At most the seconds the test took, however loaded the machine.
      const took = Math.ceil((Date.now() - started) / 1000);
      assert.ok(Number(hit.headers.get("age")) <= took);
      await hit.text();
    }));

  it("counts the age a response already had: its Age, or its Date in the past (RFC 9111 §4.2.3)", () =>
    withCache(async (cache) => {
      // The bounds allow for the seconds the test itself takes, however
      // loaded the machine: no assertion depends on its speed.
      const started = Date.now();
      const slack = () => Math.ceil((Date.now() - started) / 1000) + 1;
      const aged = cached(
        () => new Response("x", { headers: { age: "100" } }),
        { cache },
      );
      const miss = await aged(get("http://example.test/aged"));
      assert.equal(miss.headers.get("age"), "100", "kept on the miss too");
      await miss.text();
      const hit = await aged(get("http://example.test/aged"));
      const age = Number(hit.headers.get("age"));
      assert.ok(age >= 100 && age <= 100 + slack(), `Age ${age}`);
      await hit.text();
      const hourAgo = new Date(Date.now() - 3_600_000).toUTCString();
      const dated = cached(
        () => new Response("x", { headers: { date: hourAgo } }),
        { cache },
      );
      await (await dated(get("http://example.test/dated"))).text();
      const old = await dated(get("http://example.test/dated"));
      const apparent = Number(old.headers.get("age"));
      assert.ok(
        apparent >= 3599 && apparent <= 3600 + slack(),
        `Age ${apparent}`,
      );
      await old.text();
    }));
});
