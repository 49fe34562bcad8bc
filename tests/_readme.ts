// The README's TypeScript blocks and the programs of examples/ they show,
// for tests/readme_test.ts. Each block's first line names its file
// (`// examples/servers/bun.ts`); the rest is that file as a user writes it:
// without its leading module doc comment, and importing the package by its
// name (`@streamcache/streamcache`, `/fs`, `/http`, as deno.json exports
// them) where the file imports the sources by path.

import { posix } from "node:path";

/** One TypeScript block of the README. */
export interface ReadmeBlock {
  /** The file its first line names, e.g. `examples/open.ts`, or `undefined`. */
  readonly file: string | undefined;
  /** Its lines after the first. */
  readonly code: string;
  /** The README's line where the block starts, for messages. */
  readonly line: number;
}

/** Every ```ts block of `readme`. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  for (const match of readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const [first = "", ...rest] = match[1]!.split("\n");
    const file = /^\/\/ (examples\/\S+\.ts)$/.exec(first)?.[1];
    const line = readme.slice(0, match.index).split("\n").length;
    blocks.push({ file, code: rest.join("\n"), line });
  }
  return blocks;
}

/**
 * How the README shows `source`, the file at `path` (relative to the
 * repository): without the module doc comment it starts with, and with
 * relative imports of the package's entry points (`exports`, deno.json's map)
 * replaced by the package's `name` and subpath.
 */
export function asShown(
  path: string,
  source: string,
  name: string,
  exports: Readonly<Record<string, string>>,
): string {
  const body = source.replace(/^\/\*\*[\s\S]*?@module\s*\*\/\n\n/, "");
  const entries = Object.entries(exports).map(([subpath, file]) =>
    [posix.normalize(file), subpath] as const
  );
  return body.replace(
    /(from\s+")(\.{1,2}\/[^"]+)(")/g,
    (whole, before: string, specifier: string, after: string) => {
      const target = posix.normalize(
        posix.join(posix.dirname(path), specifier),
      );
      const subpath = entries.find(([file]) => file === target)?.[1];
      if (subpath === undefined) return whole;
      return before + name + subpath.slice(1) + after;
    },
  );
}

/**
 * `code` with formatting that `deno fmt` may choose differently for lines of
 * other lengths taken out: all whitespace, and a comma before a closing
 * bracket.
 */
export function unformatted(code: string): string {
  return code.replace(/\s+/g, "").replace(/,([)\]}])/g, "$1");
}
