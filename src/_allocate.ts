// Fresh arrays for bytes that are written over before anyone sees them: a
// reader's chunk. Where the runtime has Node's `Buffer` as a global (Node,
// Bun, Deno 2), `Buffer.allocUnsafeSlow` skips the zero fill that
// `new Uint8Array(n)` does; it is looked up on globalThis, so the core still
// imports nothing from `node:`. Elsewhere (browsers) it is `new Uint8Array(n)`.
// For 64 KiB, bench/chunk_costs.ts measured 10.2 µs zeroed and 3.5 µs not on
// Node 24, 3.6 and 2.5 µs on Bun, and no difference on Deno.

/** The one piece of Node's and Bun's `Buffer` used here. */
interface UnsafeAllocator {
  allocUnsafeSlow(size: number): Uint8Array;
}

const unsafe = (globalThis as { Buffer?: UnsafeAllocator }).Buffer;

/**
 * A new array of `length` bytes, over an `ArrayBuffer` of its own and of
 * exactly that length (so it can be transferred, as a byte stream's
 * `enqueue` does), as a plain `Uint8Array`. Its contents are unspecified:
 * the caller writes every byte before the array, or its buffer, is seen by
 * anyone else (see {@linkcode shrink} for a read that came up short).
 */
export function allocate(length: number): Uint8Array<ArrayBuffer> {
  // Under 1 KiB the zero fill is too small to matter.
  if (unsafe && length >= 1024) {
    const bytes = unsafe.allocUnsafeSlow(length);
    const { buffer } = bytes;
    // A pooled or shared buffer would not be this array's alone.
    if (
      bytes.byteOffset === 0 && buffer.byteLength === length &&
      buffer instanceof ArrayBuffer
    ) {
      return new Uint8Array(buffer);
    }
  }
  return new Uint8Array(length);
}

/**
 * The first `count` bytes of `bytes` (from {@linkcode allocate}), with the
 * rest zeroed: a consumer can reach the whole buffer through `.buffer`, and
 * must find nothing there but the bytes it was given and zeros.
 */
export function shrink(
  bytes: Uint8Array<ArrayBuffer>,
  count: number,
): Uint8Array<ArrayBuffer> {
  if (count === bytes.byteLength) return bytes;
  bytes.fill(0, count);
  return bytes.subarray(0, count);
}
