// StreamCache behaviour that does not depend on the store: argument checks
// (SEMANTICS 18), the shapes a producer may return, metadata, and listing.

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { MemoryStore, StreamCache } from "../mod.ts";
import type { Producer } from "../mod.ts";
import {
  decode,
  encode,
  manualSource,
  readAll,
  withCache,
} from "./_helpers.ts";

describe("StreamCache arguments (rule 18)", () => {
  it("rejects a key that is not a string, naming the operation", () =>
    withCache(async (cache) => {
      const key = 42 as unknown as string;
      await assert.rejects(cache.open(key), {
        name: "TypeError",
        message: "Cannot open entry: key must be a string: received number",
      });
      await assert.rejects(
        cache.get(key),
        /Cannot get entry: key must be a string/,
      );
      await assert.rejects(
        cache.has(null as unknown as string),
        /received null/,
      );
      await assert.rejects(cache.delete(key), /Cannot delete entry/);
      await assert.rejects(
        cache.getOrCreate(key, () => encode("x")),
        /Cannot get or create entry: key must be a string/,
      );
    }));

  it("rejects metadata that is not a JSON-serialisable object, storing nothing", () =>
    withCache(async (cache) => {
      for (
        const [meta, pattern] of [
          [[1, 2], /meta must be a JSON-serialisable object: received Array/],
          ["text/plain", /received string/],
          [{ size: 10n }, /meta must be a JSON-serialisable object: .*BigInt/i],
        ] as const
      ) {
        await assert.rejects(
          cache.open("k", { meta: meta as never }),
          { name: "TypeError", message: pattern },
        );
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(
        cache.open("k", { meta: cyclic as never }),
        TypeError,
      );
      assert.equal(await cache.has("k"), false);
    }));

  it("rejects metadata that is no object once serialised: a Date, toJSON() giving a string, null, an array or nothing", () =>
    withCache(async (cache) => {
      for (
        const [meta, pattern] of [
          [new Date(0), /received Date, which serialises to "1970-01-01/],
          [{ toJSON: () => "text" }, /which serialises to "text"/],
          [{ toJSON: () => null }, /which serialises to null/],
          [{ toJSON: () => [1] }, /which serialises to \[1\]/],
          [{ toJSON: () => undefined }, /which serialises to nothing/],
        ] as const
      ) {
        await assert.rejects(
          cache.open("k", { meta: meta as never }),
          { name: "TypeError", message: pattern },
        );
        await assert.rejects(
          cache.getOrCreate(
            "k",
            () => ({ body: encode("x"), meta: meta as never }),
          ),
          { name: "TypeError", message: pattern },
        );
      }
      assert.equal(await cache.has("k"), false);
      // A toJSON() that gives an object is what JSON stores: accepted.
      const { entry } = await cache.open("k", {
        meta: { toJSON: () => ({ type: "text/plain" }) } as never,
      });
      assert.deepEqual(entry.meta, { type: "text/plain" });
    }));

  it("rejects options that are not an options object, or a store that is not a Store", () => {
    for (
      const [options, pattern] of [
        [
          42,
          /^Cannot create StreamCache: options must be an object: received number$/,
        ],
        [null, /options must be an object: received null/],
        [
          { store: 42 },
          /store must implement the Store interface: received number/,
        ],
        [
          { store: "memory" },
          /store must implement the Store interface: received string/,
        ],
        [
          { store: { create() {}, lookup() {} } },
          /Object has no openReader\(\), remove\(\), release\(\), keys\(\), close\(\)/,
        ],
      ] as const
    ) {
      assert.throws(() => new StreamCache(options as never), {
        name: "TypeError",
        message: pattern,
      });
    }
    // Every store the project ships passes the check.
    assert.ok(new StreamCache({ store: new MemoryStore() }));
  });

  it("rejects a producer that is not a function", () =>
    withCache(async (cache) => {
      await assert.rejects(
        cache.getOrCreate("k", "nope" as unknown as Producer),
        {
          name: "TypeError",
          message:
            "Cannot get or create entry: producer must be a function: received string",
        },
      );
      assert.equal(await cache.has("k"), false);
    }));

  it("rejects a producer result of the wrong shape, and the next call produces afresh", () =>
    withCache(async (cache) => {
      await assert.rejects(
        cache.getOrCreate("k", () => "text" as unknown as Uint8Array),
        {
          name: "TypeError",
          message:
            'Cannot produce entry "k": the producer must return a ReadableStream, Uint8Array, AsyncIterable or { body, meta }: received string',
        },
      );
      await assert.rejects(
        cache.getOrCreate("k", () => ({ body: 5 as unknown as Uint8Array })),
        /body must be a ReadableStream, Uint8Array or AsyncIterable: received number/,
      );
      const entry = await cache.getOrCreate("k", () => encode("fine"));
      assert.equal(decode(await readAll(entry.readable())), "fine");
    }));

  it("cancels the producer's stream when its metadata is invalid", () =>
    withCache(async (cache) => {
      let cancelled: unknown;
      const body = new ReadableStream<Uint8Array>({
        cancel(reason) {
          cancelled = reason;
        },
      });
      const error = await cache.getOrCreate(
        "k",
        () => ({ body, meta: [] as never }),
      )
        .catch((e) => e);
      assert.ok(error instanceof TypeError);
      assert.equal(cancelled, error);
    }));

  it("rejects invalid read ranges synchronously", () =>
    withCache(async (cache) => {
      const entry = await cache.getOrCreate("k", () => encode("abc"));
      assert.throws(() => entry.readable({ start: -1 }), {
        name: "RangeError",
        message:
          'Cannot read entry "k": start must be a non-negative integer: received -1',
      });
      assert.throws(() => entry.readable({ start: 1.5 }), RangeError);
      assert.throws(
        () => entry.readable({ end: "2" as unknown as number }),
        TypeError,
      );
      assert.throws(
        () => entry.readable({ start: 3, end: 2 }),
        /end \(2\) is before start \(3\)/,
      );
      assert.throws(
        () => entry.readable({ chunkSize: 0 }),
        /chunkSize must be positive/,
      );
      assert.equal(decode(await readAll(entry.readable())), "abc");
    }));

  it("shortens huge keys in messages", () =>
    withCache(async (cache) => {
      const key = "k".repeat(100_000);
      const entry = await cache.getOrCreate(key, () => encode("x"));
      assert.throws(
        () => entry.readable({ start: -1 }),
        (error: Error) =>
          error.message.length < 200 && error.message.includes("100000 chars"),
      );
    }));
});

describe("StreamCache producers", () => {
  it("accepts a ReadableStream, a Uint8Array and an AsyncIterable", () =>
    withCache(async (cache) => {
      const bodies: Record<string, Producer> = {
        stream: () => new Blob(["from a stream"]).stream(),
        bytes: () => encode("from bytes"),
        iterable: async function* () {
          yield encode("from ");
          yield encode("an iterable");
        },
      };
      for (const [key, producer] of Object.entries(bodies)) {
        const entry = await cache.getOrCreate(key, producer);
        assert.equal(await entry.done, entry.size);
      }
      const text = async (key: string) =>
        decode(await readAll((await cache.get(key))!.readable()));
      assert.equal(await text("stream"), "from a stream");
      assert.equal(await text("bytes"), "from bytes");
      assert.equal(await text("iterable"), "from an iterable");
    }));

  it("takes metadata from { body, meta }, overriding the meta option", () =>
    withCache(async (cache) => {
      const entry = await cache.getOrCreate(
        "k",
        () => ({ body: encode("{}"), meta: { type: "application/json" } }),
        { meta: { type: "text/plain" } },
      );
      assert.deepEqual(entry.meta, { type: "application/json" });
      const plain = await cache.getOrCreate("p", () => encode("x"), {
        meta: { type: "text/plain" },
      });
      assert.deepEqual(plain.meta, { type: "text/plain" });
    }));

  it("gives the producer its key and a signal, and makes callers that arrive meanwhile wait for its metadata", () =>
    withCache(async (cache) => {
      let release!: () => void;
      const started = new Promise<void>((resolve) => release = resolve);
      const seen: string[] = [];
      const first = cache.getOrCreate("k", async ({ key, signal }) => {
        seen.push(key);
        assert.equal(signal.aborted, false);
        await started;
        return { body: encode("v"), meta: { n: 1 } };
      });
      const second = cache.getOrCreate("k", () => {
        throw new Error("must not run");
      });
      release();
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a, b);
      assert.deepEqual(b.meta, { n: 1 });
      assert.deepEqual(seen, ["k"]);
    }));

  it("fails the entry when the producer returns a locked stream", () =>
    withCache(async (cache) => {
      const source = manualSource();
      source.stream.getReader(); // locked
      const entry = await cache.getOrCreate("k", () => source.stream);
      await assert.rejects(entry.done, TypeError);
      assert.equal(await cache.has("k"), false);
    }));

  it("cancels the producer's stream with the reason its entry failed", () =>
    withCache(async (cache) => {
      let pushes = 0;
      let onCancel!: (reason: unknown) => void;
      const cancelled = new Promise((resolve) => onCancel = resolve);
      const entry = await cache.getOrCreate(
        "k",
        () =>
          new ReadableStream<Uint8Array>({
            pull(controller) {
              controller.enqueue(
                pushes++ === 0
                  ? encode("ok")
                  : ("bad" as unknown as Uint8Array),
              );
            },
            cancel: onCancel,
          }),
      );
      const failure = await entry.done.catch((error) => error);
      assert.ok(failure instanceof TypeError);
      assert.equal(await cancelled, failure);
    }));
});

describe("StreamCache metadata and listing", () => {
  it("keeps a frozen copy of meta: later changes to the caller's object change nothing", () =>
    withCache(async (cache) => {
      const meta = { headers: { type: "text/plain" } };
      const { entry, writable } = await cache.open("k", { meta });
      meta.headers.type = "changed";
      assert.deepEqual(entry.meta, { headers: { type: "text/plain" } });
      assert.ok(
        Object.isFrozen(entry.meta) && Object.isFrozen(entry.meta!.headers),
      );
      await writable!.close();
    }));

  it("ignores meta from callers that do not create the entry", () =>
    withCache(async (cache) => {
      const first = await cache.open("k", { meta: { v: 1 } });
      const second = await cache.open("k", { meta: { v: 2 } });
      assert.deepEqual(second.entry.meta, { v: 1 });
      await first.writable!.close();
    }));

  it("lists complete and in-progress keys once each; get never creates", () =>
    withCache(async (cache) => {
      await cache.getOrCreate("done", () => encode("x"));
      const { writable } = await cache.open("writing");
      assert.equal(await cache.get("never"), undefined);
      const keys: string[] = [];
      for await (const key of cache.keys()) keys.push(key);
      assert.deepEqual(keys.sort(), ["done", "writing"]);
      await writable!.close();
    }));
});
