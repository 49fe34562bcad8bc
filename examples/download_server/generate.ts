/**
 * The "expensive" producer: a made-up sales report in CSV, generated slowly.
 *
 * The report is a pure function of its name and size, so a client can check
 * what it downloaded: {@linkcode reportBytes} gives any byte range of it
 * without generating the rest. Every line is 64 bytes (fixed-width columns):
 * a header, then one row per sale. The last line is shortened to a `#`
 * comment when `size` is not a multiple of 64, so the report is exactly
 * `size` bytes long and still ends with a newline.
 *
 * @module
 */

/** Bytes per line of the report, newline included. */
export const LINE_BYTES = 64;

/** Column names and widths; with 6 commas and a newline they fill a line. */
const COLUMNS = [
  ["id", 8],
  ["region", 6],
  ["product", 10],
  ["units", 5],
  ["price", 8],
  ["amount", 10],
  ["date", 10],
] as const;
const HEADER = COLUMNS.map(([name, width]) => name.padStart(width)).join(",") +
  "\n";
const REGIONS = ["north", "south", "east", "west"];
const DATES = Array.from(
  { length: 365 },
  (_, day) => new Date(Date.UTC(2025, 0, 1 + day)).toISOString().slice(0, 10),
);

/** FNV-1a of the name: the seed of every row. */
function seedOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/** A 32-bit integer hash (the finaliser of MurmurHash3). */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Line `index` of a report whose rows come from `seed`: 64 ASCII characters. */
function line(seed: number, index: number, size: number): string {
  const lines = Math.ceil(size / LINE_BYTES);
  const length = Math.min(LINE_BYTES, size - index * LINE_BYTES);
  if (index === lines - 1 && length < LINE_BYTES) {
    return length === 1 ? "\n" : "#".padEnd(length - 1) + "\n";
  }
  if (index === 0) return HEADER;
  const a = mix(seed ^ Math.imul(index, 0x9e3779b1));
  const b = mix(a + 0x6d2b79f5);
  const units = 1 + (b % 999);
  const cents = 99 + ((b >>> 10) % 99_900);
  const amount = units * cents;
  const fields = [
    String(index),
    REGIONS[a & 3]!,
    `sku-${String((a >>> 2) % 1_000_000).padStart(6, "0")}`,
    String(units),
    money(cents),
    money(amount),
    DATES[(a >>> 22) % 365]!,
  ];
  return fields.map((text, i) => text.padStart(COLUMNS[i]![1])).join(",") +
    "\n";
}

function money(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/**
 * Bytes `[start, end)` of the report `name` of `size` bytes, computed
 * directly: the same bytes whichever way the report is cut into chunks.
 *
 * @param name The report's name.
 * @param size The report's length in bytes.
 * @param start The first byte.
 * @param end The byte to stop before.
 * @returns A new array of `end - start` bytes.
 */
export function reportBytes(
  name: string,
  size: number,
  start = 0,
  end = size,
): Uint8Array<ArrayBuffer> {
  end = Math.min(end, size);
  const out = new Uint8Array(Math.max(0, end - start));
  const seed = seedOf(name);
  for (let at = start; at < end;) {
    const index = Math.floor(at / LINE_BYTES);
    const text = line(seed, index, size);
    const from = at - index * LINE_BYTES;
    const to = Math.min(text.length, end - index * LINE_BYTES);
    for (let i = from; i < to; i++) {
      out[at - start + i - from] = text.charCodeAt(i);
    }
    at += to - from;
  }
  return out;
}

/** Options for {@linkcode generateReport}. */
export interface GenerateOptions {
  /** Bytes per second: the report is never ahead of this pace. */
  rate: number;
  /** Stops the generation: the stream errors with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Generates the report `name` of `size` bytes at `rate` bytes per second, as
 * slow work would: in chunks of about 1/20 s of output (1 to 64 KiB), each
 * emitted when the pace allows. The timer is the producer's own; it is
 * cleared when the stream is cancelled or the signal aborts.
 *
 * @param name The report's name.
 * @param size Its length in bytes.
 * @param options The pace, and a signal to stop.
 * @returns A stream of exactly `size` bytes.
 */
export function generateReport(
  name: string,
  size: number,
  options: GenerateOptions,
): ReadableStream<Uint8Array> {
  const { rate, signal } = options;
  const chunk = Math.min(65_536, Math.max(1_024, Math.floor(rate / 20)));
  const started = performance.now();
  let offset = 0;
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  let fail: ((reason: unknown) => void) | undefined;
  const stop = () => {
    clearTimeout(timer);
    fail?.(signal?.reason);
  };
  signal?.addEventListener("abort", stop, { once: true });
  const finish = () => signal?.removeEventListener("abort", stop);

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      signal?.throwIfAborted();
      const end = Math.min(size, offset + chunk);
      // The bytes up to `end` are due `end / rate` seconds after the start.
      const due = started + (end / rate) * 1000 - performance.now();
      if (due >= 1) {
        await new Promise<void>((resolve, reject) => {
          wake = resolve;
          fail = reject;
          timer = setTimeout(() => wake?.(), due);
        }).finally(() => wake = fail = undefined);
        if (cancelled) return;
      }
      controller.enqueue(reportBytes(name, size, offset, end));
      offset = end;
      if (offset >= size) {
        finish();
        controller.close();
      }
    },
    cancel() {
      cancelled = true;
      finish();
      clearTimeout(timer);
      wake?.();
    },
  }, { highWaterMark: 0 });
}
