// Vary (RFC 9110 12.5.5, RFC 9111 4.1). One request header has few enough
// values to key a shared cache by: Accept-Encoding. A response that varies by
// it alone is stored for the normalised Accept-Encoding of the request that
// made it; a request with another one gets (and, if missing, makes) the
// variant for its own, under a key of its own, so concurrent requests run
// one handler call per variant. A response that varies by any other field,
// or by `*`, is not stored by default.

/** What a response's Vary says. */
export type VaryKind = "none" | "accept-encoding" | "other";

/** Whether a response varies by nothing, by Accept-Encoding alone, or by more. */
export function varyKind(headers: Headers): VaryKind {
  const names = new Set(
    (headers.get("vary") ?? "").split(",").map((name) =>
      name.trim().toLowerCase()
    ).filter(Boolean),
  );
  if (names.size === 0) return "none";
  if (names.size === 1 && names.has("accept-encoding")) {
    return "accept-encoding";
  }
  return "other";
}

/**
 * The normalised form of an Accept-Encoding field value: the codings it
 * accepts (q > 0) in lower case, without duplicates or `identity` (always
 * acceptable unless refused), sorted and comma-separated; then `-identity`
 * or `-*` when it refuses those (q=0). An absent field is `""`.
 * `"gzip, deflate, br;q=0.5"` and `"BR, gzip;q=1, deflate"` are the same.
 */
export function acceptEncodingVariant(value: string | null): string {
  const accepted = new Set<string>();
  const refused = new Set<string>();
  for (const item of (value ?? "").split(",")) {
    const [coding = "", ...params] = item.split(";");
    const name = coding.trim().toLowerCase();
    if (name === "") continue;
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
      if (match) q = Number(match[1]);
    }
    if (q > 0) {
      if (name !== "identity") accepted.add(name);
    } else if (name === "identity" || name === "*") refused.add(`-${name}`);
  }
  return [...[...accepted].sort(), ...[...refused].sort()].join(",");
}

/** The cache key of the variant `variant` of the entry `id` stored under `key`. */
export function variantKey(key: string, id: string, variant: string): string {
  return `${key}\u0000vary:${id}\u0000accept-encoding=${variant}`;
}
