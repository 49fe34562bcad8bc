// Process liveness and SHA-256, shared by the Deno and Node adapters: both
// runtimes provide them through node:process and node:crypto.

import { createHash } from "node:crypto";
import process from "node:process";
import type { Hasher } from "./file_system.ts";

/**
 * Whether process `pid` may be running. Only "no such process" (ESRCH) counts
 * as gone: any other failure (EPERM, or Deno without --allow-run) answers
 * "alive", because sweeping a live process's files would fail its entries,
 * while keeping a dead one's only delays reclaiming their space.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ESRCH";
  }
}

export function sha256(): Hasher {
  const hash = createHash("sha256");
  return {
    update: (data) => void hash.update(data),
    digest: () => hash.digest("base64"),
  };
}
