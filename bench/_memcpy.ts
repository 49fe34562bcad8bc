/**
 * Yardsticks for the benchmarks: how fast this runtime on this machine can
 * copy bytes at all. Not a benchmark itself; imported by bench/fanout.ts.
 *
 * @module
 */

/** Best-of-`runs` seconds taken by `task`, after one untimed warm-up call. */
function bestSeconds(runs: number, task: () => void): number {
  task();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    task();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/**
 * Bytes per second of one `Uint8Array.prototype.set` copy of `bytes` bytes
 * between two preallocated buffers (memcpy), best of `runs`.
 */
export function memcpyBandwidth(bytes: number, runs = 5): number {
  const src = new Uint8Array(bytes).fill(0x5a);
  const dst = new Uint8Array(bytes);
  return bytes / bestSeconds(runs, () => dst.set(src));
}

/**
 * Bytes per second delivered by an ideal copy-per-reader fan-out: each
 * `chunk`-byte piece of a `bytes`-byte buffer is copied out `readers` times
 * in a row as new arrays (`slice`: allocate, then copy), with no streams and
 * no cache around it; best of `runs`. A cache that hands every reader its
 * own copy of every chunk (SEMANTICS 7) cannot deliver faster than this.
 */
export function copyOutBandwidth(
  bytes: number,
  chunk: number,
  readers: number,
  runs = 5,
): number {
  const src = new Uint8Array(bytes).fill(0x5a);
  let sink = 0;
  const seconds = bestSeconds(runs, () => {
    for (let at = 0; at < bytes; at += chunk) {
      const piece = src.subarray(at, at + chunk);
      for (let r = 0; r < readers; r++) sink += piece.slice()[0]!;
    }
  });
  if (sink < 0) throw new Error("unreachable"); // keeps the copies observable
  return (readers * bytes) / seconds;
}
