// Small tools shared by the tests of the HTTP wrapper (tests/http_*_test.ts).

import type { Handler } from "../src/http/mod.ts";
import { manualSource } from "./_helpers.ts";

export const URL_A = "http://example.test/reports/a.csv";

/** A GET of `url` with `headers`. */
export const get = (url = URL_A, headers: Record<string, string> = {}) =>
  new Request(url, { headers });

/** A HEAD of `url` with `headers`. */
export const head = (url = URL_A, headers: Record<string, string> = {}) =>
  new Request(url, { method: "HEAD", headers });

/** A handler that records its requests and answers with `body()` and `init`. */
export function counting(
  body: () => ConstructorParameters<typeof Response>[0],
  init: ResponseInit = {},
): { handler: Handler; calls: Request[] } {
  const calls: Request[] = [];
  const handler: Handler = (request) => {
    calls.push(request);
    return new Response(body(), init);
  };
  return { handler, calls };
}

/**
 * A handler whose one response body the test feeds by hand, for entries
 * still being generated; `calls` counts its runs.
 */
export function generating(init: ResponseInit = {}) {
  const source = manualSource();
  let calls = 0;
  const handler: Handler = () => {
    calls++;
    return new Response(source.stream, init);
  };
  return {
    handler,
    source,
    get calls() {
      return calls;
    },
  };
}

/** A response's status, headers of interest and body text, read whole. */
export async function summary(
  response: Response,
  names: readonly string[] = [],
): Promise<Record<string, string | number | null>> {
  const out: Record<string, string | number | null> = {
    status: response.status,
  };
  for (const name of names) out[name] = response.headers.get(name);
  out.body = await response.text();
  return out;
}
