// Rule 12 under Deno's test sanitizers (ops, resources, exit), which node:test
// files run under Deno do not get: after close() nothing may be left pending.

import assert from "node:assert/strict";
import { CacheClosedError, StreamCache } from "../../mod.ts";

/** A producer stream that pushes a chunk on every timer tick until cancelled. */
function ticking(
  onCancel: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => controller.enqueue(new Uint8Array(16)), 1);
    },
    cancel(reason) {
      clearInterval(timer);
      onCancel(reason);
    },
  });
}

Deno.test("rule 12: close() stops producers, writers and readers; no op or resource is left", async () => {
  const cache = new StreamCache();
  let cancelReason: unknown;
  const producing = await cache.getOrCreate(
    "ticking",
    () => ticking((r) => cancelReason = r),
  );
  const reading = producing.readable().pipeTo(new WritableStream()).catch((e) =>
    e
  );

  const { entry: manual, writable } = await cache.open("manual");
  const writer = writable!.getWriter();
  await writer.write(new Uint8Array(8));
  const waiting = manual.readable().getReader().read().catch((e) => e);

  let signal: AbortSignal | undefined;
  const neverStarts = cache.getOrCreate("never", ({ signal: s }) => {
    signal = s;
    return new Promise<Uint8Array>(() => {});
  }).catch((e) => e);

  await cache.close();

  assert.ok(cancelReason instanceof CacheClosedError);
  assert.ok((await reading) instanceof CacheClosedError);
  assert.ok((await waiting) instanceof CacheClosedError);
  assert.ok((await neverStarts) instanceof CacheClosedError);
  assert.equal(signal?.aborted, true);
  await assert.rejects(writer.write(new Uint8Array(1)), CacheClosedError);
});

Deno.test("rule 12: a cache used and closed through await using leaves nothing behind", async () => {
  {
    await using cache = new StreamCache();
    const entry = await cache.getOrCreate("k", async function* () {
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield new Uint8Array([i]);
      }
    });
    assert.equal(await entry.done, 10);
    const half = entry.readable({ chunkSize: 5 }).getReader();
    await half.read(); // left open on purpose: close() must end it
  }
});
