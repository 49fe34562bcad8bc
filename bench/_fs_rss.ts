/**
 * Resident-set-size sampling for bench/fs.ts: how much memory the process
 * holds at its peak while it runs a task, measured by the operating system
 * (`process.memoryUsage.rss()`, which Deno and Bun provide too), so it
 * counts the JavaScript heap, array buffers, the runtime's own buffers and
 * the allocator's free lists alike. Not a benchmark itself.
 *
 * @module
 */

import process from "node:process";

/** The process's resident set size now, in bytes. */
export const rss = (): number => process.memoryUsage.rss();

/** What a sampler saw between its start and `stop()`. */
export interface RssPeak {
  /** The largest resident set size sampled, in bytes. */
  peak: number;
  /** How many samples were taken. */
  samples: number;
  /** The longest time between two samples, in milliseconds. */
  maxGap: number;
}

/** Samples the resident set size every `intervalMs` and whenever `sample()` is called. */
export class RssSampler {
  #peak = rss();
  #samples = 1;
  #last = performance.now();
  #maxGap = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 10) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now (cheap: one system call). */
  sample(): void {
    const now = performance.now();
    this.#maxGap = Math.max(this.#maxGap, now - this.#last);
    this.#last = now;
    this.#peak = Math.max(this.#peak, rss());
    this.#samples++;
  }

  /** Takes a last sample and stops. */
  stop(): RssPeak {
    clearInterval(this.#timer);
    this.sample();
    return { peak: this.#peak, samples: this.#samples, maxGap: this.#maxGap };
  }
}

/**
 * The resident set size at rest: the median of `count` samples taken
 * `intervalMs` apart, so one sample taken mid-allocation does not count.
 */
export async function restingRss(count = 11, intervalMs = 20): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    xs.push(rss());
  }
  return xs.sort((a, b) => a - b)[count >> 1]!;
}
