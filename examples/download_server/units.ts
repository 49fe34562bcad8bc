/**
 * Sizes and durations as people write them on a command line (`512MiB`,
 * `1G`, `10m`, `1h30m`), read strictly, and written back the same way for
 * the start-up line.
 *
 * Sizes: a number of bytes, optionally with a fraction and a unit. `k`, `M`,
 * `G`, `T` and `KiB`, `MiB`, `GiB`, `TiB` are powers of 1024 (as in the
 * download parameters, params.ts); `kB`, `MB`, `GB`, `TB` are powers of
 * 1000; `B` is a byte. Letters are case-insensitive. A fraction of a byte is
 * dropped.
 *
 * Durations: one or more numbers, each with a unit, `ms`, `s`, `m`
 * (minutes), `h` or `d`: `90s`, `1.5h`, `1h30m`. A bare number is refused:
 * seconds or milliseconds would be a guess.
 *
 * @module
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?b)?|(b))?$/i;
const POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4 };

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/i;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gi;
const MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads a size.
 *
 * @param text What was given, e.g. `512MiB`.
 * @param name The flag, for the message, e.g. `--max-bytes`.
 * @returns The size in bytes, at least 1.
 * @throws {RangeError} If `text` is not a size, or is less than 1 byte or more than 2^53 − 1.
 */
export function parseSize(text: string, name: string): number {
  const match = SIZE.exec(text.trim());
  let bytes = NaN;
  if (match) {
    const [, number, letter, suffix] = match;
    const decimal = letter !== undefined && suffix?.toLowerCase() === "b";
    const power = letter === undefined ? 0 : POWERS[letter.toLowerCase()]!;
    bytes = Math.floor(Number(number) * (decimal ? 1000 : 1024) ** power);
  }
  if (bytes >= 1 && bytes <= Number.MAX_SAFE_INTEGER) return bytes;
  throw new RangeError(
    `${name} must be a size of at least 1 byte, such as 512MiB, 1G or 1048576 ` +
      `(k, M, G, T and KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB ` +
      `powers of 1000): received ${JSON.stringify(text)}`,
  );
}

/**
 * Reads a duration.
 *
 * @param text What was given, e.g. `10m` or `1h30m`.
 * @param name The flag, for the message, e.g. `--ttl`.
 * @returns The duration in whole milliseconds, at least 1.
 * @throws {RangeError} If `text` is not a duration with units, or is shorter than 1 ms.
 */
export function parseDuration(text: string, name: string): number {
  const trimmed = text.trim();
  let ms = NaN;
  if (DURATION.test(trimmed)) {
    ms = 0;
    for (const [, number, unit] of trimmed.matchAll(DURATION_PART)) {
      ms += Number(number) * MS[unit!.toLowerCase()]!;
    }
    ms = Math.floor(ms);
  }
  if (ms >= 1 && ms <= Number.MAX_SAFE_INTEGER) return ms;
  throw new RangeError(
    `${name} must be a duration of at least 1 ms, each number with a unit ` +
      `(ms, s, m, h, d), such as 90s, 10m, 1.5h or 1h30m: received ${
        JSON.stringify(text)
      }`,
  );
}

const SIZE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Writes a size for people: `1 GiB`, `1.5 MiB`, `100 B`.
 *
 * @param bytes A number of bytes.
 * @returns It in the largest binary unit it fills, with at most one decimal.
 */
export function formatSize(bytes: number): string {
  let unit = 0;
  while (unit < SIZE_UNITS.length - 1 && bytes >= 1024 ** (unit + 1)) unit++;
  const value = bytes / 1024 ** unit;
  const shown = Number.isInteger(value) ? value : Number(value.toFixed(1));
  return `${shown} ${SIZE_UNITS[unit]}`;
}

/**
 * Writes a duration as {@linkcode parseDuration} reads it: `1h`, `1h30m`,
 * `10s`, `250ms`.
 *
 * @param ms A number of milliseconds.
 * @returns It in days, hours, minutes, seconds and milliseconds, the zero parts left out.
 */
export function formatDuration(ms: number): string {
  let left = Math.floor(ms);
  let text = "";
  for (const unit of ["d", "h", "m", "s", "ms"]) {
    const size = MS[unit]!;
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0) text += `${count}${unit}`;
  }
  return text || "0ms";
}
