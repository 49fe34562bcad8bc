// Process liveness, process scope and SHA-256, shared by the Deno and Node
// adapters: both runtimes provide them through node:process, node:fs and
// node:crypto.

import { createHash } from "node:crypto";
import { readFile, readlink } from "node:fs/promises";
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

/** Where the kernel tells its boot and this process's PID namespace (Linux). */
export const SCOPE_PATHS = {
  boot: "/proc/sys/kernel/random/boot_id",
  pidNamespace: "/proc/self/ns/pid",
} as const;

/**
 * This kernel boot and PID namespace, e.g. `"1bf9…c143 pid:[4026531836]"`,
 * or `undefined` where there is no such file (not Linux) or no permission.
 */
export async function processScope(): Promise<string | undefined> {
  try {
    const boot = (await readFile(SCOPE_PATHS.boot, "utf8")).trim();
    const namespace = await readlink(SCOPE_PATHS.pidNamespace);
    return boot && namespace ? `${boot} ${namespace}` : undefined;
  } catch {
    return undefined;
  }
}

export function sha256(): Hasher {
  const hash = createHash("sha256");
  return {
    update: (data) => void hash.update(data),
    digest: () => hash.digest("base64"),
  };
}
