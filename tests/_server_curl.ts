// curl, the real client of tests/server_e2e_test.ts: the system's
// /usr/bin/curl. Where it is missing, the curl tests skip with a reason on a
// developer's machine and fail under CI (CI=true): .ci/run installs it.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";

export const CURL = "/usr/bin/curl";

/**
 * Why the curl tests cannot run here, or `false` if they can. Under CI a
 * missing curl is a failure, never a skip.
 */
export function curlSkipReason(): string | false {
  if (existsSync(CURL) || process.env.CI === "true") return false;
  return `${CURL} is missing (apt-get install -y curl); CI fails here`;
}

/** Fails with a clear message if curl is missing (under CI, where nothing skips). */
export function assertCurl(): void {
  if (!existsSync(CURL)) {
    throw new Error(
      `${CURL} is missing: the end-to-end tests need curl; .ci/run must run \`apt-get install -y curl\``,
    );
  }
}

/** What one curl run gave. */
export interface CurlResult {
  readonly code: number | null;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

/** Runs curl with `args`; resolves when it exits, with its exit code and output. */
export function curl(args: readonly string[]): Promise<CurlResult> {
  assertCurl();
  return new Promise((resolve, reject) => {
    const child = spawn(CURL, ["--silent", "--show-error", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: Uint8Array[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => stderr += text);
    child.on("error", reject);
    child.on("close", (code) => {
      const stdout = new Uint8Array(
        chunks.reduce((n, c) => n + c.byteLength, 0),
      );
      let at = 0;
      for (const chunk of chunks) {
        stdout.set(chunk, at);
        at += chunk.byteLength;
      }
      resolve({ code, stdout, stderr });
    });
  });
}
