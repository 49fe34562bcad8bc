/**
 * What a download request asks for, `/downloads/<name>?size=<bytes>&rate=<bytes/s>`,
 * checked against the server's bounds.
 *
 * @module
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The bounds and defaults of the download parameters. */
export const LIMITS = {
  size: { min: 1, max: GiB, default: MiB },
  rate: { min: KiB, max: GiB, default: 256 * KiB },
} as const;

/** The longest name, and what it may contain (it becomes a file name for the client). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const AMOUNT = /^(\d{1,13})([kmg]?)$/i;
const UNITS: Record<string, number> = { "": 1, k: KiB, m: MiB, g: GiB };

/** A valid download request. */
export interface Download {
  /** The report's name, e.g. `q3-sales.csv`. */
  readonly name: string;
  /** Its length in bytes. */
  readonly size: number;
  /** How fast a miss generates it, in bytes per second. */
  readonly rate: number;
  /**
   * The cache key: name and size, which decide the bytes. The rate does
   * not: a request at another rate joins a generation already running.
   */
  readonly key: string;
}

/** What {@linkcode parseDownload} found: a download, or why the request is bad. */
export type ParsedDownload =
  | { readonly ok: true; readonly download: Download }
  | { readonly ok: false; readonly error: string };

/**
 * Reads a download request from its URL. Sizes and rates are whole numbers
 * of bytes, optionally with a binary suffix: `64k`, `10M`, `1G`.
 *
 * @param url The request's URL; its path starts with `/downloads/`.
 * @returns The download, or a message saying what is wrong.
 */
export function parseDownload(url: URL): ParsedDownload {
  const raw = url.pathname.slice("/downloads/".length);
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    name = raw;
  }
  if (!NAME.test(name)) {
    return bad(
      `name must be 1 to 100 letters, digits, ".", "_" or "-", starting with a letter or digit: received ${
        JSON.stringify(name)
      }`,
    );
  }
  for (const param of new Set(url.searchParams.keys())) {
    if (param !== "size" && param !== "rate") {
      return bad(
        `unknown parameter ${JSON.stringify(param)}: use size and rate`,
      );
    }
    if (url.searchParams.getAll(param).length > 1) {
      return bad(`parameter ${param} is given more than once`);
    }
  }
  const size = amount(url.searchParams.get("size"), "size", "bytes");
  if (typeof size === "string") return bad(size);
  const rate = amount(url.searchParams.get("rate"), "rate", "bytes per second");
  if (typeof rate === "string") return bad(rate);
  return {
    ok: true,
    download: { name, size, rate, key: `/downloads/${name}?size=${size}` },
  };
}

/** The value of `size` or `rate`, or a message saying why it is out of bounds. */
function amount(
  text: string | null,
  param: "size" | "rate",
  unit: string,
): number | string {
  const { min, max, default: fallback } = LIMITS[param];
  if (text === null) return fallback;
  const match = AMOUNT.exec(text.trim());
  const value = match
    ? Number(match[1]) * UNITS[match[2]!.toLowerCase()]!
    : NaN;
  if (value >= min && value <= max) return value;
  return `${param} must be a whole number of ${unit} from ${min} to ${max} (suffixes k, M, G multiply by 1024): received ${
    JSON.stringify(text)
  }`;
}

function bad(error: string): ParsedDownload {
  return { ok: false, error: `Bad download request: ${error}` };
}
