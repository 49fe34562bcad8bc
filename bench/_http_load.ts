/**
 * The load generator bench/http.ts uses for large downloads, where
 * autocannon cannot go: its HTTP parser (http-parser-js) builds a string of
 * each body and fails with "Invalid string length" on a 1 GiB response. This
 * one, on `node:http`, counts the bytes of each body as they arrive and
 * keeps none of them.
 *
 * `connections` keep-alive connections each download the URL again and
 * again for `duration` seconds. A response must be a 200 carrying exactly
 * `size` bytes, or it counts as an error. The bytes of a download still
 * running at the deadline count towards the throughput (they crossed the
 * wire in the timed span); its request does not, and it is cut off.
 *
 * @module
 */

import http from "node:http";

/** What one run measured, in the shape of autocannon's result. */
export interface StreamingLoadResult {
  requests: { total: number };
  throughput: { total: number };
  /** Time to the last byte of each complete download, in ms. */
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/**
 * Loads `url` with `connections` connections for `duration` seconds.
 *
 * @param options The URL, the number of connections, the duration in
 * seconds and the expected body size in bytes.
 */
export async function streamingLoad(options: {
  url: string;
  connections: number;
  duration: number;
  size: number;
}): Promise<StreamingLoadResult> {
  const { url, connections, duration, size } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const deadline = performance.now() + duration * 1000;
  const latencies: number[] = [];
  const open = new Set<http.ClientRequest>();
  let bytes = 0;
  let errors = 0;
  let non2xx = 0;

  const download = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const request = http.get(url, { agent }, (response) => {
        let body = 0;
        response.on("data", (chunk: Uint8Array) => {
          body += chunk.byteLength;
          bytes += chunk.byteLength;
        });
        response.on("end", () => {
          open.delete(request);
          if (response.statusCode !== 200) non2xx++;
          else if (body !== size) errors++;
          else latencies.push(performance.now() - started);
          resolve();
        });
        // Cut off at the deadline: neither an error nor a request.
        response.on("close", () => {
          open.delete(request);
          resolve();
        });
      });
      open.add(request);
      request.on("error", () => {
        // A request cut off at the deadline is not an error.
        if (open.delete(request)) errors++;
        resolve();
      });
    });

  const worker = async () => {
    while (performance.now() < deadline) await download();
  };
  const timer = setTimeout(() => {
    for (const request of open) {
      open.delete(request);
      request.destroy();
    }
  }, duration * 1000);
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    clearTimeout(timer);
    agent.destroy();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies.length
      ? Math.round(
        latencies[
          Math.min(latencies.length - 1, Math.floor(q * latencies.length))
        ]!,
      )
      : NaN;
  return {
    requests: { total: latencies.length },
    throughput: { total: bytes },
    latency: { p50: at(0.5), p99: at(0.99) },
    errors,
    timeouts: 0,
    non2xx,
  };
}
