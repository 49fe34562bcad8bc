// What the benches report with: the runtime they ran on, and the median of
// their runs.

import process from "node:process";

/** The runtime and its version, e.g. `deno 2.9.6`. */
export const runtime: string = process.versions.deno
  ? `deno ${process.versions.deno}`
  : process.versions.bun
  ? `bun ${process.versions.bun}`
  : `node ${process.versions.node}`;

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[s.length >> 1]!
    : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
