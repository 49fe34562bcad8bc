// Range requests on the HTTP wrapper (RFC 9110, section 14; issue 13 point
// 3): single ranges, 416, huge positions, ranges that are ignored, ranges on
// an entry still generated whose length is unknown, and a property test
// against the `range-parser` package (a test-only oracle).

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parse as rangeParser } from "range-parser";
import type { StreamCache } from "../mod.ts";
import { cached } from "../src/http/mod.ts";
import { encode, isSettled, withCache } from "./_helpers.ts";
import { generating, get, head, summary, URL_A } from "./_http_helpers.ts";

const BODY = "0123456789abcdefghij"; // 20 bytes
const RANGE_FIELDS = ["content-range", "content-length"];

/** A wrapper over a handler that answers BODY, with the entry complete. */
async function completeEntry(cache: StreamCache) {
  const serve = cached(() => new Response(BODY), { cache });
  await (await serve(get())).text();
  return serve;
}

describe("cached(): Range on a complete entry (RFC 9110 §14)", () => {
  it("answers one range with 206, Content-Range and the exact Content-Length (RFC 9110 §14.1.2, §14.4, §15.3.7)", () =>
    withCache(async (cache) => {
      const serve = await completeEntry(cache);
      const cases: [string, string, string][] = [
        ["bytes=2-5", "2345", "bytes 2-5/20"],
        ["bytes=15-", "fghij", "bytes 15-19/20"],
        ["bytes=-3", "hij", "bytes 17-19/20"],
        ["bytes=18-100", "ij", "bytes 18-19/20"],
        ["bytes=-100", BODY, "bytes 0-19/20"], // 14.1.3: a longer suffix is all of it
        ["BYTES = 0-0", "0", "bytes 0-0/20"], // the unit is case-insensitive
      ];
      for (const [range, body, contentRange] of cases) {
        assert.deepEqual(
          await summary(await serve(get(URL_A, { range })), RANGE_FIELDS),
          {
            status: 206,
            "content-range": contentRange,
            "content-length": String(body.length),
            body,
          },
          range,
        );
      }
    }));

  it("answers 416 with bytes */20 when the first byte is at or past the end, or the suffix is 0 (RFC 9110 §14.1.1, §15.5.17)", () =>
    withCache(async (cache) => {
      const serve = await completeEntry(cache);
      for (
        const range of [
          "bytes=20-",
          "bytes=20-30",
          "bytes=-0",
          "bytes=99999999999999999999-",
        ]
      ) {
        assert.deepEqual(
          await summary(await serve(get(URL_A, { range })), ["content-range"]),
          { status: 416, "content-range": "bytes */20", body: "" },
          range,
        );
      }
    }));

  it("reads positions past 2^53 - 1 as 'to the end': the whole body as 206 (RFC 9110 §14.1.2)", () =>
    withCache(async (cache) => {
      const serve = await completeEntry(cache);
      for (
        const range of [
          "bytes=0-9007199254740991",
          "bytes=0-9007199254740992",
          "bytes=0-99999999999999999999",
          "bytes=-99999999999999999999",
        ]
      ) {
        assert.deepEqual(
          await summary(await serve(get(URL_A, { range })), RANGE_FIELDS),
          {
            status: 206,
            "content-range": "bytes 0-19/20",
            "content-length": "20",
            body: BODY,
          },
          range,
        );
      }
    }));

  it("ignores several ranges, other units, invalid and malformed ranges: 200 with the whole body (RFC 9110 §14.2)", () =>
    withCache(async (cache) => {
      const serve = await completeEntry(cache);
      for (
        const range of [
          "bytes=0-1,4-5",
          "bytes=5-2",
          "items=0-1",
          "bytes=x-",
          "bytes=-",
          "bytes=1-2-3",
          "bytes 0-1",
        ]
      ) {
        const response = await serve(get(URL_A, { range }));
        assert.deepEqual(
          await summary(response, RANGE_FIELDS),
          {
            status: 200,
            "content-range": null,
            "content-length": "20",
            body: BODY,
          },
          range,
        );
      }
    }));

  it("answers a suffix range on an empty body with 200, and any other range with 416 (RFC 9110 §14.1.1)", () =>
    withCache(async (cache) => {
      const serve = cached(() => new Response(""), { cache });
      await (await serve(get())).text();
      const suffix = await serve(get(URL_A, { range: "bytes=-5" }));
      assert.deepEqual(await summary(suffix, RANGE_FIELDS), {
        status: 200,
        "content-range": null,
        "content-length": "0",
        body: "",
      });
      const first = await serve(get(URL_A, { range: "bytes=0-" }));
      assert.deepEqual(await summary(first, ["content-range"]), {
        status: 416,
        "content-range": "bytes */0",
        body: "",
      });
    }));

  it("gives HEAD with a Range the headers of the 206 and no body (RFC 9110 §9.3.2, §14.2)", () =>
    withCache(async (cache) => {
      const serve = await completeEntry(cache);
      const ranged = await serve(head(URL_A, { range: "bytes=1-2" }));
      assert.equal(ranged.status, 206);
      assert.equal(ranged.headers.get("content-range"), "bytes 1-2/20");
      assert.equal(ranged.headers.get("content-length"), "2");
      assert.equal(ranged.body, null);
    }));
});

describe("cached(): Range on an entry still generated (RFC 9110 §14.4; a 206 never promises bytes it does not send)", () => {
  it("answers first-last once byte `last` exists, with bytes first-last/* and exactly those bytes (RFC 9110 §14.4)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const whole = await serve(get());
      source.push(encode("01234"));
      const ranged = serve(get(URL_A, { range: "bytes=3-7" }));
      source.push(encode("56"));
      assert.equal(await isSettled(ranged), false, "waits for byte 7");
      source.push(encode("789"));
      const partial = await ranged;
      assert.deepEqual(await summary(partial, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 3-7/*",
        "content-length": "5",
        body: "34567",
      });
      source.close();
      assert.equal(await whole.text(), "0123456789");
    }));

  it("answers first-last on an entry that ends before `last` with its exact end, or 416 when `first` is the final size (RFC 9110 §14.1.1, §15.5.17)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const whole = await serve(get());
      source.push(encode("0123"));
      const short = serve(get(URL_A, { range: "bytes=2-9" }));
      const atEnd = serve(get(URL_A, { range: "bytes=6-9" }));
      const past = serve(get(URL_A, { range: "bytes=7-9" }));
      source.push(encode("45"));
      source.close();
      assert.deepEqual(await summary(await short, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 2-5/6",
        "content-length": "4",
        body: "2345",
      });
      for (const response of [await atEnd, await past]) {
        assert.deepEqual(await summary(response, ["content-range"]), {
          status: 416,
          "content-range": "bytes */6",
          body: "",
        });
      }
      await whole.text();
    }));

  it("waits for the total length to answer suffix and open ranges, and ranges past 2^53 - 1 (RFC 9110 §14.1.2, §14.1.3)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const whole = await serve(get());
      source.push(encode("01234"));
      const suffix = serve(get(URL_A, { range: "bytes=-3" }));
      const open = serve(get(URL_A, { range: "bytes=2-" }));
      const huge = serve(get(URL_A, { range: "bytes=0-9007199254740991" }));
      assert.equal(await isSettled(suffix), false, "the total is unknown");
      assert.equal(await isSettled(open), false);
      assert.equal(await isSettled(huge), false);
      source.push(encode("5678"));
      source.close();
      assert.deepEqual(await summary(await suffix, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 6-8/9",
        "content-length": "3",
        body: "678",
      });
      assert.deepEqual(await summary(await open, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 2-8/9",
        "content-length": "7",
        body: "2345678",
      });
      assert.deepEqual(await summary(await huge, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 0-8/9",
        "content-length": "9",
        body: "012345678",
      });
      await whole.text();
    }));

  it("uses a declared Content-Length as the total while the entry is generated (RFC 9110 §8.6, §14.4)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating({
        headers: { "content-length": "10" },
      });
      const serve = cached(handler, { cache });
      const whole = await serve(get());
      assert.equal(whole.headers.get("content-length"), "10");
      const tail = await serve(get(URL_A, { range: "bytes=6-" }));
      const beyond = await serve(get(URL_A, { range: "bytes=10-" }));
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers.get("content-range"), "bytes */10");
      source.push(encode("0123456789"));
      source.close();
      assert.deepEqual(await summary(tail, RANGE_FIELDS), {
        status: 206,
        "content-range": "bytes 6-9/10",
        "content-length": "4",
        body: "6789",
      });
      assert.equal(await whole.text(), "0123456789");
    }));

  it("rejects a waiting Range request when the generation fails, and caches nothing (RFC 9110 §14.4; rule 5)", () =>
    withCache(async (cache) => {
      const { handler, source } = generating();
      const serve = cached(handler, { cache });
      const whole = await serve(get());
      const ranged = serve(get(URL_A, { range: "bytes=5-9" }));
      source.push(encode("012"));
      source.error(new Error("generator crashed"));
      await assert.rejects(ranged, /generator crashed/);
      await assert.rejects(whole.text(), /generator crashed/);
      assert.equal(await cache.has(URL_A), false);
    }));
});

/** One generated Range header and whether it is a single valid range-spec. */
const rangeHeader = fc.oneof(
  // A position: small, near the sizes tried, or beyond 2^53 - 1.
  ...(() => {
    const pos = fc.oneof(
      { weight: 8, arbitrary: fc.nat(45).map(String) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "9007199254740991",
          "9007199254740992",
          "99999999999999999999",
        ),
      },
    );
    const spec = fc.oneof(
      fc.tuple(pos, pos).map(([a, b]) => `${a}-${b}`),
      pos.map((a) => `${a}-`),
      pos.map((b) => `-${b}`),
    );
    const unit = fc.constantFrom("bytes", "Bytes", "BYTES");
    return [
      {
        weight: 6,
        arbitrary: fc.tuple(unit, spec).map(([u, s]) => `${u}=${s}`),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          unit,
          fc.array(spec, { minLength: 2, maxLength: 3 }),
        )
          .map(([u, specs]) => `${u}=${specs.join(",")}`),
      },
    ];
  })(),
);

/**
 * What RFC 9110 and this wrapper's choices call for, from the oracle: the
 * span to send, 416, or the whole body (several ranges, or an invalid one).
 */
function expected(size: number, header: string) {
  const parsed = rangeParser(size, header);
  const specs = header.slice(header.indexOf("=") + 1).split(",");
  if (parsed.type !== "bytes" || (parsed.code & 1) !== 0 || specs.length > 1) {
    return { status: 200 } as const; // 14.2: ignored
  }
  const [range] = parsed.ranges;
  if (range) return { status: 206, ...range } as const;
  if (size === 0 && /^-\d*[1-9]/.test(specs[0]!)) {
    return { status: 200 } as const;
  }
  return { status: 416 } as const;
}

describe("cached(): Range against range-parser (property, RFC 9110 §14)", () => {
  it(
    "answers every single range as the oracle resolves it, with Content-Length equal to the bytes sent, complete or still generated (RFC 9110 §14.1, §14.4)",
    {
      timeout: 60_000,
    },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat(40),
          fc.nat(40),
          rangeHeader,
          fc.boolean(),
          async (size, prefix, header, complete) => {
            const bytes = new Uint8Array(size).map((_, i) => 97 + (i % 26));
            const known = Math.min(prefix, size); // bytes written before the request
            await withCache(async (cache) => {
              const { handler, source } = generating();
              const serve = cached(handler, { cache });
              const first = await serve(get());
              source.push(bytes.slice(0, known));
              if (complete) {
                source.push(bytes.slice(known));
                source.close();
                await first.arrayBuffer();
              }
              const pending = serve(get(URL_A, { range: header }));
              if (!complete) {
                await isSettled(pending); // let it start on the partial entry
                source.push(bytes.slice(known));
                source.close();
                await first.arrayBuffer();
              }
              const response = await pending;
              const body = new Uint8Array(await response.arrayBuffer());
              const want = expected(size, header);
              assert.equal(response.status, want.status, header);
              const contentRange = response.headers.get("content-range");
              if (want.status === 206) {
                const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(
                  contentRange ?? "",
                );
                assert.ok(match, `Content-Range ${contentRange}`);
                assert.equal(Number(match[1]), want.start, header);
                assert.equal(Number(match[2]), want.end, header);
                assert.ok(match[3] === "*" || Number(match[3]) === size);
                assert.deepEqual(body, bytes.slice(want.start, want.end + 1));
              } else if (want.status === 416) {
                assert.equal(contentRange, `bytes */${size}`);
                assert.equal(body.byteLength, 0);
              } else {
                assert.equal(contentRange, null);
                assert.deepEqual(body, bytes);
              }
              // A 206 always states its length; a 200 while the total is
              // unknown has none; whatever is stated is what is sent.
              const length = response.headers.get("content-length");
              if (want.status === 206) assert.notEqual(length, null);
              if (want.status !== 416 && length !== null) {
                assert.equal(length, String(body.byteLength));
              }
            });
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});
