// A reader of the Prometheus text exposition format (version 0.0.4), as a
// scraper reads the download server's /metrics: `# HELP` and `# TYPE`
// lines, then one sample per line, `name{label="value",...} number`. Strict
// enough to fail a test on a malformed line, small enough to read.

/** What one scrape gave. */
export interface Scrape {
  /** The type of each metric family, by name: `counter`, `gauge`, ... */
  readonly types: ReadonlyMap<string, string>;
  /** The help text of each metric family, by name. */
  readonly help: ReadonlyMap<string, string>;
  /** Each sample's value, by its name and labels as written, e.g. `x_total{reason="ttl"}`. */
  readonly samples: ReadonlyMap<string, number>;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\]|\\\\.)*"`;
const SAMPLE = new RegExp(
  `^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*)?\\})? (\\S+)(?: -?\\d+)?$`,
);
const META = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`);
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * Parses a scrape; throws on a line that is not a sample, `# HELP` or
 * `# TYPE`, on a sample of a family with no `# TYPE`, and on a sample given
 * twice.
 */
export function parseMetrics(text: string): Scrape {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line === "") continue;
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    const meta = META.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (kind === "TYPE") {
        if (!TYPES.has(rest!)) throw new Error(`unknown type, ${where}`);
        types.set(name!, rest!);
      } else {
        help.set(name!, rest!);
      }
      continue;
    }
    if (line.startsWith("#")) continue; // a comment
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample, ${where}`);
    const [, name, labels = "", value] = sample;
    if (!types.has(name!)) throw new Error(`a sample with no # TYPE, ${where}`);
    const key = name! + labels;
    if (samples.has(key)) throw new Error(`a sample given twice, ${where}`);
    const number = Number(value);
    if (Number.isNaN(number) && value !== "NaN") {
      throw new Error(`not a number, ${where}`);
    }
    samples.set(key, number);
  }
  return { types, help, samples };
}

/** The value of sample `key` (name and labels as written), or a clear error. */
export function sample(scrape: Scrape, key: string): number {
  const value = scrape.samples.get(key);
  if (value === undefined) {
    throw new Error(
      `no sample ${key}; the scrape has ${
        [...scrape.samples.keys()].join(", ")
      }`,
    );
  }
  return value;
}
