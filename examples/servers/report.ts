/**
 * What the server recipes cache: a CSV report of 1 MiB, made at 256 KiB/s
 * (4 s), named by the last segment of the URL's path. It stands in for
 * expensive work (a query, a render, a zip); each recipe makes it once per
 * URL and streams it to every client that asks meanwhile. The bytes are the
 * download server's report (`reportBytes(name, REPORT_SIZE)` in
 * ../download_server/generate.ts), so a client can check them.
 *
 * @module
 */

import { generateReport } from "../download_server/generate.ts";

/** The report's length in bytes. */
export const REPORT_SIZE = 1 << 20;
/** How fast it is made, in bytes per second. */
export const REPORT_RATE = 256 << 10;

/**
 * Makes the report `request` names, slowly, and logs that it does.
 *
 * @param request A GET request; its signal stops the work.
 * @returns The report, with its length declared.
 */
export function report(request: Request): Response {
  const path = new URL(request.url).pathname;
  const name = path.slice(path.lastIndexOf("/") + 1).replace(/[^\w.-]/g, "_") ||
    "report.csv";
  console.log(`generating ${name}`);
  const body = generateReport(name, REPORT_SIZE, {
    rate: REPORT_RATE,
    signal: request.signal,
  });
  return new Response(body, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-length": String(REPORT_SIZE),
    },
  });
}
