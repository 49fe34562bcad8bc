// Parsing of Cache-Control (RFC 9111, section 5.2): a comma-separated list of
// directives, each a token with an optional `=token` or `=quoted-string`
// argument. Names are case-insensitive; commas inside a quoted string do not
// split. The first occurrence of a directive wins.

/** Directive name (lower case) → its argument, or `true` when it has none. */
export type Directives = ReadonlyMap<string, string | true>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** The directives of one or more Cache-Control field values (`null`: none). */
export function parseCacheControl(value: string | null): Directives {
  const directives = new Map<string, string | true>();
  if (value === null) return directives;
  let rest = value;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, "");
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) {
      rest = skipItem(rest); // not a directive: skip to the next comma
      continue;
    }
    rest = rest.slice(name.length);
    let argument: string | true = true;
    if (rest.startsWith("=")) {
      rest = rest.slice(1);
      if (rest.startsWith('"')) {
        const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
        if (!quoted) break; // an unterminated quoted string ends the field
        argument = quoted[1]!.replace(/\\(.)/g, "$1");
        rest = rest.slice(quoted[0].length);
      } else {
        argument = TOKEN.exec(rest)?.[0] ?? "";
        rest = rest.slice(argument.length);
      }
    }
    if (!/^\s*(,|$)/.test(rest)) {
      rest = skipItem(rest); // trailing garbage: the directive is invalid
      continue;
    }
    const key = name.toLowerCase();
    if (!directives.has(key)) directives.set(key, argument);
  }
  return directives;
}

/** The field names a qualified `no-cache="a, b"` or `private="a"` lists, in lower case. */
export function listedFields(argument: string | true | undefined): string[] {
  if (typeof argument !== "string") return [];
  return argument.split(",").map((name) => name.trim().toLowerCase()).filter(
    Boolean,
  );
}

/** `rest` after the current list item (quoted strings included). */
function skipItem(rest: string): string {
  const item = /^(?:[^,"]|"(?:[^"\\]|\\.)*"?)*/.exec(rest)?.[0] ?? "";
  return rest.slice(Math.max(item.length, 1));
}
